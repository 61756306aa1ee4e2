import type { StreamHub, StreamInfo } from "@onair/core";
import { shownUrl } from "../metrics-protocol.js";

/**
 * One publisher or player in `/stat/livestat`, with livego's field names. Byte totals are media
 * payload bytes (FLV tag bodies: what the publisher sent and each player was given, without RTMP
 * or HTTP framing); speeds are kbit/s averaged since the publisher or player started.
 */
export interface LiveStatEntry {
  /** The stream key "APP/ROOM". */
  key: string;
  /**
   * Where it came from or goes to (a publisher's URL carries the room, never its key; a relay
   * push's remote stream name, a key in livego's model, shows as "…").
   */
  url: string;
  /** onair's reader/writer id ("rtmp-pub-3"); livego gave its RTMP stream number. */
  stream_id: string;
  video_total_bytes: number;
  /** kbit/s */
  video_speed: number;
  audio_total_bytes: number;
  /** kbit/s */
  audio_speed: number;
}

export interface LiveStat {
  publishers: LiveStatEntry[];
  players: LiveStatEntry[];
}

/** kbit/s of `bytes` over the time since `since` (at least one second, so a fresh join does not spike). */
function kbps(bytes: number, since: number, now: number): number {
  const seconds = Math.max(1, (now - since) / 1000);
  return Math.round((bytes * 8) / 1000 / seconds);
}

function entry(
  info: StreamInfo,
  key: string,
  counts: { videoBytes: number; audioBytes: number },
  since: number,
  now: number,
): LiveStatEntry {
  return {
    key,
    url: shownUrl(info),
    stream_id: info.id,
    video_total_bytes: counts.videoBytes,
    video_speed: kbps(counts.videoBytes, since, now),
    audio_total_bytes: counts.audioBytes,
    audio_speed: kbps(counts.audioBytes, since, now),
  };
}

/**
 * Every publisher and player the hub has (RTMP, HTTP-FLV, WS-FLV, the HLS segmenter, relays,
 * recorders: each reader and writer), with their byte counters; only those of streams named
 * `room` (in any app) when it is given.
 */
export function liveStat(hub: StreamHub, room?: string, now = Date.now()): LiveStat {
  const publishers: LiveStatEntry[] = [];
  const players: LiveStatEntry[] = [];
  for (const stats of hub.stats()) {
    if (room !== undefined && stats.key.slice(stats.key.indexOf("/") + 1) !== room) continue;
    const publisher = stats.publisherStats;
    if (publisher !== undefined) {
      publishers.push(entry(publisher.info, stats.key, publisher, publisher.startedAt, now));
    }
    for (const player of stats.playerStats) {
      players.push(entry(player.info, stats.key, player, player.joinedAt, now));
    }
  }
  return { publishers, players };
}
