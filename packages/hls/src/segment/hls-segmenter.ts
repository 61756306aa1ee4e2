/**
 * One live stream's HLS output: a hub writer that muxes the stream's packets (MPEG-TS or fMP4),
 * cuts them into segments at keyframes (and, for Low-Latency HLS, into parts), keeps the newest
 * ones in memory under a byte bound, and renders the live playlist. One per stream, shared by every
 * viewer; the HTTP layer reads it through {@link HlsPlaylistSource}.
 *
 * Cutting (on the timeline of the lead track: video when the stream has video, else audio):
 * - a segment ends at the first video keyframe once it lasts `targetDurationMs` (less one frame,
 *   for timestamp jitter); with no video, at the first audio frame once it lasts that long;
 * - a segment that found no keyframe for max(30 s, 10 × target), or holds a quarter of
 *   `maxBytesPerStream`, ends at the next packet anyway (the next one then does not start at a keyframe);
 * - low-latency: a part ends before the lead frame that would take it past `partTargetMs`, and
 *   before a video keyframe once it lasts 85% of that, so parts that start with one are INDEPENDENT
 *   (an earlier keyframe stays inside the part: a shorter part that is neither INDEPENDENT nor the
 *   last of its segment is not allowed, RFC 8216bis 4.4.4.9, and an all-intra stream would get a
 *   part per frame);
 * - a discontinuity (a new publisher, a changed sequence header or track, timestamps that jump back
 *   or far forward) ends the segment at once; the next one has EXT-X-DISCONTINUITY, and its video
 *   starts at a keyframe (inter frames before it are dropped; audio goes on).
 */
import type { MediaPacket, StreamInfo, StreamWriter } from "@onair/core";
import { parseAudioTagHeader } from "@onair/flv";
import createDebug from "debug";
import { ByteOutput } from "../codec/byte-output.js";
import { Fmp4Muxer } from "../codec/fmp4/fmp4-muxer.js";
import { TsMuxer } from "../codec/ts-muxer.js";
import { HlsError, HlsErrorCode } from "../errors.js";
import type { HlsPlaylistSource, HlsResource, HlsVariant } from "../hls-source.js";
import {
  type MediaPlaylistModel,
  type PlaylistPart,
  type PlaylistSegment,
  renderMediaPlaylist,
} from "./media-playlist.js";
import {
  type BudgetMember,
  chargeBudget,
  type HlsSegmentBudget,
  joinBudget,
  reclaimBudget,
} from "./segment-budget.js";
import { SegmentFiles } from "./segment-files.js";

const debug = createDebug("onair:hls:segment");

export interface HlsSegmenterOptions {
  /** What to write; see {@link HlsVariant}. Default "low-latency". */
  variant?: HlsVariant;
  /**
   * A segment ends at the first keyframe once it lasts this long (ms). Default 1000: hls.js plays
   * a live TS/fMP4 stream three target durations behind its end, so 1 s segments on a 1 s GOP are
   * what keep its latency near 3 s. A longer GOP makes segments as long as the GOP.
   */
  targetDurationMs?: number;
  /**
   * Low-latency only: EXT-X-PART-INF PART-TARGET (ms); PART-HOLD-BACK is three times it, and that
   * is where hls.js plays (its target latency). Default 200: 0.6 s of hold-back, five parts per
   * 1 s segment at 25, 30, 50 and 60 fps.
   */
  partTargetMs?: number;
  /** Complete segments listed in the live playlist. Default 6. Three more are kept (not listed) for late fetchers. */
  windowSegments?: number;
  /**
   * Bytes one stream may hold (segments, parts, init sections, samples queued for the next
   * fragment). Past it the oldest segments are dropped, even ones still listed. Default 32 MiB.
   */
  maxBytesPerStream?: number;
  /** How long HlsStreams keeps an ended playlist (with EXT-X-ENDLIST) before dropping it (ms). Default 30 000. */
  keepAfterEndMs?: number;
  /**
   * Also write the segments and the playlist to DIR/APP/NAME.m3u8 and DIR/APP/NAME/ (a regular
   * playlist, without parts), deleting segments as they leave the memory window. A stream whose
   * app or name is not a safe path component is not written (its memory output still works).
   */
  dir?: string;
  /** The first media sequence number. Default 0 (HlsStreams continues an ended stream's numbers). */
  mediaSequence?: number;
  /** The first discontinuity sequence number. Default 0. */
  discontinuitySequence?: number;
  /** A byte budget shared with other segmenters (HlsStreams gives one to all of a hub's streams). */
  budget?: HlsSegmentBudget;
}

export const HLS_SEGMENTER_DEFAULTS = Object.freeze({
  variant: "low-latency" as HlsVariant,
  targetDurationMs: 1000,
  partTargetMs: 200,
  windowSegments: 6,
  maxBytesPerStream: 32 * 1024 * 1024,
  keepAfterEndMs: 30_000,
});

/** What a segmenter holds and has done, for stats and dashboards. */
export interface HlsSegmenterStats {
  key: string;
  variant: HlsVariant;
  ended: boolean;
  /** Complete segments held (the listed window and the few kept after it). */
  segments: number;
  /** Bytes held: segments, parts, init sections, samples queued. */
  bytes: number;
  lastMsn: number;
  targetDurationS: number;
  /** RFC 6381 codecs of the fMP4 tracks ("" for TS). */
  codecs: string;
  /** Packets the muxer refused (HlsError) or that were dropped while waiting for a keyframe. */
  skippedPackets: number;
  /** The code of the last HlsError. */
  lastError: string | undefined;
  /** Segments dropped while still listed, to stay under a byte bound. */
  evictedInWindow: number;
  /** The media sequence number the next segment gets. */
  nextMediaSequence: number;
  /** The discontinuity sequence number of a segment after a discontinuity now. */
  nextDiscontinuitySequence: number;
  /** Files that failed to be written to or deleted from `dir`. */
  fileErrors: number;
}

/** Complete segments kept after the listed window, for clients that read the playlist just before it moved. */
const EXTRA_SEGMENTS = 3;
/** A segment with no keyframe is cut anyway after max(this, 10 target durations). */
const MIN_MAX_SEGMENT_MS = 30_000;
/** A timestamp this far behind the last one of its track is a jump back. */
const BACK_JUMP_MS = 500;
/** A timestamp more than max(this, 3 target durations) ahead of the newest is a jump forward. */
const MIN_FORWARD_JUMP_MS = 5000;
/** Parts may run this long past the part target: timestamps are whole ms, frame durations not. */
const PART_SLACK_MS = 1;
/** RFC 8216bis 4.4.4.9: a part that is neither INDEPENDENT nor the last of its segment lasts at least this share of PART-TARGET. */
const MIN_PART_SHARE = 0.85;

/**
 * PART-TARGET for lead frames `frameMs` apart. Parts are whole frames, at most PART-TARGET long and,
 * except INDEPENDENT and last ones, at least 85% of it (RFC 8216bis 4.4.4.9). Some rates fit no
 * whole number of frames in that band: 200 ms at 24 fps holds 4 frames, 167 ms, under 85%. Then
 * the target grows to one more frame (each counted 1 ms long, as timestamps are whole ms).
 */
export function fitPartTarget(configuredMs: number, frameMs: number): number {
  const frames = Math.floor((configuredMs + PART_SLACK_MS) / frameMs);
  if (frames >= 1 && frames * frameMs >= MIN_PART_SHARE * configuredMs) return configuredMs;
  return (frames + 1) * (Math.ceil(frameMs) + 1) + PART_SLACK_MS;
}
/** A segment made in one Buffer (TS, low-latency fMP4) keeps it when at most this share of it is unused (else a trimmed copy). */
const MAX_SLACK_SHARE = 1 / 8;
/** The first such segment's Buffer (it grows by doubling; the next ones are sized from the last). */
const FIRST_TS_SEGMENT_CAPACITY = 64 * 1024;
/** Playlist texts cached per uriQuery between two changes. */
const PLAYLIST_CACHE_SIZE = 16;

const CONTENT_TYPE = { ts: "video/mp2t", video: "video/mp4", audio: "audio/mp4" } as const;

let tokenCounter = 0;

/** Unique per segmenter in this process (and across restarts): start time and a counter, base 36. */
function uniqueToken(): string {
  tokenCounter += 1;
  return `${Date.now().toString(36).padStart(9, "0")}${tokenCounter.toString(36)}`;
}

interface PartRecord extends PlaylistPart {
  readonly length: number;
}

interface SegmentRecord extends PlaylistSegment {
  readonly msn: number;
  readonly startMs: number;
  durationMs: number;
  /** EXT-X-PROGRAM-DATE-TIME in ms. */
  readonly dateMs: number;
  programDateTime: string | undefined;
  map: string | undefined;
  readonly parts: PartRecord[];
  /** The bytes so far (fMP4 fragments); one Buffer once complete (TS too). */
  chunks: Buffer[];
  /** TS and low-latency fMP4: the segment in progress, written into one Buffer (sized from the last segments). */
  out: ByteOutput | undefined;
  /** Bytes of `chunks` (of `out`, for TS). */
  length: number;
  /** Bytes of the segment's Buffer past its end, held with it (and counted in the budget). */
  slack: number;
  contentType: string;
  /**
   * It has a video frame. A keyframe ends a segment only after one: a segment that began with
   * audio (after a discontinuity) keeps the keyframe its video starts with.
   */
  hasVideo: boolean;
}

type Kind = "audio" | "video";

function checkNumber(name: string, value: number, min: number): void {
  if (!(Number.isFinite(value) && value >= min)) {
    throw new RangeError(`HlsSegmenter ${name} must be a number >= ${min}, got ${value}`);
  }
}

/** The options with their defaults; throws RangeError for a bad one. */
export function resolveSegmenterOptions(options: HlsSegmenterOptions) {
  const variant = options.variant ?? HLS_SEGMENTER_DEFAULTS.variant;
  if (variant !== "ts" && variant !== "fmp4" && variant !== "low-latency") {
    throw new RangeError(`HlsSegmenter variant must be "ts", "fmp4" or "low-latency", got ${variant}`);
  }
  const targetMs = options.targetDurationMs ?? HLS_SEGMENTER_DEFAULTS.targetDurationMs;
  const partTargetMs = options.partTargetMs ?? HLS_SEGMENTER_DEFAULTS.partTargetMs;
  const window = options.windowSegments ?? HLS_SEGMENTER_DEFAULTS.windowSegments;
  const maxBytes = options.maxBytesPerStream ?? HLS_SEGMENTER_DEFAULTS.maxBytesPerStream;
  const keepAfterEndMs = options.keepAfterEndMs ?? HLS_SEGMENTER_DEFAULTS.keepAfterEndMs;
  const mediaSequence = options.mediaSequence ?? 0;
  const discontinuitySequence = options.discontinuitySequence ?? 0;
  checkNumber("targetDurationMs", targetMs, 100);
  checkNumber("partTargetMs", partTargetMs, 20);
  if (variant === "low-latency" && partTargetMs > targetMs) {
    throw new RangeError(
      `HlsSegmenter partTargetMs (${partTargetMs}) must not exceed targetDurationMs (${targetMs})`,
    );
  }
  checkNumber("windowSegments", window, 1);
  checkNumber("maxBytesPerStream", maxBytes, 1);
  checkNumber("keepAfterEndMs", keepAfterEndMs, 0);
  checkNumber("mediaSequence", mediaSequence, 0);
  checkNumber("discontinuitySequence", discontinuitySequence, 0);
  return {
    variant,
    targetMs,
    partTargetMs,
    window: Math.floor(window),
    maxBytes,
    keepAfterEndMs,
    mediaSequence: Math.floor(mediaSequence),
    discontinuitySequence: Math.floor(discontinuitySequence),
  };
}

/** TS bytes `[start, end)` that start with a PAT packet (PID 0). */
function startsWithPat(bytes: Buffer, start: number, end: number): boolean {
  return end - start >= 188 && bytes[start] === 0x47 && (bytes.readUInt16BE(start + 1) & 0x1fff) === 0;
}

function isMp3(payload: Buffer): boolean {
  try {
    return parseAudioTagHeader(payload).codec === "mp3";
  } catch {
    return false;
  }
}

/**
 * The HLS segmenter of one live stream. Give it to a hub with `hub.handleWriter(segmenter)` (or use
 * {@link HlsStreams}, which makes one per published stream); serve it through its
 * {@link HlsPlaylistSource} side.
 */
export class HlsSegmenter implements StreamWriter, HlsPlaylistSource {
  readonly info: StreamInfo;
  readonly key: string;
  readonly variant: HlsVariant;
  /** The segmenter never falls behind: what it is given is muxed at once. */
  readonly bufferedBytes = 0;
  readonly #targetMs: number;
  /** PART-TARGET: the configured one, fitted to the frame rate at the second lead frame (see fitPartTarget). */
  #partTargetMs: number;
  #partTargetFitted = false;
  readonly #window: number;
  readonly #maxBytes: number;
  readonly #maxSegmentBytes: number;
  readonly #maxSegmentMs: number;
  readonly #forwardJumpMs: number;
  readonly #lowLatency: boolean;
  readonly #token: string;
  readonly #uriPrefix: string;
  readonly #firstMsn: number;
  readonly #firstDiscontinuitySequence: number;
  readonly #ts: TsMuxer | undefined;
  readonly #fmp4: Fmp4Muxer | undefined;
  readonly #files: SegmentFiles | undefined;
  readonly #budget: HlsSegmentBudget | undefined;
  #leaveBudget: (() => void) | undefined;

  readonly #segments: SegmentRecord[] = [];
  #current: SegmentRecord | undefined;
  readonly #resources = new Map<string, HlsResource>();
  #nextMsn: number;
  #lastCompleteMsn = -1;
  /** Discontinuities of segments no longer held. */
  #droppedDiscontinuities = 0;
  #nextPartId = 0;
  #hintFile: string;
  #partStartMs = 0;
  #targetDurationS: number;

  /** Last timestamp per track, the newest overall, and the wall clock when the newest came. */
  #lastVideoTs = -1;
  #lastAudioTs = -1;
  #maxTs = -1;
  #maxTsWall = 0;
  /** EXT-X-PROGRAM-DATE-TIME: the date (ms) of media time `#dateAnchorTs` (-1: anchor at the next segment). */
  #dateAnchorTs = -1;
  #dateAnchorWall = 0;
  /** Where the newest segment's date ends (ms). */
  #lastDateEnd = 0;
  #lastLeadTs = -1;
  /** The lead track's last frame interval (ms). */
  #leadDelta = 0;
  #hasVideo = false;
  #hasAudio = false;
  #mediaStarted = false;
  #waitKeyframe = false;
  #discontinuityNext = false;
  #videoHeader: Buffer | undefined;
  #audioHeader: Buffer | undefined;
  #videoUnsupported = false;
  #audioUnsupported = false;

  #bytes = 0;
  /** The byte length of the last two segments made in one Buffer (what the next one's Buffer is sized from). */
  #lastSegmentLength = 0;
  #previousSegmentLength = 0;
  /** Payload bytes pushed into the fMP4 muxer since its last flush (an estimate of what it queues). */
  #pending = 0;
  #ended = false;
  #disposed = false;
  readonly #changeListeners = new Set<() => void>();
  #closeListeners: ((error?: Error) => void)[] = [];
  readonly #playlists = new Map<string, string>();
  #skipped = 0;
  #lastError: string | undefined;
  #evictedInWindow = 0;

  constructor(info: StreamInfo, options: HlsSegmenterOptions = {}) {
    const { variant, targetMs, partTargetMs, window, maxBytes, mediaSequence, discontinuitySequence } =
      resolveSegmenterOptions(options);
    this.info = info;
    this.key = info.key;
    this.variant = variant;
    this.#targetMs = targetMs;
    this.#partTargetMs = partTargetMs;
    this.#window = window;
    this.#maxBytes = maxBytes;
    this.#maxSegmentBytes = Math.max(1, Math.floor(maxBytes / 4));
    this.#maxSegmentMs = Math.max(MIN_MAX_SEGMENT_MS, 10 * targetMs);
    this.#forwardJumpMs = Math.max(MIN_FORWARD_JUMP_MS, 3 * targetMs);
    this.#lowLatency = variant === "low-latency";
    this.#token = uniqueToken();
    this.#uriPrefix = `${encodeURIComponent(info.name)}/`;
    this.#firstMsn = mediaSequence;
    this.#nextMsn = mediaSequence;
    this.#firstDiscontinuitySequence = discontinuitySequence;
    // Numbers that continue another segmenter's: its first segment follows that one's last.
    this.#discontinuityNext = mediaSequence > 0;
    this.#targetDurationS = Math.max(1, Math.ceil(targetMs / 1000));
    this.#hintFile = this.#partFile(0);
    if (variant === "ts") this.#ts = new TsMuxer();
    else this.#fmp4 = new Fmp4Muxer();
    this.#files =
      options.dir === undefined ? undefined : SegmentFiles.create(options.dir, info.app, info.name);
    this.#budget = options.budget;
    if (this.#budget !== undefined) this.#leaveBudget = joinBudget(this.#budget, this.#budgetMember());
  }

  // ---- HlsPlaylistSource -------------------------------------------------------------------

  get ended(): boolean {
    return this.#ended;
  }

  get lastMsn(): number {
    if (this.#lowLatency && this.#current !== undefined) return this.#current.msn;
    return this.#lastCompleteMsn;
  }

  get lastPart(): number {
    if (!this.#lowLatency) return -1;
    if (this.#current !== undefined) return this.#current.parts.length - 1;
    const last = this.#segments.at(-1);
    return last !== undefined && last.msn === this.#lastCompleteMsn ? last.parts.length - 1 : -1;
  }

  get partTargetMs(): number {
    return this.#lowLatency ? this.#partTargetMs : 0;
  }

  get targetDurationS(): number {
    return this.#targetDurationS;
  }

  /**
   * Whether segment `msn` is complete, or (low-latency, `part` given) its part `part` is. A part
   * index past the last part of a complete segment means part 0 of the next one (RFC 8216bis
   * 6.2.5.2). Segments that already left the window count as there.
   */
  has(msn: number, part?: number): boolean {
    if (!this.#lowLatency || part === undefined) return msn <= this.#lastCompleteMsn;
    let m = msn;
    let p = part;
    for (;;) {
      if (m <= this.#lastCompleteMsn) {
        const segment = this.#segmentByMsn(m);
        if (segment === undefined || p < segment.parts.length) return true;
        m += 1;
        p = 0;
        continue;
      }
      const current = this.#current;
      return current !== undefined && current.msn === m && p < current.parts.length;
    }
  }

  playlist(uriQuery?: string): string {
    const cacheKey = uriQuery ?? "";
    const cached = this.#playlists.get(cacheKey);
    if (cached !== undefined) return cached;
    const text = renderMediaPlaylist(this.#model(this.#lowLatency), uriQuery);
    if (this.#playlists.size < PLAYLIST_CACHE_SIZE) this.#playlists.set(cacheKey, text);
    return text;
  }

  resource(file: string): HlsResource | undefined {
    return this.#resources.get(file);
  }

  isPreloadHint(file: string): boolean {
    return this.#lowLatency && !this.#ended && file === this.#hintFile;
  }

  onChange(listener: () => void): () => void {
    const wrapped = (): void => listener();
    this.#changeListeners.add(wrapped);
    return () => {
      this.#changeListeners.delete(wrapped);
    };
  }

  // ---- StreamWriter ------------------------------------------------------------------------

  start(): void {}

  write(packet: MediaPacket): void {
    if (this.#ended) return;
    const kind = packet.kind;
    if (kind === "script") return;
    try {
      if (packet.sequenceHeader) this.#header(packet, kind);
      else this.#media(packet, kind);
    } catch (error) {
      // A bug here must not reach the hub's fan-out loop (other players share it).
      this.#skip(error);
    }
  }

  flush(): void {}

  /** A new publisher took over (the hub calls this within its republish grace). */
  discontinuity(): void {
    if (this.#ended) return;
    this.#interrupt();
  }

  /** Ends the stream: the segment in progress is completed and the playlist gets EXT-X-ENDLIST. Idempotent. */
  close(error?: Error): void {
    if (this.#ended) return;
    if (this.#current !== undefined) this.#closeSegment(this.#endOfLast(), false);
    this.#ended = true;
    this.#writePlaylistFile();
    this.#changed();
    const listeners = this.#closeListeners;
    this.#closeListeners = [];
    for (const listener of listeners) {
      try {
        listener(error);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  onClose(listener: (error?: Error) => void): void {
    if (this.#ended) listener();
    else this.#closeListeners.push(listener);
  }

  // ---- Beyond the interfaces ---------------------------------------------------------------

  /**
   * Completes the segment in progress now (HlsStreams calls this when the publisher leaves, so
   * the stream's last second is playable while the hub waits for it to come back).
   */
  endSegment(): void {
    if (this.#ended || this.#current === undefined) return;
    this.#closeSegment(this.#endOfLast(), true);
  }

  /**
   * Drops everything held (memory, budget, files in `dir`) and every listener; closes first if
   * needed. HlsStreams calls it `keepAfterEndMs` after the end. Idempotent.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.close();
    this.#disposed = true;
    this.#leaveBudget?.(); // gives back what it holds
    this.#leaveBudget = undefined;
    this.#bytes = 0;
    this.#pending = 0;
    this.#segments.length = 0;
    this.#current = undefined;
    this.#resources.clear();
    this.#playlists.clear();
    this.#files?.removeAll();
    this.#changeListeners.clear();
  }

  /** The folder `dir` output goes to (DIR/APP/NAME), if any. */
  get directory(): string | undefined {
    return this.#files?.folder;
  }

  /** Resolves when the files queued for `dir` so far are written (or failed). */
  settled(): Promise<void> {
    return this.#files?.settled() ?? Promise.resolve();
  }

  /**
   * Whether the stream can have HLS output: false once every track it sent was refused as an
   * unsupported codec (AV1, Opus...) and none could be muxed.
   */
  get playable(): boolean {
    return this.#hasVideo || this.#hasAudio || !(this.#videoUnsupported || this.#audioUnsupported);
  }

  stats(): HlsSegmenterStats {
    return {
      key: this.key,
      variant: this.variant,
      ended: this.#ended,
      segments: this.#segments.length,
      bytes: this.#bytes,
      lastMsn: this.lastMsn,
      targetDurationS: this.#targetDurationS,
      codecs: this.#fmp4?.codecs ?? "",
      skippedPackets: this.#skipped,
      lastError: this.#lastError,
      evictedInWindow: this.#evictedInWindow,
      nextMediaSequence: this.#nextMsn,
      nextDiscontinuitySequence: this.#discontinuitySequenceAt(this.#segments.length) + 1,
      fileErrors: this.#files?.errors ?? 0,
    };
  }

  // ---- Packets -----------------------------------------------------------------------------

  #header(packet: MediaPacket, kind: Kind): void {
    const previous = kind === "video" ? this.#videoHeader : this.#audioHeader;
    if (previous?.equals(packet.payload)) return; // a repeat (some encoders send one per keyframe)
    // A changed configuration, or a track that appears mid-stream: a new init section (fMP4),
    // new parameter sets (TS). What came before is written under the old one.
    if (this.#mediaStarted) this.#interrupt();
    try {
      this.#push(packet);
    } catch (error) {
      this.#reject(kind, error);
      return;
    }
    if (kind === "video") {
      this.#videoHeader = packet.payload;
      this.#videoUnsupported = false;
    } else {
      this.#audioHeader = packet.payload;
      this.#audioUnsupported = false;
    }
    this.#readTracks();
  }

  #media(packet: MediaPacket, kind: Kind): void {
    const video = kind === "video";
    // fMP4 of H.264 whose sequence header had no SPS/PPS: a keyframe carrying them configures the
    // track, or changes it, as a sequence header would (a new init section). Audio of the first
    // moments (ffmpeg sends it before that keyframe) stays in the segment, unless some of it is out.
    const configures = video && this.#fmp4?.configuresVideo(packet) === true;
    if (configures && this.#mediaStarted) {
      const current = this.#current;
      if (!this.#hasVideo && current !== undefined && current.length === 0) {
        const map = current.map;
        current.map = undefined;
        this.#releaseMap(map);
      } else this.#interrupt();
    }
    if (!configures && (video ? !this.#hasVideo : !this.#hasAudio)) {
      // No track for it yet: the muxer refuses the frame (no sequence header, a codec it cannot
      // write), except MP3, which has no sequence header: its first frame adds the track.
      if (video || !isMp3(packet.payload)) {
        if (video ? this.#videoUnsupported : this.#audioUnsupported) {
          this.#skipped += 1;
          return;
        }
        try {
          this.#push(packet);
        } catch (error) {
          this.#reject(kind, error);
        }
        return;
      }
      if (this.#mediaStarted) this.#interrupt();
    }
    const t = packet.timestamp;
    if (this.#maxTs >= 0) {
      const last = video ? this.#lastVideoTs : this.#lastAudioTs;
      if ((last >= 0 && t < last - BACK_JUMP_MS) || t > this.#maxTs + this.#forwardJumpMs) {
        this.#interrupt();
        this.#lastVideoTs = -1;
        this.#lastAudioTs = -1;
        this.#lastLeadTs = -1;
        this.#maxTs = -1;
      }
    }
    if (video && this.#waitKeyframe) {
      if (!packet.keyframe) {
        this.#skipped += 1;
        return;
      }
      this.#waitKeyframe = false;
    }
    if (video) this.#lastVideoTs = t;
    else this.#lastAudioTs = t;
    if (t > this.#maxTs) {
      this.#maxTs = t;
      this.#maxTsWall = Date.now();
    }
    const lead = video || !this.#hasVideo;
    const current = this.#current;
    if (current === undefined) {
      this.#openSegment(t);
    } else {
      const age = t - current.startMs;
      if (age >= this.#maxSegmentMs || current.length + this.#pending >= this.#maxSegmentBytes) {
        this.#cut(t);
      } else if (
        lead &&
        (!video || (packet.keyframe && current.hasVideo)) &&
        age + this.#leadDelta >= this.#targetMs
      ) {
        this.#cut(t);
      } else if (this.#lowLatency && lead && this.#partDue(t, video && packet.keyframe)) {
        this.#closePart(t, true);
      }
    }
    if (lead) {
      if (this.#lastLeadTs >= 0 && t > this.#lastLeadTs) this.#leadDelta = t - this.#lastLeadTs;
      if (this.#lowLatency && !this.#partTargetFitted && this.#leadDelta > 0) {
        // Fixed once, before the first part can end: PART-TARGET never changes in a playlist.
        this.#partTargetFitted = true;
        this.#partTargetMs = Math.min(this.#targetMs, fitPartTarget(this.#partTargetMs, this.#leadDelta));
      }
      this.#lastLeadTs = t;
    }
    const needsTrack = video ? !this.#hasVideo : !this.#hasAudio;
    const segment = this.#current as SegmentRecord;
    // TS: PAT and PMT start each segment, listing the tracks (an MP3 track exists once its first frame is in).
    const fresh = this.#ts !== undefined && segment.length === 0;
    if (fresh && !needsTrack) this.#appendTables(segment);
    const ts = this.#ts;
    const out = segment.out;
    const queuedBefore = this.#fmp4?.pendingBytes ?? 0;
    const before = out?.length ?? 0;
    try {
      // TS: written at the end of the segment's Buffer (nothing is written when it throws).
      if (ts !== undefined && out !== undefined) ts.pushInto(packet, out);
      else (this.#fmp4 as Fmp4Muxer).push(packet);
    } catch (error) {
      this.#reject(kind, error);
      this.#enforceBudget(); // a part or PAT/PMT written for it still counts
      return;
    }
    this.#mediaStarted = true;
    if (needsTrack) this.#readTracks();
    if (video) segment.hasVideo = true;
    if (ts !== undefined && out !== undefined) {
      // The muxer already put PAT/PMT in front of the bytes of a track it did not list yet, unless
      // it never wrote them before.
      if (fresh && needsTrack && !startsWithPat(out.buffer, before, out.length)) {
        // Rare (a track's first frame, e.g. MP3's, in a fresh segment): the tables go in front.
        const frame = Buffer.from(out.buffer.subarray(before, out.length));
        out.length = before;
        this.#appendTables(segment);
        out.append(frame);
      }
      this.#charge(out.length - segment.length);
      segment.length = out.length;
    } else {
      // What the muxer queued (end-of-sequence tags, empty frames and the like queue nothing).
      const queued = (this.#fmp4 as Fmp4Muxer).pendingBytes - queuedBefore;
      this.#pending += queued;
      this.#charge(queued);
      if (segment.map === undefined) segment.map = this.#initFile();
    }
    this.#enforceBudget();
  }

  /** The muxer's bytes for `packet` (TS), or undefined when it queued it (fMP4). Throws HlsError. */
  #push(packet: MediaPacket): Buffer | undefined {
    if (this.#ts !== undefined) return this.#ts.push(packet);
    (this.#fmp4 as Fmp4Muxer).push(packet);
    return undefined;
  }

  #readTracks(): void {
    if (this.#ts !== undefined) {
      const tracks = this.#ts.tracks;
      this.#hasVideo = tracks.video !== undefined;
      this.#hasAudio = tracks.audio !== undefined;
    } else {
      const tracks = (this.#fmp4 as Fmp4Muxer).tracks;
      this.#hasVideo = tracks.video !== undefined;
      this.#hasAudio = tracks.audio !== undefined;
    }
  }

  #reject(kind: Kind, error: unknown): void {
    if (error instanceof HlsError && error.code === HlsErrorCode.unsupportedCodec) {
      if (kind === "video") this.#videoUnsupported = true;
      else this.#audioUnsupported = true;
    }
    this.#skip(error);
  }

  #skip(error: unknown): void {
    this.#skipped += 1;
    const code = error instanceof HlsError ? error.code : undefined;
    // One line per kind of error in a row, not one per packet.
    if (code === undefined || code !== this.#lastError) {
      debug("%s: packet skipped: %s", this.key, error instanceof Error ? error.message : String(error));
    }
    this.#lastError = code ?? (error instanceof Error ? error.message : "error");
  }

  // ---- Segments and parts ------------------------------------------------------------------

  /** A discontinuity: the segment in progress ends now, the next one is marked and starts at a keyframe. */
  #interrupt(): void {
    if (this.#current !== undefined) this.#closeSegment(this.#endOfLast(), true);
    if (this.#nextMsn > this.#firstMsn) this.#discontinuityNext = true;
    this.#waitKeyframe = true;
    this.#dateAnchorTs = -1; // timestamps may not go on from here
  }

  /** Where the media so far ends: the last lead frame plus its duration. */
  #endOfLast(): number {
    return Math.max(this.#maxTs, this.#lastLeadTs + this.#leadDelta);
  }

  #partDue(t: number, keyframe: boolean): boolean {
    // Never a part of no duration (audio queued at the timestamp of the keyframe that follows it).
    const age = t - this.#partStartMs;
    if (age <= 0 || (this.#fmp4 as Fmp4Muxer).pendingSamples === 0) return false;
    if (keyframe && age >= MIN_PART_SHARE * this.#partTargetMs) return true;
    // Before a frame interval is known (the stream's second lead frame), this one's stands for the next.
    const delta =
      this.#leadDelta > 0 || this.#lastLeadTs < 0 ? this.#leadDelta : Math.max(0, t - this.#lastLeadTs);
    return age + delta > this.#partTargetMs + PART_SLACK_MS;
  }

  #cut(t: number): void {
    this.#closeSegment(t, true);
    this.#openSegment(t);
  }

  #openSegment(t: number): void {
    // Its date, known from its first part on (a playlist only grows at the end): media time from
    // an anchor taken once per timeline (the first segment, and the first after each
    // discontinuity), so bursts or stalls in arrival never date two segments alike (RFC 8216bis
    // 6.2.1). The anchor is the wall clock of this frame (when the newest frame came, less the
    // media time between), never before the end of the last date given.
    if (this.#dateAnchorTs < 0) {
      const wall = (this.#maxTs >= 0 ? this.#maxTsWall : Date.now()) - Math.max(0, this.#maxTs - t);
      this.#dateAnchorWall = Math.max(wall, this.#lastDateEnd);
      this.#dateAnchorTs = t;
    }
    const dateMs = this.#dateAnchorWall + (t - this.#dateAnchorTs);
    const msn = this.#nextMsn;
    this.#nextMsn += 1;
    const ts = this.#ts;
    const segment: SegmentRecord = {
      msn,
      file: `${this.#token}-${msn}${ts === undefined ? ".m4s" : ".ts"}`,
      startMs: t,
      durationMs: 0,
      discontinuity: this.#discontinuityNext,
      dateMs,
      programDateTime: new Date(dateMs).toISOString(),
      map: undefined,
      parts: [],
      chunks: [],
      // TS and low-latency fMP4 (whose parts are views of it) are written into one Buffer.
      out: ts !== undefined || this.#lowLatency ? new ByteOutput(this.#segmentCapacity()) : undefined,
      length: 0,
      slack: 0,
      contentType: CONTENT_TYPE.ts,
      hasVideo: false,
    };
    this.#discontinuityNext = false;
    this.#partStartMs = t;
    this.#current = segment;
  }

  #appendTables(segment: SegmentRecord): void {
    const out = segment.out as ByteOutput;
    (this.#ts as TsMuxer).startSegmentInto(out);
    this.#charge(out.length - segment.length);
    segment.length = out.length;
  }

  /**
   * The Buffer of a new segment (TS, low-latency fMP4): the longer of the last two segments and a sixteenth, so a
   * steady stream writes each segment into one allocation, kept as is when it closes.
   */
  #segmentCapacity(): number {
    const last = Math.max(this.#lastSegmentLength, this.#previousSegmentLength);
    if (last === 0) return Math.min(FIRST_TS_SEGMENT_CAPACITY, this.#maxSegmentBytes);
    return Math.ceil((last * (1 + MAX_SLACK_SHARE / 2)) / 188) * 188;
  }

  /** The complete segment's bytes (TS, low-latency fMP4): its Buffer, or a trimmed copy when too much of it is unused. */
  #segmentBytes(segment: SegmentRecord, out: ByteOutput): Buffer {
    segment.out = undefined;
    this.#previousSegmentLength = this.#lastSegmentLength;
    this.#lastSegmentLength = out.length;
    const slack = out.buffer.length - out.length;
    if (slack <= out.length * MAX_SLACK_SHARE) {
      segment.slack = slack;
      this.#charge(slack);
      return out.bytes();
    }
    const bytes = Buffer.allocUnsafeSlow(out.length);
    out.buffer.copy(bytes, 0, 0, out.length);
    return bytes;
  }

  /** fMP4: the queued samples become one fragment of the segment in progress (a part, in low-latency mode). */
  #closePart(endMs: number, notify: boolean): void {
    const fmp4 = this.#fmp4 as Fmp4Muxer;
    const segment = this.#current as SegmentRecord;
    if (fmp4.pendingSamples === 0) return;
    const independent = fmp4.pendingStartsWithKeyframe;
    const out = segment.out;
    let bytes: Buffer;
    if (out === undefined) bytes = fmp4.flush(endMs);
    else {
      // Written into the segment's Buffer: the part is a view of it (a later growth of that
      // Buffer leaves the view on the old one, whose bytes never change).
      const before = out.length;
      fmp4.flushInto(out, endMs);
      bytes = out.buffer.subarray(before, out.length);
    }
    this.#charge(bytes.length - this.#pending);
    this.#pending = 0;
    const start = this.#partStartMs;
    this.#partStartMs = endMs;
    if (bytes.length === 0) return;
    if (out === undefined) segment.chunks.push(bytes);
    segment.length += bytes.length;
    if (!this.#lowLatency) return;
    const id = this.#nextPartId;
    this.#nextPartId += 1;
    const file = this.#partFile(id);
    this.#hintFile = this.#partFile(id + 1);
    segment.parts.push({ file, durationMs: Math.max(0, endMs - start), independent, length: bytes.length });
    this.#resources.set(file, { bytes, contentType: this.#fmp4ContentType() });
    if (notify) this.#changed();
  }

  #closeSegment(endMs: number, notify: boolean): void {
    const segment = this.#current;
    if (segment === undefined) return;
    if (this.#fmp4 !== undefined) this.#closePart(endMs, false);
    this.#current = undefined;
    // PAT and PMT are two TS packets; any PES adds at least one more.
    const onlyTables = this.#ts !== undefined && segment.length <= 2 * 188;
    if (segment.length === 0 || onlyTables) {
      // Nothing was muxed into it (its packets were refused): it never existed.
      this.#charge(-segment.length);
      this.#releaseMap(segment.map);
      this.#nextMsn = segment.msn;
      if (segment.discontinuity) this.#discontinuityNext = true;
      return;
    }
    segment.durationMs = Math.max(1, endMs - segment.startMs);
    const out = segment.out;
    const bytes =
      out !== undefined
        ? this.#segmentBytes(segment, out)
        : segment.chunks.length === 1
          ? segment.chunks[0]
          : Buffer.concat(segment.chunks, segment.length);
    segment.chunks = [bytes];
    if (this.#fmp4 !== undefined) segment.contentType = this.#fmp4ContentType();
    const resource: HlsResource = { bytes, contentType: segment.contentType };
    this.#resources.set(segment.file, resource);
    // Parts become views of the segment's Buffer: their own Buffers are let go (no double memory).
    let offset = 0;
    for (const part of segment.parts) {
      this.#resources.set(part.file, {
        bytes: bytes.subarray(offset, offset + part.length),
        contentType: segment.contentType,
      });
      offset += part.length;
    }
    this.#lastDateEnd = segment.dateMs + segment.durationMs;
    this.#targetDurationS = Math.max(this.#targetDurationS, Math.round(segment.durationMs / 1000));
    this.#segments.push(segment);
    this.#lastCompleteMsn = segment.msn;
    this.#files?.write(segment.file, bytes);
    while (this.#segments.length > this.#window + EXTRA_SEGMENTS) this.#evictOldest();
    this.#enforceBudget();
    this.#writePlaylistFile();
    if (notify) this.#changed();
  }

  #partFile(id: number): string {
    return `${this.#token}-p${id}.m4s`;
  }

  #fmp4ContentType(): string {
    return this.#hasVideo || !this.#hasAudio ? CONTENT_TYPE.video : CONTENT_TYPE.audio;
  }

  /** The init section's file for the muxer's current configuration, made on first use. */
  #initFile(): string {
    const fmp4 = this.#fmp4 as Fmp4Muxer;
    const file = `${this.#token}-i${fmp4.initVersion}.mp4`;
    if (!this.#resources.has(file)) {
      const bytes = fmp4.initSegment() ?? Buffer.alloc(0);
      this.#resources.set(file, { bytes, contentType: this.#fmp4ContentType() });
      this.#charge(bytes.length);
      this.#files?.write(file, bytes);
    }
    return file;
  }

  /** Lets the init section `map` go (resource, file, bytes) when no segment held or in progress names it. */
  #releaseMap(map: string | undefined): void {
    if (map === undefined || this.#current?.map === map || this.#segments.some((s) => s.map === map)) return;
    const init = this.#resources.get(map);
    if (init === undefined) return;
    this.#resources.delete(map);
    this.#files?.remove(map);
    this.#charge(-init.bytes.length);
  }

  #segmentByMsn(msn: number): SegmentRecord | undefined {
    const first = this.#segments[0];
    if (first === undefined) return undefined;
    const segment = this.#segments[msn - first.msn];
    // Numbers are consecutive, except after a segment in progress was dropped.
    return segment?.msn === msn ? segment : this.#segments.find((s) => s.msn === msn);
  }

  // ---- Memory ------------------------------------------------------------------------------

  #charge(delta: number): void {
    if (delta === 0) return;
    this.#bytes += delta;
    if (this.#budget !== undefined && this.#leaveBudget !== undefined) chargeBudget(this.#budget, delta);
  }

  #enforceBudget(): void {
    while (this.#bytes > this.#maxBytes && this.#segments.length > 0) this.#evictOldest();
    const budget = this.#budget;
    if (budget !== undefined && budget.bytes > budget.maxBytes) reclaimBudget(budget);
  }

  #evictOldest(): void {
    const listed = this.#segments.length <= this.#window;
    const segment = this.#segments.shift();
    if (segment === undefined) return;
    if (listed) {
      this.#evictedInWindow += 1;
      debug("%s: segment %d dropped while listed (byte bound)", this.key, segment.msn);
    }
    if (segment.discontinuity) this.#droppedDiscontinuities += 1;
    this.#resources.delete(segment.file);
    for (const part of segment.parts) this.#resources.delete(part.file);
    this.#files?.remove(segment.file);
    let freed = segment.length + segment.slack;
    const map = segment.map;
    if (map !== undefined && this.#segments[0]?.map !== map && this.#current?.map !== map) {
      const init = this.#resources.get(map);
      if (init !== undefined) freed += init.bytes.length;
      this.#resources.delete(map);
      this.#files?.remove(map);
    }
    this.#charge(-freed);
    if (listed) {
      this.#playlists.clear();
      this.#writePlaylistFile(); // the file on disk must not name the segment just deleted
    }
  }

  /** Drops the segment in progress (the shared budget is over and this stream holds nothing else). */
  #dropCurrent(): void {
    const segment = this.#current;
    if (segment === undefined) return;
    if (this.#fmp4 !== undefined) {
      (this.#fmp4 as Fmp4Muxer).flush();
      this.#charge(-this.#pending);
      this.#pending = 0;
    }
    this.#current = undefined;
    for (const part of segment.parts) this.#resources.delete(part.file);
    this.#charge(-segment.length);
    if (segment.map !== undefined && this.#segments.length === 0) {
      const init = this.#resources.get(segment.map);
      if (init !== undefined) this.#charge(-init.bytes.length);
      this.#resources.delete(segment.map);
    }
    // Its number is not used again (its parts may have been fetched); with nothing held before
    // it, the playlist just starts after it.
    this.#evictedInWindow += 1;
    if (segment.discontinuity) this.#droppedDiscontinuities += 1;
    this.#discontinuityNext = true;
    this.#waitKeyframe = true;
    this.#changed();
  }

  #budgetMember(): BudgetMember {
    return {
      bytes: () => this.#bytes,
      segments: () => this.#segments.length,
      evictOldest: () => this.#evictOldest(),
      dropCurrent: () => this.#dropCurrent(),
    };
  }

  // ---- Playlist ----------------------------------------------------------------------------

  /** The discontinuity sequence number of the segment at `index` of the held segments (before its own tag). */
  #discontinuitySequenceAt(index: number): number {
    let count = this.#firstDiscontinuitySequence + this.#droppedDiscontinuities;
    for (let i = 0; i < index && i < this.#segments.length; i++) {
      if (this.#segments[i].discontinuity) count += 1;
    }
    return count;
  }

  #model(lowLatency: boolean): MediaPlaylistModel {
    const first = Math.max(0, this.#segments.length - this.#window);
    const segments = first === 0 ? this.#segments : this.#segments.slice(first);
    const current = this.#current;
    const mediaSequence = segments[0]?.msn ?? current?.msn ?? this.#nextMsn;
    let partsFrom = segments.length;
    if (lowLatency) {
      // Parts of (at least) the last three target durations.
      const span = 3 * this.#targetDurationS * 1000;
      let sum = 0;
      while (partsFrom > 0 && sum < span) {
        partsFrom -= 1;
        sum += segments[partsFrom].durationMs;
      }
    }
    return {
      version: this.#ts !== undefined ? 3 : 6,
      targetDurationS: this.#targetDurationS,
      mediaSequence,
      discontinuitySequence: this.#discontinuitySequenceAt(first),
      segments,
      lowLatency: lowLatency
        ? {
            partTargetMs: this.#partTargetMs,
            partHoldBackMs: 3 * this.#partTargetMs,
            partsFrom,
            inProgress: current,
            preloadHint: this.#hintFile,
          }
        : undefined,
      ended: this.#ended,
      uriPrefix: this.#uriPrefix,
    };
  }

  #writePlaylistFile(): void {
    if (this.#files === undefined || this.#disposed) return;
    this.#files.playlist(renderMediaPlaylist(this.#model(false)));
  }

  #changed(): void {
    this.#playlists.clear();
    for (const listener of this.#changeListeners) {
      try {
        listener();
      } catch {
        // a listener's failure is its own
      }
    }
  }
}
