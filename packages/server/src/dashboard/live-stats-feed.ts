import type { ServerResponse } from "node:http";
import type { MediaPacket, StreamHub, StreamInfo } from "@onair/core";
import createDebug from "debug";
import { isClientProtocol, shownUrl, streamProtocol } from "../metrics-protocol.js";
import { describeStream, type StreamDescription } from "./stream-description.js";

const debug = createDebug("onair:server:dashboard");

/** A relay as the feed lists it (`RelayRegistry.list()` of @onair/relay fits). */
export interface FeedRelay {
  kind: "pull" | "push";
  key: string;
  url: string;
  state: string;
  attempts: number;
  since: number;
  lastError?: string;
}

/** Where viewers reach this server's media listeners; the dashboard's preview plays from there. */
export interface MediaEndpoints {
  /** HTTP-FLV and WS-FLV port. */
  flvPort?: number;
  /** HLS port (absent when HLS is off). */
  hlsPort?: number;
  /** RTMP port, for the publish hint. */
  rtmpPort?: number;
  /**
   * The address a listener is bound to when it is one address (not 0.0.0.0 or ::): the page plays
   * from there instead of the host it was loaded from.
   */
  flvHost?: string;
  hlsHost?: string;
}

export interface LiveStatsFeedOptions {
  hub: StreamHub;
  /** Running relays, listed in each sample. */
  relays?: { list(): FeedRelay[] };
  /** Sent in the `hello` event; read when a page connects (ports are known after listen). */
  endpoints?: () => MediaEndpoints;
  /** Sampling interval in ms. Default 1000. */
  intervalMs?: number;
  /** Samples of history kept per stream and sent to a page when it connects. Default 300 (5 min at 1 s). */
  historySamples?: number;
  /** Pages connected at once; one more gets 503. Default 32. */
  maxClients?: number;
  /** Players listed per stream in a sample (`playerCount` counts them all). Default 50. */
  maxPlayersListed?: number;
  /** A page whose unsent bytes pass this is dropped (its EventSource reconnects). Default 1 MiB. */
  maxClientBufferBytes?: number;
  /** The clock; for tests. Default `Date.now`. */
  now?: () => number;
}

/** One player of a stream in a `stats` sample. */
export interface FeedPlayer {
  id: string;
  /** "rtmp", "rtmps", "http-flv", "ws-flv", "hls" (the segmenter), "record", "relay", "other". */
  protocol: string;
  /** The peer's "ip:port", when it has one. */
  address: string | null;
  url: string;
  /** When it joined, ms since the epoch. */
  since: number;
  /** Payload bytes given to it since it joined. */
  bytes: number;
  /** kbit/s given to it over the last interval. */
  kbps: number;
  /** Bytes queued for it now (a slow player grows this). */
  bufferedBytes: number;
}

/** One stream in a `stats` sample. */
export interface FeedStream {
  key: string;
  app: string;
  name: string;
  /** Has a publisher now (false while players wait for one, or during the republish grace). */
  live: boolean;
  publisher: {
    id: string;
    protocol: string;
    address: string | null;
    url: string;
    /** When it took the stream, ms since the epoch. */
    since: number;
  } | null;
  /** Seconds since the current publisher took the stream. */
  uptimeS: number;
  video: StreamDescription["video"] | null;
  audio: StreamDescription["audio"] | null;
  encoder: string | null;
  /** Video frames per second received, measured over the last five intervals. */
  fps: number;
  /** Inbound kbit/s over the last interval: all, video, audio (payload bytes). */
  kbpsIn: number;
  videoKbps: number;
  audioKbps: number;
  /** Payload bytes received since the stream was made, and given to its players. */
  bytesIn: number;
  bytesOut: number;
  /**
   * Viewers connected now: RTMP, RTMPS, HTTP-FLV and WS-FLV players. HLS viewers fetch files and
   * hold no connection to a stream, so they are not counted (the HLS segmenter is one writer).
   */
  playerCount: number;
  /** Every writer of the stream: the viewers, and the HLS segmenter, recorders and push relays. */
  writerCount: number;
  /** The first `maxPlayersListed` writers, in the order they joined. */
  players: FeedPlayer[];
}

/** The `stats` event: sent to every page once per interval. */
export interface FeedSample {
  time: number;
  server: {
    streams: number;
    live: number;
    /** Viewers of every stream (as `playerCount`). */
    players: number;
    kbpsIn: number;
    kbpsOut: number;
    bytesIn: number;
    bytesOut: number;
    refused: number;
    slowPlayerSkips: number;
  };
  streams: FeedStream[];
  relays: FeedRelay[];
}

/** The `history` event: sent once when a page connects, oldest first; null where a stream had no sample. */
export interface FeedHistory {
  intervalMs: number;
  time: number[];
  streams: Record<string, { kbpsIn: (number | null)[]; players: (number | null)[] }>;
}

/** The `hello` event: the first one a page gets. */
export interface FeedHello {
  version: 1;
  intervalMs: number;
  historySamples: number;
  endpoints: MediaEndpoints;
}

/** What the feed remembers of a stream between samples. */
interface Series {
  kbps: Float64Array;
  players: Float64Array;
  bytes: number;
  videoBytes: number;
  audioBytes: number;
  /** Cumulative video packets at the last five samples, and their times, for the frame rate. */
  frameCounts: number[];
  frameTimes: number[];
  /** The headers described last time, and what they gave (described again only when they change). */
  headers: [MediaPacket | undefined, MediaPacket | undefined, MediaPacket | undefined];
  description: StreamDescription;
  /** Bytes given to each player at the last sample, by writer id. */
  playerBytes: Map<string, number>;
}

const FPS_WINDOW = 5;
const kbps = (bytes: number, ms: number): number => (ms <= 0 ? 0 : Math.round((bytes * 8) / ms));

/**
 * The dashboard's stats stream: one sampler per server that reads the hub once an interval and
 * sends the same JSON to every connected page as Server-Sent Events (`hello` and `history` on
 * connect, then `stats` every interval). Between pages nothing is computed twice: a sample is
 * serialized once and written to each.
 */
export class LiveStatsFeed {
  readonly intervalMs: number;
  readonly historySamples: number;
  readonly #options: LiveStatsFeedOptions;
  readonly #now: () => number;
  readonly #clients = new Set<ServerResponse>();
  readonly #series = new Map<string, Series>();
  readonly #times: Float64Array;
  #head = 0;
  #count = 0;
  #lastTime: number;
  #lastTotals: { bytesIn: number; bytesOut: number };
  #timer: NodeJS.Timeout | undefined;
  #latest: FeedSample | undefined;
  #closed = false;

  constructor(options: LiveStatsFeedOptions) {
    this.#options = options;
    this.intervalMs = Math.max(50, options.intervalMs ?? 1000);
    this.historySamples = Math.max(2, Math.floor(options.historySamples ?? 300));
    this.#now = options.now ?? Date.now;
    this.#times = new Float64Array(this.historySamples);
    this.#lastTime = this.#now();
    const counters = options.hub.counters();
    this.#lastTotals = { bytesIn: counters.bytesIn, bytesOut: counters.bytesOut };
    this.#timer = setInterval(() => this.sample(), this.intervalMs);
    this.#timer.unref();
  }

  /** Pages connected now. */
  get clients(): number {
    return this.#clients.size;
  }

  /** The last sample taken (undefined before the first interval). */
  get latest(): FeedSample | undefined {
    return this.#latest;
  }

  /**
   * Take a sample now: update every stream's history and send `stats` to every page. The timer
   * calls it once an interval; tests call it directly.
   */
  sample(): FeedSample {
    const now = this.#now();
    const previous = this.#lastTime;
    const elapsed = now - previous;
    this.#lastTime = now;
    const { hub } = this.#options;
    const slot = this.#head;
    this.#times[slot] = now;
    const seen = new Set<string>();
    const streams: FeedStream[] = [];
    let players = 0;
    for (const stream of hub.streams()) {
      const stat = stream.stats();
      seen.add(stat.key);
      let series = this.#series.get(stat.key);
      if (series === undefined) {
        // A stream made since the last sample counts from zero; one that was there before the
        // feed (a dashboard added to a running hub) from its totals now, so it does not spike.
        const fresh = stat.startedAt === undefined || stat.startedAt >= previous;
        series = fresh
          ? this.#newSeries(0, 0, 0)
          : this.#newSeries(stat.bytes, stat.videoBytes, stat.audioBytes);
        this.#series.set(stat.key, series);
      }
      // A stream forgotten and made again under the same key starts its counts from zero.
      const delta = (value: number, last: number): number => (value >= last ? value - last : value);
      const kbpsIn = kbps(delta(stat.bytes, series.bytes), elapsed);
      const videoKbps = kbps(delta(stat.videoBytes, series.videoBytes), elapsed);
      const audioKbps = kbps(delta(stat.audioBytes, series.audioBytes), elapsed);
      series.bytes = stat.bytes;
      series.videoBytes = stat.videoBytes;
      series.audioBytes = stat.audioBytes;
      series.frameCounts.push(stat.videoPackets);
      series.frameTimes.push(now);
      if (series.frameCounts.length > FPS_WINDOW + 1) {
        series.frameCounts.shift();
        series.frameTimes.shift();
      }
      const span = now - series.frameTimes[0];
      const frames = delta(stat.videoPackets, series.frameCounts[0]);
      const fps = span > 0 ? Math.round((frames * 100_000) / span) / 100 : 0;
      let viewers = 0;
      for (const info of stat.players) if (isClientProtocol(streamProtocol(info))) viewers += 1;
      series.kbps[slot] = kbpsIn;
      series.players[slot] = viewers;
      players += viewers;

      const headers = stream.headers();
      const [metadata, video, audio] = series.headers;
      if (headers.metadata !== metadata || headers.video !== video || headers.audio !== audio) {
        series.headers = [headers.metadata, headers.video, headers.audio];
        series.description = describeStream(headers);
      }
      const description = series.description;
      const listed = stat.playerStats.slice(0, this.#options.maxPlayersListed ?? 50);
      const lastPlayerBytes = series.playerBytes;
      series.playerBytes = new Map();
      const feedPlayers = listed.map((player): FeedPlayer => {
        const bytes = player.videoBytes + player.audioBytes + player.dataBytes;
        const before = lastPlayerBytes.get(player.info.id);
        series.playerBytes.set(player.info.id, bytes);
        return {
          ...peer(player.info),
          since: player.joinedAt,
          bytes,
          kbps: before === undefined ? 0 : kbps(delta(bytes, before), elapsed),
          bufferedBytes: player.bufferedBytes,
        };
      });
      const publisher = stat.publisherStats;
      const slash = stat.key.indexOf("/");
      streams.push({
        key: stat.key,
        app: stat.key.slice(0, slash),
        name: stat.key.slice(slash + 1),
        live: publisher !== undefined,
        publisher: publisher === undefined ? null : { ...peer(publisher.info), since: publisher.startedAt },
        uptimeS: publisher === undefined ? 0 : Math.max(0, Math.floor((now - publisher.startedAt) / 1000)),
        video: description.video ?? null,
        audio: description.audio ?? null,
        encoder: description.encoder ?? null,
        fps,
        kbpsIn,
        videoKbps,
        audioKbps,
        bytesIn: stat.bytes,
        bytesOut: stat.bytesOut,
        playerCount: viewers,
        writerCount: stat.players.length,
        players: feedPlayers,
      });
    }
    for (const key of [...this.#series.keys()]) if (!seen.has(key)) this.#series.delete(key);
    this.#head = (slot + 1) % this.historySamples;
    this.#count = Math.min(this.#count + 1, this.historySamples);

    const counters = hub.counters();
    const sample: FeedSample = {
      time: now,
      server: {
        streams: streams.length,
        live: streams.filter((s) => s.live).length,
        players,
        kbpsIn: kbps(Math.max(0, counters.bytesIn - this.#lastTotals.bytesIn), elapsed),
        kbpsOut: kbps(Math.max(0, counters.bytesOut - this.#lastTotals.bytesOut), elapsed),
        bytesIn: counters.bytesIn,
        bytesOut: counters.bytesOut,
        refused: Object.values(counters.refused).reduce((sum, n) => sum + n, 0),
        slowPlayerSkips: counters.slowPlayerSkips,
      },
      streams,
      relays: (this.#options.relays?.list() ?? []).map((relay) => ({
        kind: relay.kind,
        key: relay.key,
        url: relay.url,
        state: relay.state,
        attempts: relay.attempts,
        since: relay.since,
        ...(relay.lastError === undefined ? {} : { lastError: relay.lastError }),
      })),
    };
    this.#lastTotals = { bytesIn: counters.bytesIn, bytesOut: counters.bytesOut };
    this.#latest = sample;
    if (this.#clients.size > 0) this.#broadcast(event("stats", sample));
    return sample;
  }

  /** Every stream's history, oldest sample first. */
  history(): FeedHistory {
    const order: number[] = [];
    const start = (this.#head - this.#count + this.historySamples) % this.historySamples;
    for (let i = 0; i < this.#count; i++) order.push((start + i) % this.historySamples);
    const value = (column: Float64Array, i: number): number | null =>
      Number.isNaN(column[i]) ? null : column[i];
    const streams: FeedHistory["streams"] = {};
    for (const [key, series] of this.#series) {
      streams[key] = {
        kbpsIn: order.map((i) => value(series.kbps, i)),
        players: order.map((i) => value(series.players, i)),
      };
    }
    return { intervalMs: this.intervalMs, time: order.map((i) => this.#times[i]), streams };
  }

  /**
   * Make `res` a page's event stream: `hello`, `history`, the latest `stats`, then one `stats`
   * per interval until the page goes or the feed closes. Answers 503 past `maxClients`.
   */
  attach(res: ServerResponse, head = false): void {
    if (this.#closed || this.#clients.size >= (this.#options.maxClients ?? 32)) {
      const body = JSON.stringify({ status: 503, data: "too many dashboard pages are open" });
      res.writeHead(503, { "Content-Type": "application/json; charset=utf-8", "Retry-After": "5" });
      res.end(head ? undefined : body);
      return;
    }
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      "X-Accel-Buffering": "no",
      "X-Content-Type-Options": "nosniff",
    });
    if (head) {
      res.end();
      return;
    }
    const hello: FeedHello = {
      version: 1,
      intervalMs: this.intervalMs,
      historySamples: this.historySamples,
      endpoints: this.#options.endpoints?.() ?? {},
    };
    res.write(`retry: 2000\n\n${event("hello", hello)}${event("history", this.history())}`);
    if (this.#latest !== undefined) res.write(event("stats", this.#latest));
    this.#clients.add(res);
    res.once("close", () => this.#clients.delete(res));
    debug("page connected (%d now)", this.#clients.size);
  }

  /** Stop sampling and end every page's stream. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const res of this.#clients) res.end();
    this.#clients.clear();
    this.#series.clear();
  }

  #broadcast(text: string): void {
    const limit = this.#options.maxClientBufferBytes ?? 1024 * 1024;
    for (const res of this.#clients) {
      if (res.destroyed || res.writableEnded) {
        this.#clients.delete(res);
        continue;
      }
      if (res.writableLength > limit) {
        debug("a page fell %d bytes behind: dropped", res.writableLength);
        this.#clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(text);
    }
  }

  #newSeries(bytes: number, videoBytes: number, audioBytes: number): Series {
    return {
      kbps: new Float64Array(this.historySamples).fill(Number.NaN),
      players: new Float64Array(this.historySamples).fill(Number.NaN),
      bytes,
      videoBytes,
      audioBytes,
      frameCounts: [],
      frameTimes: [],
      headers: [undefined, undefined, undefined],
      description: {},
      playerBytes: new Map(),
    };
  }
}

function peer(info: StreamInfo): { id: string; protocol: string; address: string | null; url: string } {
  return {
    id: info.id,
    protocol: streamProtocol(info),
    address: info.remoteAddress ?? null,
    url: shownUrl(info),
  };
}

/** One Server-Sent Event (JSON has no raw newlines, so `data` is one line). */
function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}
