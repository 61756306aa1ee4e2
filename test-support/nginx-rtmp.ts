/** A real nginx with libnginx-mod-rtmp on a loopback port, for interop tests. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { freePort, hasCommand, requireTool, run, tempDir } from "./media-tools.js";

export const NGINX_RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so";
export const hasNginxRtmp = requireTool(
  "nginx with libnginx-mod-rtmp",
  hasCommand("nginx") && existsSync(NGINX_RTMP_MODULE),
);

export interface NginxRtmp {
  port: number;
  /** The error log (debug level). */
  log: () => string;
  stop: () => Promise<void>;
}

/** Resolves once something accepts TCP connections on `port`. */
export async function waitForListening(port: number, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() - start > timeoutMs) throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Start nginx-rtmp with `application live { live on; }` (plus `extraApplication` config if given). */
export async function startNginxRtmp(extraApplication = ""): Promise<NginxRtmp> {
  const dir = tempDir("onair-nginx-");
  const port = await freePort();
  const errorLog = join(dir.path, "error.log");
  // nginx opens <prefix>/logs/error.log before it reads the config.
  mkdirSync(join(dir.path, "logs"));
  const config = join(dir.path, "nginx.conf");
  writeFileSync(
    config,
    [
      `load_module ${NGINX_RTMP_MODULE};`,
      "daemon off;",
      "master_process off;",
      `error_log ${errorLog} debug;`,
      `pid ${join(dir.path, "nginx.pid")};`,
      "events {}",
      `rtmp { server { listen 127.0.0.1:${port}; application live { live on; ${extraApplication} } } }`,
      "",
    ].join("\n"),
  );
  const nginx = run("nginx", ["-c", config, "-p", dir.path]);
  const exitedEarly = nginx.exited.then((code) => {
    throw new Error(`nginx exited (${code}):\n${nginx.stderr().slice(-3000)}`);
  });
  await Promise.race([waitForListening(port), exitedEarly]);
  exitedEarly.catch(() => {});
  return {
    port,
    log: () => (existsSync(errorLog) ? readFileSync(errorLog, "utf8") : ""),
    stop: async () => {
      nginx.kill();
      await nginx.exited;
      dir.remove();
    },
  };
}
