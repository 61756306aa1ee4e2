import { parseArgs } from "node:util";
import { DEFAULT_BATCH_WINDOW_MS, type StreamHubOptions } from "@onair/core";
import type { OnairServerOptions } from "./onair-server.js";

export const USAGE = `Usage: onair [options]

  --host <address>      address to listen on (default 0.0.0.0)
  --rtmp-port <port>    RTMP port (default 1935)
  --flv-port <port>     HTTP-FLV and WebSocket-FLV port (default 7001)
  --flv-dir <dir>       record every stream to DIR/APP/NAME-<time>.flv (default off)
  --gop-cache <n>       GOPs kept for late players (default 1)
  --batch-window <ms>   write batching window per player, 0 = immediate (default 100)
  --gop-cache-bytes <n> payload bytes the GOP cache of a stream may hold (default 8388608)
  --republish-grace <ms>  keep players this long for a publisher to come back, 0 = end them (default 10000)
  --publisher-idle-timeout <ms>  close a publisher that sends nothing this long, 0 = off (default 15000)
  --max-streams <n>     live streams accepted (default 1000)
  --max-players <n>     players per stream (default 10000)
  --max-connections <n> connections per protocol server, RTMP and HTTP-FLV each
                        (default 10000 RTMP, 5000 HTTP-FLV/WS-FLV)
  --max-connections-per-ip <n>  connections from one address to each server, loopback
                        exempt (default 256)
  --expose-addresses    show players' and publishers' addresses in GET /streams (default off)
  -h, --help            show this help
`;

function port(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new Error(`${flag} must be a port number, got "${value}"`);
  return n;
}

function count(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a whole number, got "${value}"`);
  return n;
}

function positive(value: string, flag: string): number {
  const n = count(value, flag, 0);
  if (n === 0) throw new Error(`${flag} must be at least 1, got "${value}"`);
  return n;
}

/** `{ [option]: n }` when the flag is given, `{}` when not. */
function optionalCount(
  value: string | undefined,
  flag: string,
  option: keyof StreamHubOptions,
): Partial<StreamHubOptions> {
  return value === undefined ? {} : { [option]: count(value, flag, 0) };
}

/** Parse CLI flags into server options; throws with a message for bad values. */
export function parseCliOptions(
  argv: string[],
): { help: true } | { help: false; options: OnairServerOptions } {
  // `pnpm start -- --flag` passes the "--" through; it means nothing here.
  const args = argv[0] === "--" ? argv.slice(1) : argv;
  const { values } = parseArgs({
    args,
    options: {
      host: { type: "string" },
      "rtmp-port": { type: "string" },
      "flv-port": { type: "string" },
      "flv-dir": { type: "string" },
      "gop-cache": { type: "string" },
      "batch-window": { type: "string" },
      "gop-cache-bytes": { type: "string" },
      "republish-grace": { type: "string" },
      "publisher-idle-timeout": { type: "string" },
      "max-streams": { type: "string" },
      "max-players": { type: "string" },
      "max-connections": { type: "string" },
      "max-connections-per-ip": { type: "string" },
      "expose-addresses": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help === true) return { help: true };
  // The same connection limits for each protocol server, given only when set so that each
  // server's own documented defaults apply otherwise.
  const connectionLimits = {
    ...(values["max-connections"] === undefined
      ? {}
      : { maxConnections: positive(values["max-connections"], "--max-connections") }),
    ...(values["max-connections-per-ip"] === undefined
      ? {}
      : {
          maxConnectionsPerIp: positive(values["max-connections-per-ip"], "--max-connections-per-ip"),
        }),
  };
  const flv = {
    ...connectionLimits,
    ...(values["expose-addresses"] === true ? { exposeAddresses: true } : {}),
  };
  return {
    help: false,
    options: {
      host: values.host ?? "0.0.0.0",
      rtmpPort: port(values["rtmp-port"], "--rtmp-port", 1935),
      flvPort: port(values["flv-port"], "--flv-port", 7001),
      ...(values["flv-dir"] === undefined ? {} : { flvDir: values["flv-dir"] }),
      ...(Object.keys(connectionLimits).length === 0 ? {} : { rtmp: connectionLimits }),
      ...(Object.keys(flv).length === 0 ? {} : { flv }),
      hub: {
        gopCache: count(values["gop-cache"], "--gop-cache", 1),
        batchWindowMs: count(values["batch-window"], "--batch-window", DEFAULT_BATCH_WINDOW_MS),
        // Given only when set, so the hub's own documented defaults apply otherwise.
        ...optionalCount(values["gop-cache-bytes"], "--gop-cache-bytes", "gopCacheMaxBytes"),
        ...optionalCount(values["republish-grace"], "--republish-grace", "republishGraceMs"),
        ...optionalCount(
          values["publisher-idle-timeout"],
          "--publisher-idle-timeout",
          "publisherIdleTimeoutMs",
        ),
        ...optionalCount(values["max-streams"], "--max-streams", "maxStreams"),
        ...optionalCount(values["max-players"], "--max-players", "maxPlayersPerStream"),
      },
    },
  };
}
