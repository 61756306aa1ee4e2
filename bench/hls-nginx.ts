/**
 * nginx-rtmp's HLS as a benchmark anchor: the rtmp module writes TS segments and the playlist to a
 * directory on tmpfs (/dev/shm), and the same nginx process serves that directory over HTTP, as an
 * nginx-rtmp HLS deployment does. One process (`master_process off`), so its CPU is all of it.
 *
 * `startNginxHls({ fragmentS })` → playlist at `http://127.0.0.1:PORT/hls/NAME.m3u8`, publish to
 * `rtmp://127.0.0.1:RTMP_PORT/live/NAME`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../test-support/media-tools.js";
import { NGINX_RTMP_MODULE, waitForListening } from "../test-support/nginx-rtmp.js";

export interface NginxHls {
  name: string;
  pid: number;
  rtmpUrl: (stream: string) => string;
  playlistUrl: (stream: string) => string;
  stop: () => Promise<void>;
}

export interface NginxHlsOptions {
  /** hls_fragment in seconds; undefined: nginx-rtmp's default (5 s). */
  fragmentS?: number;
  /** hls_playlist_length in seconds; undefined: nginx-rtmp's default (30 s). */
  playlistLengthS?: number;
  /** Wrap the command (e.g. `taskset -c 0`); default none. */
  wrap?: (command: string, args: string[]) => [string, string[]];
}

/** Start nginx with libnginx-mod-rtmp writing HLS to /dev/shm and serving it over HTTP. */
export async function startNginxHls(options: NginxHlsOptions = {}): Promise<NginxHls> {
  const work = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : "/tmp", "onair-bench-nginx-hls-"));
  mkdirSync(join(work, "logs"));
  mkdirSync(join(work, "www", "hls"), { recursive: true });
  const rtmpPort = await freePort();
  const httpPort = await freePort();
  const hls = [
    "hls on;",
    `hls_path ${join(work, "www", "hls")};`,
    ...(options.fragmentS === undefined ? [] : [`hls_fragment ${options.fragmentS}s;`]),
    ...(options.playlistLengthS === undefined ? [] : [`hls_playlist_length ${options.playlistLengthS}s;`]),
  ].join(" ");
  writeFileSync(
    join(work, "nginx.conf"),
    [
      `load_module ${NGINX_RTMP_MODULE};`,
      "daemon off;",
      "master_process off;",
      "worker_rlimit_nofile 20000;",
      `error_log ${join(work, "error.log")} error;`,
      `pid ${join(work, "nginx.pid")};`,
      "events { worker_connections 8192; }",
      `rtmp { server { listen 127.0.0.1:${rtmpPort}; chunk_size 4096; application live { live on; ${hls} } } }`,
      "http {",
      "  access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;",
      "  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }",
      `  server { listen 127.0.0.1:${httpPort};`,
      `    location /hls/ { root ${join(work, "www")}; add_header Cache-Control no-cache; add_header Access-Control-Allow-Origin *; }`,
      "  }",
      "}",
      "",
    ].join("\n"),
  );
  const [file, argv] = (options.wrap ?? ((c, a) => [c, a]))("nginx", [
    "-c",
    join(work, "nginx.conf"),
    "-p",
    work,
  ]);
  const child: ChildProcess = spawn(file, argv, { stdio: ["ignore", "ignore", "inherit"] });
  await Promise.all([waitForListening(rtmpPort, 10_000), waitForListening(httpPort, 10_000)]);
  return {
    name: `nginx-rtmp HLS (${options.fragmentS === undefined ? "default 5 s" : `${options.fragmentS} s`} fragments)`,
    pid: child.pid as number,
    rtmpUrl: (stream) => `rtmp://127.0.0.1:${rtmpPort}/live/${stream}`,
    playlistUrl: (stream) => `http://127.0.0.1:${httpPort}/hls/${stream}.m3u8`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(work, { recursive: true, force: true });
    },
  };
}
