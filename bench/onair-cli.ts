import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/**
 * Node arguments that run onair's CLI from source on loopback, as every benchmark and stress test
 * starts it. `extraArgs` follow the host and ports; `root` picks another checkout's CLI.
 */
export function onairCliArgs(
  ports: { rtmp: number; flv: number },
  extraArgs: string[] = [],
  root = repoRoot,
): string[] {
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
    ...extraArgs,
  ];
}
