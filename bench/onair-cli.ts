import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/**
 * Node arguments that run onair's CLI from source on loopback, as every benchmark and stress test
 * starts it. `extraArgs` follow the host and ports; `root` picks another checkout's CLI.
 *
 * Publishing is open (`--rtmp-noauth`: no channel keys), and HLS and the control API are off unless
 * `ports.hls` / `ports.api` are given, so a run measures what it names (RTMP and HTTP-FLV) and
 * parallel servers take no fixed ports. Checkouts from before the ready server's config (no
 * packages/server/src/config.ts) get the host and ports only.
 */
export function onairCliArgs(
  ports: { rtmp: number; flv: number; hls?: number; api?: number },
  extraArgs: string[] = [],
  root = repoRoot,
): string[] {
  const configurable = existsSync(join(root, "packages/server/src/config.ts"));
  return [
    "--conditions=source",
    "--import",
    "tsx",
    join(root, "packages/server/src/cli.ts"),
    "--host",
    "127.0.0.1",
    "--rtmp-port",
    String(ports.rtmp),
    "--flv-port",
    String(ports.flv),
    ...(configurable
      ? [
          "--rtmp-noauth",
          ...(ports.hls === undefined ? ["--no-hls"] : ["--hls-port", String(ports.hls)]),
          ...(ports.api === undefined ? ["--no-api"] : ["--api-port", String(ports.api)]),
        ]
      : []),
    ...extraArgs,
  ];
}
