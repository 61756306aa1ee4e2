import createDebug from "debug";
import { StreamError, StreamErrorCode } from "./errors.js";
import { GopCache, isMetadata } from "./gop-cache.js";
import type { MediaPacket } from "./media-packet.js";
import type { SlowPlayerPolicy } from "./slow-player-policy.js";
import type { PacketSink, StreamInfo, StreamReader, StreamWriter } from "./stream-types.js";

const debug = createDebug("onair:core:stream");

/**
 * Players flushed per turn of the event loop when a window ends. A window's batch for 1000
 * players is tens of ms of writes; slices let new connections in between them.
 */
const FLUSH_SLICE = 128;

/** After a republish, the new publisher's first packet comes this long after the last one sent. */
const REPUBLISH_STEP_MS = 40;

/**
 * `skippingSince` of a player that waits for a keyframe without being behind (it joined or the
 * publisher changed): the closeAfterMs clock does not run for it.
 */
const NOT_BEHIND = Number.POSITIVE_INFINITY;

export interface StreamOptions {
  gopCache: number;
  gopCacheMaxBytes: number;
  gopCacheMaxPackets: number;
  batchWindowMs: number;
  slowPlayer: SlowPlayerPolicy;
}

/** Per-player state the fan-out loop needs; one small object per player, made once. */
class Subscriber {
  /** Has had start() and the cache. */
  started = false;
  /** Receives only headers until a keyframe: it fell behind, joined mid-GOP, or the publisher changed. */
  skipping = false;
  skippingSince = 0;
  closing = false;
  /**
   * What the writer was given, by kind, kept as an offset from the stream's fan-out totals so
   * that the fan-out loop counts nothing for a player it writes to: given = fanned + offset.
   * Set to minus the fanned totals when the player joins, plus its join burst; a packet the loop
   * does not write to it (skipping, closing) is taken off.
   */
  readonly offset: MediaCounts;
  readonly joinedAt = Date.now();
  constructor(
    readonly writer: StreamWriter,
    fanned: MediaCounts,
  ) {
    this.offset = emptyCounts();
    this.rebase(fanned);
  }

  /** From now on the writer is given what is fanned out: it starts at zero. */
  rebase(fanned: MediaCounts): void {
    const offset = this.offset;
    offset.videoBytes = -fanned.videoBytes;
    offset.videoPackets = -fanned.videoPackets;
    offset.audioBytes = -fanned.audioBytes;
    offset.audioPackets = -fanned.audioPackets;
    offset.dataBytes = -fanned.dataBytes;
    offset.dataPackets = -fanned.dataPackets;
  }

  /** What the writer was given, by kind. */
  given(fanned: MediaCounts): MediaCounts {
    const counts = { ...fanned };
    addCounts(counts, this.offset);
    return counts;
  }
}

/** Count one packet of `kind` and `size` into `counts`, or take it off with `sign` -1. */
function count(counts: MediaCounts, kind: MediaPacket["kind"], size: number, sign: 1 | -1): void {
  if (kind === "video") {
    counts.videoBytes += sign * size;
    counts.videoPackets += sign;
  } else if (kind === "audio") {
    counts.audioBytes += sign * size;
    counts.audioPackets += sign;
  } else {
    counts.dataBytes += sign * size;
    counts.dataPackets += sign;
  }
}

/**
 * Payload bytes and packets by kind (FLV tag bodies, as received from the publisher; wire
 * framing not counted). `data` is script data (metadata).
 */
export interface MediaCounts {
  videoBytes: number;
  videoPackets: number;
  audioBytes: number;
  audioPackets: number;
  dataBytes: number;
  dataPackets: number;
}

/** What one player (writer) of a stream was given since it joined. */
export interface PlayerStats extends MediaCounts {
  info: StreamInfo;
  /** `Date.now()` when it was added to the stream. */
  joinedAt: number;
  /** Bytes queued in the writer and its transport now. */
  bufferedBytes: number;
}

/** What the current publisher (reader) sent since it took the stream. */
export interface PublisherStats extends MediaCounts {
  info: StreamInfo;
  /** `Date.now()` when it took the stream. */
  startedAt: number;
}

function emptyCounts(): MediaCounts {
  return { videoBytes: 0, videoPackets: 0, audioBytes: 0, audioPackets: 0, dataBytes: 0, dataPackets: 0 };
}

function addCounts(to: MediaCounts, from: MediaCounts): void {
  to.videoBytes += from.videoBytes;
  to.videoPackets += from.videoPackets;
  to.audioBytes += from.audioBytes;
  to.audioPackets += from.audioPackets;
  to.dataBytes += from.dataBytes;
  to.dataPackets += from.dataPackets;
}

/** A stream's cached metadata and sequence headers (see {@link Stream.headers}). */
export interface StreamHeaders {
  metadata: MediaPacket | undefined;
  video: MediaPacket | undefined;
  audio: MediaPacket | undefined;
}

/** Live statistics of one stream. */
export interface StreamStats {
  key: string;
  publisher: StreamInfo | undefined;
  players: StreamInfo[];
  /** Payload packets and bytes received since the stream was made (all its publishers). */
  packets: number;
  bytes: number;
  /** Received since the stream was made, by kind; `bytes` is their sum. */
  videoBytes: number;
  videoPackets: number;
  audioBytes: number;
  audioPackets: number;
  /** The current publisher's share of the counts above, since it took the stream. */
  publisherStats: PublisherStats | undefined;
  /** Per player, in the order of `players`: what it was given since it joined. */
  playerStats: PlayerStats[];
  /** Payload bytes given to this stream's players since the stream was made, those that left included. */
  bytesOut: number;
  packetsOut: number;
  startedAt: number | undefined;
  /** Publishers that took over within the republish grace. */
  republishes: number;
  /** Times a player fell behind and was made to skip to the next keyframe. */
  slowPlayerSkips: number;
  /** Payload bytes and packets held in the GOP cache (headers excluded). */
  gopCacheBytes: number;
  gopCachePackets: number;
}

/** A packet with another timestamp; wire forms are not carried over (they hold the timestamp). */
function withTimestamp(packet: MediaPacket, timestamp: number): MediaPacket {
  return {
    kind: packet.kind,
    timestamp,
    payload: packet.payload,
    keyframe: packet.keyframe,
    sequenceHeader: packet.sequenceHeader,
    wireForms: undefined,
  };
}

/**
 * One live stream: its reader, its writers and its GOP cache. Fans each packet out to every
 * writer; writers encode through `encodeOnce`, so each wire form is made once per packet.
 *
 * A reader that takes over a stream whose players stayed (a republish) has its timestamps
 * rebased here, before the cache and the fan-out, so time runs forward for those players and
 * the rebased packet is still one object shared by every writer.
 */
export class Stream implements PacketSink {
  readonly key: string;
  readonly #options: StreamOptions;
  readonly #cache: GopCache;
  #reader: StreamReader | undefined;
  #subscribers: Subscriber[] = [];
  #flushTimer: NodeJS.Timeout | undefined;
  #flushQueued = false;
  #flushAll = (): void => {
    this.#flushQueued = false;
    for (const subscriber of this.#subscribers) subscriber.writer.flush();
  };
  /** Where the next slice of a window's flush starts, and the pending continuation. */
  #nextSlice = 0;
  #sliceImmediate: NodeJS.Immediate | undefined;
  #flushWindow = (): void => {
    this.#flushTimer = undefined;
    this.#nextSlice = 0;
    this.#flushSlice();
  };
  #flushSlice = (): void => {
    this.#sliceImmediate = undefined;
    const subscribers = this.#subscribers;
    const end = Math.min(subscribers.length, this.#nextSlice + FLUSH_SLICE);
    for (let i = this.#nextSlice; i < end; i++) subscribers[i].writer.flush();
    this.#nextSlice = end;
    if (end < subscribers.length) this.#sliceImmediate = setImmediate(this.#flushSlice);
  };
  #packets = 0;
  #bytes = 0;
  #videoBytes = 0;
  #videoPackets = 0;
  #audioBytes = 0;
  #audioPackets = 0;
  /** The counts when the current reader took the stream, for {@link PublisherStats}. */
  #readerBase: MediaCounts = emptyCounts();
  /** What players that left were given. */
  readonly #departed: MediaCounts = emptyCounts();
  /**
   * Packets received but not fanned out (a republished header equal to the cached one). The
   * fanned totals, received minus these, are what a player in step with the stream was given.
   */
  readonly #unfanned: MediaCounts = emptyCounts();
  #startedAt: number | undefined;
  /** Times a player fell behind and was made to skip to the next keyframe. */
  #slowPlayerSkips = 0;
  #hasVideo = false;
  #everPublished = false;
  #republishes = 0;
  /** Added to every incoming timestamp (mod 2^32); 0 until a republish needs it. */
  #offset = 0;
  /** A republish happened: the offset is fixed by the new publisher's first packet. */
  #offsetPending = false;
  /** The latest timestamp sent in 32-bit serial order (timestamps wrap at 2^32), -1 before any. */
  #lastTimestamp = -1;
  /** After a republish until its first keyframe: headers equal to the cached ones are not re-sent. */
  #resuming = false;
  /**
   * After a republish until its first media packet: the cached headers may still be the previous
   * publisher's. Those the new one has not sent by then (a track or metadata it does not have)
   * are dropped, so players that join later are not configured for the previous encoder.
   */
  #previousHeaders = false;
  /** Headers the current publisher sent while {@link #previousHeaders}: 1 metadata, 2 video, 4 audio. */
  #headersSent = 0;
  /** Called when the reader ends (the hub decides what happens to the writers). */
  onReaderEnd: ((stream: Stream, publisher: StreamInfo, error?: Error) => void) | undefined;
  /** Called when a writer leaves, however it left. */
  onWriterLeave: ((stream: Stream, writer: StreamWriter) => void) | undefined;
  /** Called when the slow-player policy closes a writer. */
  onSlowPlayer: ((stream: Stream, writer: StreamWriter) => void) | undefined;

  constructor(key: string, options: StreamOptions) {
    this.key = key;
    this.#options = options;
    this.#cache = new GopCache(options.gopCache, {
      maxBytes: options.gopCacheMaxBytes,
      maxPackets: options.gopCacheMaxPackets,
    });
  }

  get reader(): StreamReader | undefined {
    return this.#reader;
  }

  get live(): boolean {
    return this.#reader !== undefined;
  }

  get writerCount(): number {
    return this.#subscribers.length;
  }

  get writers(): StreamWriter[] {
    return this.#subscribers.map((s) => s.writer);
  }

  /** Packets received since the stream was made (all its publishers). */
  get packetCount(): number {
    return this.#packets;
  }

  /** Times a player fell behind and skipped to the next keyframe, since the stream was made. */
  get slowPlayerSkips(): number {
    return this.#slowPlayerSkips;
  }

  /** Payload bytes received since the stream was made (all its publishers). */
  get bytesIn(): number {
    return this.#bytes;
  }

  /** Payload bytes and packets given to players since the stream was made, those that left included. */
  outCounts(): MediaCounts {
    const counts = { ...this.#departed };
    const fanned = this.#fanned();
    for (const subscriber of this.#subscribers) addCounts(counts, subscriber.given(fanned));
    return counts;
  }

  /** What was fanned out to players in step with the stream since it was made. */
  #fanned(): MediaCounts {
    const counts = this.inCounts();
    const unfanned = this.#unfanned;
    counts.videoBytes -= unfanned.videoBytes;
    counts.videoPackets -= unfanned.videoPackets;
    counts.audioBytes -= unfanned.audioBytes;
    counts.audioPackets -= unfanned.audioPackets;
    counts.dataBytes -= unfanned.dataBytes;
    counts.dataPackets -= unfanned.dataPackets;
    return counts;
  }

  /**
   * The metadata (onMetaData) and codec configuration packets a player joining now gets first;
   * undefined for those not seen yet. Read-only: for dashboards (codecs, picture size, frame rate).
   */
  headers(): StreamHeaders {
    const cache = this.#cache;
    return { metadata: cache.metadata, video: cache.videoHeader, audio: cache.audioHeader };
  }

  /** Received since the stream was made, by kind. */
  inCounts(): MediaCounts {
    return {
      videoBytes: this.#videoBytes,
      videoPackets: this.#videoPackets,
      audioBytes: this.#audioBytes,
      audioPackets: this.#audioPackets,
      dataBytes: this.#bytes - this.#videoBytes - this.#audioBytes,
      dataPackets: this.#packets - this.#videoPackets - this.#audioPackets,
    };
  }

  stats(): StreamStats {
    const out = this.outCounts();
    const fanned = this.#fanned();
    const reader = this.#reader;
    let publisherStats: PublisherStats | undefined;
    if (reader !== undefined) {
      const now = this.inCounts();
      const base = this.#readerBase;
      publisherStats = {
        info: reader.info,
        startedAt: this.#startedAt ?? Date.now(),
        videoBytes: now.videoBytes - base.videoBytes,
        videoPackets: now.videoPackets - base.videoPackets,
        audioBytes: now.audioBytes - base.audioBytes,
        audioPackets: now.audioPackets - base.audioPackets,
        dataBytes: now.dataBytes - base.dataBytes,
        dataPackets: now.dataPackets - base.dataPackets,
      };
    }
    return {
      key: this.key,
      publisher: reader?.info,
      players: this.#subscribers.map((s) => s.writer.info),
      packets: this.#packets,
      bytes: this.#bytes,
      videoBytes: this.#videoBytes,
      videoPackets: this.#videoPackets,
      audioBytes: this.#audioBytes,
      audioPackets: this.#audioPackets,
      publisherStats,
      playerStats: this.#subscribers.map((s) => ({
        info: s.writer.info,
        joinedAt: s.joinedAt,
        bufferedBytes: s.writer.bufferedBytes,
        ...s.given(fanned),
      })),
      bytesOut: out.videoBytes + out.audioBytes + out.dataBytes,
      packetsOut: out.videoPackets + out.audioPackets + out.dataPackets,
      startedAt: this.#startedAt,
      republishes: this.#republishes,
      slowPlayerSkips: this.#slowPlayerSkips,
      gopCacheBytes: this.#cache.bytes,
      gopCachePackets: this.#cache.size,
    };
  }

  /**
   * Take `reader` as this stream's source. Writers waiting for it start now. When an earlier
   * reader of this stream had players that stayed, this is a republish: those players get
   * `discontinuity()`, then the new headers if they changed, and resume at the next keyframe,
   * with timestamps that continue from the last ones they got.
   */
  setReader(reader: StreamReader): void {
    const republish = this.#everPublished;
    this.#everPublished = true;
    this.#reader = reader;
    this.#startedAt = Date.now();
    this.#readerBase = this.inCounts();
    this.#hasVideo = false;
    if (republish) {
      this.#republishes += 1;
      this.#cache.clearGops();
      this.#offsetPending = this.#lastTimestamp >= 0;
      this.#resuming = true;
      this.#previousHeaders = true;
      this.#headersSent = 0;
      for (const subscriber of this.#subscribers) {
        if (!subscriber.started || subscriber.closing) continue;
        subscriber.skipping = true;
        subscriber.skippingSince = NOT_BEHIND;
        subscriber.writer.discontinuity?.();
      }
    } else {
      this.#cache.clear();
    }
    reader.attach(this);
    for (const subscriber of this.#subscribers) {
      if (subscriber.started) continue;
      this.#startWriter(subscriber);
      // One that joined during the grace starts where the players that stayed resume.
      if (republish && !subscriber.closing) {
        subscriber.skipping = true;
        subscriber.skippingSince = NOT_BEHIND;
      }
    }
  }

  /** Add a writer. When live, it gets the cached headers and GOP at once; else it waits. */
  addWriter(writer: StreamWriter): void {
    const subscriber = new Subscriber(writer, this.#fanned());
    this.#subscribers.push(subscriber);
    writer.onClose(() => this.#removeWriter(writer));
    if (this.#reader !== undefined) this.#startWriter(subscriber);
  }

  /**
   * The join burst: headers and the newest cached GOPs that fit under `closeBytes` with what the
   * writer already holds. With no GOP sent, a stream with video waits for its next keyframe.
   */
  #startWriter(subscriber: Subscriber): void {
    const { writer } = subscriber;
    subscriber.started = true;
    subscriber.rebase(this.#fanned());
    writer.start();
    const room = this.#options.slowPlayer.closeBytes - writer.bufferedBytes;
    if (this.#cache.headerBytes > room) {
      this.#closeSlow(subscriber);
      return;
    }
    const { offset } = subscriber;
    const gops = this.#cache.forEachWithin(room, (packet) => {
      writer.write(packet);
      count(offset, packet.kind, packet.payload.length, 1);
    });
    if (gops === 0 && this.#hasVideo) {
      subscriber.skipping = true;
      subscriber.skippingSince = NOT_BEHIND;
    }
    writer.flush();
  }

  #removeWriter(writer: StreamWriter): void {
    const index = this.#subscribers.findIndex((s) => s.writer === writer);
    if (index === -1) return;
    addCounts(this.#departed, this.#subscribers[index].given(this.#fanned()));
    this.#subscribers.splice(index, 1);
    this.onWriterLeave?.(this, writer);
  }

  // PacketSink: called by the reader for every packet. This is the hot path.
  packet(input: MediaPacket): void {
    if (this.#offsetPending) {
      this.#offsetPending = false;
      this.#offset = this.#lastTimestamp + REPUBLISH_STEP_MS - input.timestamp;
    }
    const packet = this.#offset === 0 ? input : withTimestamp(input, (input.timestamp + this.#offset) >>> 0);
    const last = this.#lastTimestamp;
    // Ahead means less than 2^31 ms further, counted mod 2^32: past a wrap, 5 is ahead of 2^32 - 5.
    if (last < 0 || (packet.timestamp - last) >>> 0 < 0x80000000) this.#lastTimestamp = packet.timestamp;
    const size = packet.payload.length;
    this.#packets += 1;
    this.#bytes += size;
    const kind = packet.kind;
    const header = packet.sequenceHeader || kind === "script";
    if (kind === "video") {
      this.#videoBytes += size;
      this.#videoPackets += 1;
      this.#hasVideo = true;
      if (packet.keyframe) this.#resuming = false;
    } else if (kind === "audio") {
      this.#audioBytes += size;
      this.#audioPackets += 1;
    }
    if (this.#previousHeaders) this.#dropPreviousHeaders(packet);
    if (this.#resuming && header && this.#repeatsHeader(packet)) {
      this.#cache.add(packet); // same bytes, newer timestamp, for players that join later
      count(this.#unfanned, kind, size, 1);
      return;
    }
    this.#cache.add(packet);
    const subscribers = this.#subscribers;
    const immediate = this.#options.batchWindowMs <= 0;
    const policy = this.#options.slowPlayer;
    const skipBytes = policy.skipBytes;
    // A write must not take a player's backlog past closeBytes: past this, the player is closed.
    const closeAbove = policy.closeBytes - size;
    // A player that skipped resumes where a decoder can start: a keyframe, or any audio packet
    // of a stream without video.
    const resumable = packet.keyframe || (kind === "audio" && !this.#hasVideo && !packet.sequenceHeader);
    for (let i = 0; i < subscribers.length; i++) {
      const subscriber = subscribers[i];
      const writer = subscriber.writer;
      const buffered = writer.bufferedBytes;
      if (subscriber.skipping) {
        if (resumable && buffered < skipBytes && !subscriber.closing) {
          subscriber.skipping = false;
        } else {
          if (subscriber.closing) {
            count(subscriber.offset, kind, size, -1);
            continue;
          }
          // Headers still go through so the player's decoder stays configured.
          if (header) {
            if (buffered > closeAbove) {
              this.#closeSlow(subscriber);
              count(subscriber.offset, kind, size, -1);
            } else writer.write(packet);
            continue;
          }
          count(subscriber.offset, kind, size, -1);
          if (subscriber.skippingSince === NOT_BEHIND) {
            if (buffered > skipBytes) subscriber.skippingSince = Date.now();
          } else if (Date.now() - subscriber.skippingSince > policy.closeAfterMs) {
            this.#closeSlow(subscriber);
          }
          continue;
        }
      } else if (buffered > skipBytes && buffered <= closeAbove) {
        subscriber.skipping = true;
        subscriber.skippingSince = Date.now();
        this.#slowPlayerSkips += 1;
        debug("%s: player %s fell behind, skipping to the next keyframe", this.key, writer.info.id);
        // A header still goes through, as it does while skipping (it fits: buffered <= closeAbove).
        if (!header) {
          count(subscriber.offset, kind, size, -1);
          continue;
        }
      }
      if (buffered > closeAbove) {
        this.#closeSlow(subscriber);
        count(subscriber.offset, kind, size, -1);
        continue;
      }
      // Written: the player's counts follow the stream's with no work here (see Subscriber.offset).
      writer.write(packet);
    }
    if (subscribers.length === 0) return;
    if (immediate) {
      // No window: write once the reader has handed over everything it read in this turn of
      // the event loop (often an audio and a video packet together), adding no delay.
      if (!this.#flushQueued) {
        this.#flushQueued = true;
        queueMicrotask(this.#flushAll);
      }
    } else if (this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(this.#flushWindow, this.#options.batchWindowMs);
    }
  }

  /**
   * While the cache may hold the previous publisher's headers: note which headers the new one
   * sends, and at its first audio or video frame drop the cached headers it did not send.
   */
  #dropPreviousHeaders(packet: MediaPacket): void {
    if (packet.kind === "script") {
      if (isMetadata(packet.payload)) this.#headersSent |= 1;
    } else if (packet.sequenceHeader) {
      this.#headersSent |= packet.kind === "video" ? 2 : 4;
    } else {
      this.#previousHeaders = false;
      if ((this.#headersSent & 1) === 0) this.#cache.forgetHeader("script");
      if ((this.#headersSent & 2) === 0) this.#cache.forgetHeader("video");
      if ((this.#headersSent & 4) === 0) this.#cache.forgetHeader("audio");
    }
  }

  /** A header of the new publisher that is byte-equal to the one players already have. */
  #repeatsHeader(packet: MediaPacket): boolean {
    const cached =
      packet.kind === "script"
        ? isMetadata(packet.payload)
          ? this.#cache.metadata
          : undefined
        : packet.kind === "video"
          ? this.#cache.videoHeader
          : this.#cache.audioHeader;
    return cached?.payload.equals(packet.payload) === true;
  }

  #closeSlow(subscriber: Subscriber): void {
    if (subscriber.closing) return;
    subscriber.closing = true;
    subscriber.skipping = true;
    debug("%s: closing slow player %s", this.key, subscriber.writer.info.id);
    this.onSlowPlayer?.(this, subscriber.writer);
    // Closing removes the subscriber from the array we are iterating; defer to keep the loop simple.
    queueMicrotask(() =>
      subscriber.writer.close(
        new StreamError(
          StreamErrorCode.slowPlayer,
          `player ${subscriber.writer.info.id} fell too far behind`,
        ),
      ),
    );
  }

  // PacketSink: the reader ended.
  end(error?: Error): void {
    this.#flushAll();
    this.#clearTimers();
    const publisher = this.#reader?.info;
    this.#reader = undefined;
    // Headers stay: a publisher that comes back within the grace is compared with them.
    this.#cache.clearGops();
    if (publisher !== undefined) this.onReaderEnd?.(this, publisher, error);
  }

  /** End every writer with `error` (undefined = a normal end). */
  closeWriters(error?: Error): void {
    for (const subscriber of [...this.#subscribers]) subscriber.writer.close(error);
    // Writers that did not report their close at once leave now; their counts stay.
    const fanned = this.#fanned();
    for (const subscriber of this.#subscribers) addCounts(this.#departed, subscriber.given(fanned));
    this.#subscribers = [];
  }

  /** Drop timers; used when the hub forgets this stream. */
  dispose(): void {
    this.#clearTimers();
    this.#cache.clear();
  }

  #clearTimers(): void {
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    if (this.#sliceImmediate !== undefined) clearImmediate(this.#sliceImmediate);
    this.#flushTimer = undefined;
    this.#sliceImmediate = undefined;
  }
}
