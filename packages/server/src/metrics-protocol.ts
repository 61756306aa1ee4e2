import type { StreamInfo } from "@onair/core";

/**
 * What kind of reader or writer a {@link StreamInfo} belongs to, from the id prefix each package
 * gives it ("rtmp-play-7", "http-flv-3", "flv-record-2", ...). The answer is one of a fixed set,
 * so it is safe as a metric label: nothing a client sends can add a value.
 */
export type StreamProtocol =
  | "rtmp"
  | "rtmps"
  | "http-flv"
  | "ws-flv"
  | "hls"
  | "record"
  | "relay"
  | "file"
  | "other";

const PREFIXES: readonly (readonly [string, StreamProtocol])[] = [
  ["rtmp-", "rtmp"],
  ["http-flv-", "http-flv"],
  ["ws-flv-", "ws-flv"],
  ["hls-", "hls"],
  ["flv-record-", "record"],
  ["relay-", "relay"],
  ["flv-file-", "file"],
];

export function streamProtocol(info: StreamInfo): StreamProtocol {
  for (const [prefix, protocol] of PREFIXES) {
    if (!info.id.startsWith(prefix)) continue;
    // An RTMP session's url carries the scheme the client connected with (its tcUrl's).
    if (protocol === "rtmp" && info.url.startsWith("rtmps:")) return "rtmps";
    return protocol;
  }
  return "other";
}

/** Publishers and players that are a client's connection (not a recorder, segmenter or relay). */
export function isClientProtocol(protocol: StreamProtocol): boolean {
  return protocol === "rtmp" || protocol === "rtmps" || protocol === "http-flv" || protocol === "ws-flv";
}

/**
 * A reader's or writer's URL as logs and `/stat/livestat` show it. A relay pushing elsewhere has
 * the remote stream name last in its URL, and in livego's model (this server's own) that name is
 * the remote channel's publishing key: it is shown as "…" ("rtmp://edge:1935/live/…").
 */
export function shownUrl(info: StreamInfo): string {
  return info.id.startsWith("relay-push-") ? info.url.replace(/\/[^/]*$/, "/…") : info.url;
}
