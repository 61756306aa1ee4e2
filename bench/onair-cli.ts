import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Node arguments that run onair's CLI from source on loopback, as every benchmark starts it. */
export function onairCliArgs(ports: { rtmp: number; flv: number }, batchWindowMs: number): string[] {
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
    "--batch-window",
    String(batchWindowMs),
  ];
}
