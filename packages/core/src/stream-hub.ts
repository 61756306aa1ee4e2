import createDebug from "debug";
import { StreamError, StreamErrorCode } from "./errors.js";
import { SafeEventEmitter } from "./safe-event-emitter.js";
import { DEFAULT_SLOW_PLAYER_POLICY, type SlowPlayerPolicy } from "./slow-player-policy.js";
import { type MediaCounts, Stream, type StreamOptions, type StreamStats } from "./stream.js";
import type { Handler, StreamInfo, StreamReader, StreamWriter } from "./stream-types.js";

const debug = createDebug("onair:core:hub");

/** The default batching window; see {@link StreamHubOptions.batchWindowMs}. */
export const DEFAULT_BATCH_WINDOW_MS = 100;

/** Defaults of the hub's limits; see {@link StreamHubOptions} for what each one bounds. */
export const DEFAULT_HUB_LIMITS = Object.freeze({
  gopCacheMaxBytes: 8 * 1024 * 1024,
  gopCacheMaxPackets: 4096,
  republishGraceMs: 10_000,
  publisherIdleTimeoutMs: 15_000,
  maxStreams: 1000,
  maxPlayersPerStream: 10_000,
});

/** The idle check runs this often at most (and more often for shorter timeouts). */
const IDLE_CHECK_MS = 1000;

export interface StreamHubOptions {
  /** GOPs kept for late players; 0 turns the cache off (headers are always kept). Default 1. */
  gopCache?: number;
  /**
   * Payload bytes the GOP cache of one stream may hold (headers not counted). Past it the
   * oldest GOP is dropped; a GOP bigger than this on its own is not cached (late players then
   * start at the next keyframe). Default 8 MiB, the default `slowPlayer.closeBytes`: a bigger
   * GOP could not be sent to a joining player anyway.
   */
  gopCacheMaxBytes?: number;
  /** Packets the GOP cache of one stream may hold, like `gopCacheMaxBytes`. Default 4096. */
  gopCacheMaxPackets?: number;
  /**
   * Batching window in ms: packets are queued per player and written as one Buffer (shared by
   * every player in step with the stream) at most this often. 0 turns the window off: packets go
   * out when the event-loop turn that brought them ends, with no added delay. Default 100: in
   * `pnpm bench` at 1000 players it cuts server CPU per GB to about a third of window 0's, for
   * about 67 ms (p50) / 105 ms (p99) of added latency (`pnpm bench:latency`).
   */
  batchWindowMs?: number;
  /** When a player falls behind; see {@link SlowPlayerPolicy}. */
  slowPlayer?: Partial<SlowPlayerPolicy>;
  /** How long a player that arrives before its publisher waits, in ms; 0 refuses at once. Default 10 000. */
  playWaitTimeoutMs?: number;
  /**
   * Keep players for this long (ms) after the publisher leaves, in case it comes back (an
   * encoder reconnecting: OBS retries after 2 s). A publisher that comes back within it takes
   * over seamlessly: its timestamps are rebased to continue the stream's, new codec headers go
   * out if they changed, players resume at its first keyframe, and the hub emits `republish`.
   * After the grace the players end normally. 0 ends them when the publisher leaves (as livego
   * does). Default 10 000.
   */
  republishGraceMs?: number;
  /**
   * A publisher that sends no packet for this long (ms) is closed with `ERR_STREAM_IDLE`, so a
   * half-open encoder frees its key (its players then get the republish grace). Checked once a
   * second, so the close comes up to a second late. 0 turns it off. Default 15 000.
   */
  publisherIdleTimeoutMs?: number;
  /** Live streams (publishers) the hub accepts; one more is refused with `ERR_STREAM_LIMIT`. Default 1000. */
  maxStreams?: number;
  /** Players per stream; one more is refused with `ERR_STREAM_PLAYER_LIMIT`. Default 10 000. */
  maxPlayersPerStream?: number;
}

export interface StreamHubEvents {
  publish: [StreamInfo];
  /** A publisher took over a stream within the republish grace (after `publish`): a discontinuity. */
  republish: [StreamInfo];
  unpublish: [StreamInfo];
  play: [StreamInfo];
  stop: [StreamInfo];
}

/** What the hub refused or closed, since it was made; for `/metrics` and dashboards. */
export interface StreamHubCounters {
  /**
   * Publishers and players refused, by `StreamErrorCode`: `ERR_STREAM_BUSY`, `ERR_STREAM_LIMIT`,
   * `ERR_STREAM_PLAYER_LIMIT`, `ERR_STREAM_NOT_FOUND`, `ERR_STREAM_CLOSED`.
   */
  refused: Record<string, number>;
  /** Players closed by the slow-player policy. */
  slowPlayersClosed: number;
  /** Times a player fell behind and was made to skip to the next keyframe (it may catch up). */
  slowPlayerSkips: number;
  /** Publishers closed by the idle timeout. */
  idlePublishersClosed: number;
  /** Publishers that took over a stream within the republish grace. */
  republishes: number;
  /**
   * Payload bytes and packets received from publishers since the hub was made, streams that
   * ended included (FLV tag bodies: wire framing not counted).
   */
  bytesIn: number;
  packetsIn: number;
  /** Payload bytes and packets given to players (queued to their writers) since the hub was made. */
  bytesOut: number;
  packetsOut: number;
}

function totalOf(counts: MediaCounts): { bytes: number; packets: number } {
  return {
    bytes: counts.videoBytes + counts.audioBytes + counts.dataBytes,
    packets: counts.videoPackets + counts.audioPackets + counts.dataPackets,
  };
}

/** The hub counters summed over streams (those forgotten kept in a running total). */
type StreamTotals = Pick<
  StreamHubCounters,
  "bytesIn" | "packetsIn" | "bytesOut" | "packetsOut" | "slowPlayerSkips"
>;

function addTotals(to: StreamTotals, stream: Stream): void {
  const received = totalOf(stream.inCounts());
  const given = totalOf(stream.outCounts());
  to.bytesIn += received.bytes;
  to.packetsIn += received.packets;
  to.bytesOut += given.bytes;
  to.packetsOut += given.packets;
  to.slowPlayerSkips += stream.slowPlayerSkips;
}

/** What the idle check remembers of a live stream between two runs. */
interface IdleWatch {
  packets: number;
  since: number;
}

/**
 * The handler every server is given: one {@link Stream} per key "app/name", a publisher per
 * stream, any number of players, a GOP cache for late players. Events are emitted safely: a
 * listener that throws is logged and never ends a session.
 */
export class StreamHub extends SafeEventEmitter<StreamHubEvents> implements Handler {
  readonly #streams = new Map<string, Stream>();
  readonly #waitTimers = new Map<StreamWriter, NodeJS.Timeout>();
  readonly #graceTimers = new Map<Stream, NodeJS.Timeout>();
  readonly #idleWatches = new Map<Stream, IdleWatch>();
  #idleTimer: NodeJS.Timeout | undefined;
  #liveCount = 0;
  readonly #options: StreamOptions & {
    playWaitTimeoutMs: number;
    republishGraceMs: number;
    publisherIdleTimeoutMs: number;
    maxStreams: number;
    maxPlayersPerStream: number;
  };
  readonly #counters: Omit<StreamHubCounters, keyof StreamTotals> = {
    refused: {},
    slowPlayersClosed: 0,
    idlePublishersClosed: 0,
    republishes: 0,
  };
  /** What streams the hub forgot had received and given, so the totals never go down. */
  readonly #retired: StreamTotals = {
    bytesIn: 0,
    packetsIn: 0,
    bytesOut: 0,
    packetsOut: 0,
    slowPlayerSkips: 0,
  };
  #closed = false;

  constructor(options: StreamHubOptions = {}) {
    super();
    this.#options = {
      gopCache: options.gopCache ?? 1,
      gopCacheMaxBytes: options.gopCacheMaxBytes ?? DEFAULT_HUB_LIMITS.gopCacheMaxBytes,
      gopCacheMaxPackets: options.gopCacheMaxPackets ?? DEFAULT_HUB_LIMITS.gopCacheMaxPackets,
      batchWindowMs: options.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS,
      slowPlayer: { ...DEFAULT_SLOW_PLAYER_POLICY, ...options.slowPlayer },
      playWaitTimeoutMs: options.playWaitTimeoutMs ?? 10_000,
      republishGraceMs: options.republishGraceMs ?? DEFAULT_HUB_LIMITS.republishGraceMs,
      publisherIdleTimeoutMs: options.publisherIdleTimeoutMs ?? DEFAULT_HUB_LIMITS.publisherIdleTimeoutMs,
      maxStreams: options.maxStreams ?? DEFAULT_HUB_LIMITS.maxStreams,
      maxPlayersPerStream: options.maxPlayersPerStream ?? DEFAULT_HUB_LIMITS.maxPlayersPerStream,
    };
  }

  /** The stream of `key`, live or waiting for its publisher. */
  get(key: string): Stream | undefined {
    return this.#streams.get(key);
  }

  /** True when `key` has a publisher now. */
  isLive(key: string): boolean {
    return this.#streams.get(key)?.live === true;
  }

  /** Every stream the hub knows, live or with players waiting. */
  streams(): Stream[] {
    return [...this.#streams.values()];
  }

  stats(): StreamStats[] {
    return this.streams().map((stream) => stream.stats());
  }

  /** A snapshot of what the hub refused or closed since it was made. */
  counters(): StreamHubCounters {
    const totals = { ...this.#retired };
    for (const stream of this.#streams.values()) addTotals(totals, stream);
    return { ...this.#counters, refused: { ...this.#counters.refused }, ...totals };
  }

  handleReader(reader: StreamReader): void {
    const { key } = reader.info;
    if (this.#closed) {
      this.#refuse(reader, StreamErrorCode.closed, "the stream hub is closed");
      return;
    }
    let stream = this.#streams.get(key);
    if (stream?.live) {
      debug("refused second publisher %s for %s", reader.info.id, key);
      this.#refuse(reader, StreamErrorCode.busy, `stream ${key} is already being published`);
      return;
    }
    if (this.#liveCount >= this.#options.maxStreams) {
      debug("refused publisher %s for %s: %d live streams", reader.info.id, key, this.#liveCount);
      this.#refuse(reader, StreamErrorCode.streamLimit, `the server has ${this.#liveCount} live streams`);
      return;
    }
    if (stream === undefined) stream = this.#createStream(key);
    const grace = this.#graceTimers.get(stream);
    const republish = grace !== undefined;
    if (republish) {
      clearTimeout(grace);
      this.#graceTimers.delete(stream);
      this.#counters.republishes += 1;
    }
    for (const writer of stream.writers) this.#clearWaitTimer(writer);
    debug("%s %s by %s", republish ? "republish" : "publish", key, reader.info.id);
    this.#liveCount += 1;
    stream.setReader(reader);
    this.#watchIdle(stream);
    // After setReader, so a listener that adds a writer (a recorder) starts it at once.
    this.emit("publish", reader.info);
    if (republish) this.emit("republish", reader.info);
  }

  handleWriter(writer: StreamWriter): void {
    const { key } = writer.info;
    if (this.#closed) {
      this.#refuse(writer, StreamErrorCode.closed, "the stream hub is closed");
      return;
    }
    let stream = this.#streams.get(key);
    if (stream !== undefined && stream.writerCount >= this.#options.maxPlayersPerStream) {
      this.#refuse(writer, StreamErrorCode.playerLimit, `stream ${key} has ${stream.writerCount} players`);
      return;
    }
    if (stream?.live !== true) {
      if (this.#options.playWaitTimeoutMs <= 0) {
        this.#refuse(writer, StreamErrorCode.notFound, `stream ${key} is not live`);
        return;
      }
      if (stream === undefined) stream = this.#createStream(key);
      const waiting = stream;
      const timer = setTimeout(() => {
        this.#waitTimers.delete(writer);
        if (!waiting.live) this.#refuse(writer, StreamErrorCode.notFound, `stream ${key} did not start`);
      }, this.#options.playWaitTimeoutMs);
      this.#waitTimers.set(writer, timer);
    }
    debug("play %s by %s", key, writer.info.id);
    this.emit("play", writer.info);
    stream.addWriter(writer);
  }

  /** End every stream: publishers and players are closed, timers cleared. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = new StreamError(StreamErrorCode.closed, "the stream hub is closed");
    for (const stream of [...this.#streams.values()]) {
      stream.reader?.close(error);
      stream.closeWriters(error);
      this.#forget(stream);
    }
    for (const timer of this.#waitTimers.values()) clearTimeout(timer);
    this.#waitTimers.clear();
    this.#stopIdleTimer();
  }

  #refuse(target: StreamReader | StreamWriter, code: string, message: string): void {
    this.#counters.refused[code] = (this.#counters.refused[code] ?? 0) + 1;
    target.close(new StreamError(code, message));
  }

  #createStream(key: string): Stream {
    const stream = new Stream(key, this.#options);
    stream.onReaderEnd = this.#onReaderEnd;
    stream.onWriterLeave = this.#onWriterLeave;
    stream.onSlowPlayer = this.#onSlowPlayer;
    this.#streams.set(key, stream);
    return stream;
  }

  #forget(stream: Stream): void {
    const grace = this.#graceTimers.get(stream);
    if (grace !== undefined) clearTimeout(grace);
    this.#graceTimers.delete(stream);
    stream.dispose();
    if (this.#streams.get(stream.key) === stream) {
      this.#streams.delete(stream.key);
      addTotals(this.#retired, stream);
    }
  }

  #clearWaitTimer(writer: StreamWriter): void {
    const timer = this.#waitTimers.get(writer);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#waitTimers.delete(writer);
  }

  /** Idle publishers are found by one timer per hub that compares packet counts, not per packet. */
  #watchIdle(stream: Stream): void {
    const timeout = this.#options.publisherIdleTimeoutMs;
    if (timeout <= 0) return;
    this.#idleWatches.set(stream, { packets: stream.packetCount, since: Date.now() });
    if (this.#idleTimer !== undefined) return;
    this.#idleTimer = setInterval(this.#checkIdle, Math.min(IDLE_CHECK_MS, timeout));
    this.#idleTimer.unref();
  }

  #checkIdle = (): void => {
    const now = Date.now();
    const timeout = this.#options.publisherIdleTimeoutMs;
    for (const [stream, watch] of this.#idleWatches) {
      if (stream.packetCount !== watch.packets) {
        watch.packets = stream.packetCount;
        watch.since = now;
      } else if (now - watch.since >= timeout) {
        this.#idleWatches.delete(stream);
        this.#counters.idlePublishersClosed += 1;
        debug("closing idle publisher of %s", stream.key);
        stream.reader?.close(
          new StreamError(
            StreamErrorCode.idle,
            `no packet from the publisher of ${stream.key} for ${timeout} ms`,
          ),
        );
      }
    }
    if (this.#idleWatches.size === 0) this.#stopIdleTimer();
  };

  #stopIdleTimer(): void {
    if (this.#idleTimer !== undefined) clearInterval(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#idleWatches.clear();
  }

  #onSlowPlayer = (): void => {
    this.#counters.slowPlayersClosed += 1;
  };

  #onReaderEnd = (stream: Stream, publisher: StreamInfo, error?: Error): void => {
    debug("unpublish %s%s", stream.key, error ? ` (${error.message})` : "");
    this.#liveCount -= 1;
    this.#idleWatches.delete(stream);
    if (this.#idleWatches.size === 0) this.#stopIdleTimer();
    this.emit("unpublish", publisher);
    if (this.#closed) return;
    const grace = this.#options.republishGraceMs;
    if (grace > 0 && stream.writerCount > 0) {
      this.#graceTimers.set(
        stream,
        setTimeout(() => {
          this.#graceTimers.delete(stream);
          if (stream.live) return;
          debug("%s: no publisher came back within %d ms", stream.key, grace);
          stream.closeWriters(undefined);
          this.#forget(stream);
        }, grace),
      );
      return;
    }
    stream.closeWriters(undefined);
    this.#forget(stream);
  };

  #onWriterLeave = (stream: Stream, writer: StreamWriter): void => {
    this.#clearWaitTimer(writer);
    debug("stop %s by %s", stream.key, writer.info.id);
    this.emit("stop", writer.info);
    if (!stream.live && stream.writerCount === 0 && !this.#graceTimers.has(stream)) this.#forget(stream);
  };
}
