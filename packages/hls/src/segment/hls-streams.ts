/**
 * The HLS output of every stream of a hub: one HlsSegmenter per published stream, made when the
 * hub emits `publish` and given to it as a writer, all under one byte budget. This is what the
 * HTTP layer is given ({@link HlsSourceDirectory}).
 *
 * Lifecycle of one stream's segmenter:
 * - publish: a segmenter is made and starts with the hub's headers and GOP cache;
 * - unpublish: its segment in progress is completed (the tail is playable during the grace);
 * - republish within the hub's grace: the same segmenter goes on (the hub calls discontinuity());
 * - the hub ends it (no publisher came back): EXT-X-ENDLIST; it is served `keepAfterEndMs` more,
 *   then dropped. A publisher that comes in that time gets a new segmenter at once, whose numbers
 *   continue the ended one's (its file names never collide with it: each has its own token).
 */
import { nextStreamId, type StreamHub, type StreamInfo } from "@onair/core";
import createDebug from "debug";
import type { HlsPlaylistSource, HlsSourceDirectory } from "../hls-source.js";
import { HlsSegmenter, type HlsSegmenterOptions, resolveSegmenterOptions } from "./hls-segmenter.js";
import { HlsSegmentBudget } from "./segment-budget.js";

const debug = createDebug("onair:hls:segment");

export interface HlsStreamsOptions extends HlsSegmenterOptions {
  /**
   * Bytes all the streams' segmenters may hold together. Past it the biggest stream loses its
   * oldest segment first. Default 512 MiB (about 150 streams of 3 Mb/s with 1 s segments). Ignored
   * when `budget` is given.
   */
  maxTotalBytes?: number;
  /** Which streams get HLS output. Default: all. */
  filter?: (publisher: StreamInfo) => boolean;
}

export const HLS_STREAMS_DEFAULTS = Object.freeze({
  maxTotalBytes: 512 * 1024 * 1024,
});

export interface HlsStreamsStats {
  /** Streams with a playlist: live ones and ended ones still kept. */
  streams: number;
  /** Of those, the ended ones. */
  ended: number;
  /** Bytes held by all of them. */
  bytes: number;
  maxTotalBytes: number;
  /** Complete segments held by all of them. */
  segments: number;
  /** Packets refused by the muxers or dropped waiting for a keyframe. */
  skippedPackets: number;
  /** Segments dropped while still listed, to stay under a byte bound. */
  evictedInWindow: number;
}

export class HlsStreams implements HlsSourceDirectory {
  readonly #hub: StreamHub;
  readonly #options: HlsSegmenterOptions & { budget: HlsSegmentBudget };
  readonly #keepAfterEndMs: number;
  readonly #filter: ((publisher: StreamInfo) => boolean) | undefined;
  readonly #segmenters = new Map<string, HlsSegmenter>();
  readonly #dropTimers = new Map<HlsSegmenter, NodeJS.Timeout>();
  #closed = false;

  constructor(hub: StreamHub, options: HlsStreamsOptions = {}) {
    // Only the segmenter's own options (a server passes its whole options object here).
    const segmenterOptions: HlsSegmenterOptions = {
      variant: options.variant,
      targetDurationMs: options.targetDurationMs,
      partTargetMs: options.partTargetMs,
      windowSegments: options.windowSegments,
      maxBytesPerStream: options.maxBytesPerStream,
      keepAfterEndMs: options.keepAfterEndMs,
      dir: options.dir,
    };
    const { maxTotalBytes, filter } = options;
    const { keepAfterEndMs } = resolveSegmenterOptions(segmenterOptions); // throws for a bad option now
    const budget =
      options.budget ?? new HlsSegmentBudget(maxTotalBytes ?? HLS_STREAMS_DEFAULTS.maxTotalBytes);
    this.#options = { ...segmenterOptions, budget };
    this.#hub = hub;
    this.#keepAfterEndMs = keepAfterEndMs;
    this.#filter = filter;
    hub.on("publish", this.#onPublish);
    hub.on("unpublish", this.#onUnpublish);
    // Streams already live when this is made get a segmenter too.
    for (const stream of hub.streams()) {
      const reader = stream.reader;
      if (reader !== undefined) this.#onPublish(reader.info);
    }
  }

  /** The HLS output of APP/NAME: live, or ended and still kept. Undefined when none, or when none of its codecs can be muxed. */
  get(app: string, name: string): HlsPlaylistSource | undefined {
    const segmenter = this.#segmenters.get(`${app}/${name}`);
    return segmenter?.playable === true ? segmenter : undefined;
  }

  /** The segmenter of a key ("app/name"), whatever its state; for stats and tests. */
  segmenter(key: string): HlsSegmenter | undefined {
    return this.#segmenters.get(key);
  }

  stats(): HlsStreamsStats {
    let ended = 0;
    let segments = 0;
    let skippedPackets = 0;
    let evictedInWindow = 0;
    for (const segmenter of this.#segmenters.values()) {
      const stats = segmenter.stats();
      if (stats.ended) ended += 1;
      segments += stats.segments;
      skippedPackets += stats.skippedPackets;
      evictedInWindow += stats.evictedInWindow;
    }
    return {
      streams: this.#segmenters.size,
      ended,
      bytes: this.#options.budget.bytes,
      maxTotalBytes: this.#options.budget.maxBytes,
      segments,
      skippedPackets,
      evictedInWindow,
    };
  }

  /** Ends every segmenter and drops what they hold, clears the timers, stops following the hub. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#hub.off("publish", this.#onPublish);
    this.#hub.off("unpublish", this.#onUnpublish);
    for (const timer of this.#dropTimers.values()) clearTimeout(timer);
    this.#dropTimers.clear();
    const segmenters = [...this.#segmenters.values()];
    this.#segmenters.clear();
    for (const segmenter of segmenters) segmenter.dispose();
  }

  #onPublish = (publisher: StreamInfo): void => {
    if (this.#closed) return;
    if (this.#filter !== undefined && !this.#filter(publisher)) return;
    const { key } = publisher;
    const existing = this.#segmenters.get(key);
    // Within the republish grace the segmenter is still the hub's writer: it got discontinuity().
    if (existing !== undefined && !existing.ended) return;
    let continued: { mediaSequence: number; discontinuitySequence: number } | undefined;
    if (existing !== undefined) {
      const stats = existing.stats();
      continued = {
        mediaSequence: stats.nextMediaSequence,
        discontinuitySequence: stats.nextDiscontinuitySequence - 1,
      };
      this.#drop(existing);
    }
    // The segmenter's own info: an HLS output, not the publisher's peer.
    const { remoteAddress: _publisherAddress, ...stream } = publisher;
    const segmenter = new HlsSegmenter(
      {
        ...stream,
        id: nextStreamId("hls-"),
        url: `/${encodeURIComponent(publisher.app)}/${encodeURIComponent(publisher.name)}.m3u8`,
      },
      { ...this.#options, ...continued },
    );
    this.#segmenters.set(key, segmenter);
    debug("%s: segmenter %s (%s)", key, segmenter.info.id, segmenter.variant);
    segmenter.onClose(() => this.#onEnded(segmenter));
    this.#hub.handleWriter(segmenter);
  };

  #onUnpublish = (publisher: StreamInfo): void => {
    this.#segmenters.get(publisher.key)?.endSegment();
  };

  #onEnded(segmenter: HlsSegmenter): void {
    if (this.#closed || this.#segmenters.get(segmenter.key) !== segmenter) return;
    debug("%s: ended, kept %d ms", segmenter.key, this.#keepAfterEndMs);
    if (this.#keepAfterEndMs === 0) {
      this.#drop(segmenter);
      return;
    }
    const timer = setTimeout(() => this.#drop(segmenter), this.#keepAfterEndMs);
    timer.unref();
    this.#dropTimers.set(segmenter, timer);
  }

  #drop(segmenter: HlsSegmenter): void {
    const timer = this.#dropTimers.get(segmenter);
    if (timer !== undefined) clearTimeout(timer);
    this.#dropTimers.delete(segmenter);
    if (this.#segmenters.get(segmenter.key) === segmenter) this.#segmenters.delete(segmenter.key);
    segmenter.dispose();
  }
}
