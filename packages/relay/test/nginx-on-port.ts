/** nginx-rtmp on a port chosen by the test, so it can be stopped and started again on the same one. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, tempDir } from "../../../test-support/media-tools.js";
import { NGINX_RTMP_MODULE, waitForListening } from "../../../test-support/nginx-rtmp.js";

export interface NginxOnPort {
  stop: () => Promise<void>;
}

/** Start nginx with `application live { live on; }` on 127.0.0.1:`port`. */
export async function startNginxOnPort(port: number): Promise<NginxOnPort> {
  const dir = tempDir("onair-relay-nginx-");
  mkdirSync(join(dir.path, "logs"));
  const config = join(dir.path, "nginx.conf");
  writeFileSync(
    config,
    [
      `load_module ${NGINX_RTMP_MODULE};`,
      "daemon off;",
      "master_process off;",
      `error_log ${join(dir.path, "error.log")} info;`,
      `pid ${join(dir.path, "nginx.pid")};`,
      "events {}",
      `rtmp { server { listen 127.0.0.1:${port}; application live { live on; } } }`,
      "",
    ].join("\n"),
  );
  const nginx = run("nginx", ["-c", config, "-p", dir.path]);
  const exitedEarly = nginx.exited.then((code) => {
    throw new Error(`nginx exited (${code}):\n${nginx.stderr().slice(-3000)}`);
  });
  exitedEarly.catch(() => {});
  await Promise.race([waitForListening(port), exitedEarly]);
  return {
    stop: async () => {
      nginx.kill();
      await nginx.exited;
      dir.remove();
    },
  };
}
