import createDebug from "debug";
import { StreamError, StreamErrorCode } from "./errors.js";
import { GopCache } from "./gop-cache.js";
import type { MediaPacket } from "./media-packet.js";
import type { SlowPlayerPolicy } from "./slow-player-policy.js";
import type { PacketSink, StreamInfo, StreamReader, StreamWriter } from "./stream-types.js";

const debug = createDebug("onair:core:stream");

/**
 * Players flushed per turn of the event loop when a window ends. A window's batch for 1000
 * players is tens of ms of writes; slices let new connections in between them.
 */
const FLUSH_SLICE = 128;

export interface StreamOptions {
  gopCache: number;
  batchWindowMs: number;
  slowPlayer: SlowPlayerPolicy;
}

/** Per-player state the fan-out loop needs; one small object per player, made once. */
class Subscriber {
  /** Has had start() and the cache. */
  started = false;
  /** Waiting for a keyframe after falling behind. */
  skipping = false;
  skippingSince = 0;
  closing = false;
  constructor(readonly writer: StreamWriter) {}
}

/** Live statistics of one stream. */
export interface StreamStats {
  key: string;
  publisher: StreamInfo | undefined;
  players: StreamInfo[];
  packets: number;
  bytes: number;
  startedAt: number | undefined;
}

/**
 * One live stream: its reader, its writers and its GOP cache. Fans each packet out to every
 * writer; writers encode through `encodeOnce`, so each wire form is made once per packet.
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
  #startedAt: number | undefined;
  #hasVideo = false;
  /** Called when the reader ends (the hub decides what happens to the writers). */
  onReaderEnd: ((stream: Stream, publisher: StreamInfo, error?: Error) => void) | undefined;
  /** Called when a writer leaves, however it left. */
  onWriterLeave: ((stream: Stream, writer: StreamWriter) => void) | undefined;

  constructor(key: string, options: StreamOptions) {
    this.key = key;
    this.#options = options;
    this.#cache = new GopCache(options.gopCache);
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

  stats(): StreamStats {
    return {
      key: this.key,
      publisher: this.#reader?.info,
      players: this.#subscribers.map((s) => s.writer.info),
      packets: this.#packets,
      bytes: this.#bytes,
      startedAt: this.#startedAt,
    };
  }

  /** Take `reader` as this stream's source. Writers waiting for it start now. */
  setReader(reader: StreamReader): void {
    this.#reader = reader;
    this.#startedAt = Date.now();
    this.#hasVideo = false;
    this.#cache.clear();
    reader.attach(this);
    for (const subscriber of this.#subscribers) if (!subscriber.started) this.#startWriter(subscriber);
  }

  /** Add a writer. When live, it gets the cached headers and GOP at once; else it waits. */
  addWriter(writer: StreamWriter): void {
    const subscriber = new Subscriber(writer);
    this.#subscribers.push(subscriber);
    writer.onClose(() => this.#removeWriter(writer));
    if (this.#reader !== undefined) this.#startWriter(subscriber);
  }

  #startWriter(subscriber: Subscriber): void {
    const { writer } = subscriber;
    subscriber.started = true;
    writer.start();
    this.#cache.forEach((packet) => {
      writer.write(packet);
    });
    writer.flush();
  }

  #removeWriter(writer: StreamWriter): void {
    const index = this.#subscribers.findIndex((s) => s.writer === writer);
    if (index === -1) return;
    this.#subscribers.splice(index, 1);
    this.onWriterLeave?.(this, writer);
  }

  // PacketSink: called by the reader for every packet. This is the hot path.
  packet(packet: MediaPacket): void {
    this.#packets += 1;
    this.#bytes += packet.payload.length;
    if (packet.kind === "video") this.#hasVideo = true;
    this.#cache.add(packet);
    const subscribers = this.#subscribers;
    const immediate = this.#options.batchWindowMs <= 0;
    const policy = this.#options.slowPlayer;
    // A player that skipped resumes where a decoder can start: a keyframe, or any audio packet
    // of a stream without video.
    const resumable =
      packet.keyframe || (packet.kind === "audio" && !this.#hasVideo && !packet.sequenceHeader);
    for (let i = 0; i < subscribers.length; i++) {
      const subscriber = subscribers[i];
      const writer = subscriber.writer;
      if (subscriber.skipping) {
        if (resumable && writer.bufferedBytes < policy.skipBytes) {
          subscriber.skipping = false;
        } else {
          // Headers still go through so the player's decoder stays configured.
          if (packet.sequenceHeader || packet.kind === "script") writer.write(packet);
          else if (Date.now() - subscriber.skippingSince > policy.closeAfterMs) this.#closeSlow(subscriber);
          continue;
        }
      } else if (writer.bufferedBytes > policy.skipBytes) {
        if (writer.bufferedBytes > policy.closeBytes) {
          this.#closeSlow(subscriber);
          continue;
        }
        subscriber.skipping = true;
        subscriber.skippingSince = Date.now();
        debug("%s: player %s fell behind, skipping to the next keyframe", this.key, writer.info.id);
        continue;
      }
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

  #closeSlow(subscriber: Subscriber): void {
    if (subscriber.closing) return;
    subscriber.closing = true;
    subscriber.skipping = true;
    debug("%s: closing slow player %s", this.key, subscriber.writer.info.id);
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
    this.#cache.clear();
    if (publisher !== undefined) this.onReaderEnd?.(this, publisher, error);
  }

  /** End every writer with `error` (undefined = a normal end). */
  closeWriters(error?: Error): void {
    for (const subscriber of [...this.#subscribers]) subscriber.writer.close(error);
    this.#subscribers = [];
  }

  /** Drop timers; used when the hub forgets this stream. */
  dispose(): void {
    this.#clearTimers();
  }

  #clearTimers(): void {
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    if (this.#sliceImmediate !== undefined) clearImmediate(this.#sliceImmediate);
    this.#flushTimer = undefined;
    this.#sliceImmediate = undefined;
  }
}
