/**
 * The fMP4 muxer: onair media packets (FLV tag bodies) in, an init segment and moof + mdat fragments
 * out. Pure: no timers, sockets or logging. Sequence headers configure the tracks; coded frames are
 * queued as samples until {@link Fmp4Muxer.flush} writes them as one fragment, so the caller (the
 * segmenter) decides where fragments, parts and segments start.
 *
 * Tracks: video is track 1, audio track 2 (fixed, whatever arrives first).
 *
 * Timescales:
 * - video 90 000 Hz: the HLS/MPEG convention, so ms timestamps and composition times convert exactly
 *   (× 90) and players that assume 90 kHz from TS (and tools that compare the variants) see the same
 *   numbers as in our MPEG-TS;
 * - audio its sample rate, so each AAC frame lasts exactly 1024 ticks (960 when the
 *   AudioSpecificConfig says so; twice that with explicit HE-AAC signalling, whose rate is the SBR
 *   output rate) and decode times never drift: they are counted in samples from the first frame and
 *   re-anchored to the packet timestamp only when the two differ by more than `audioResyncFrames`.
 *
 * Decode times: tfdt is the first queued sample's decode time (video: timestamp × 90). A sample lasts
 * until the next one of its track (a timestamp that goes back gives 0, never a negative duration); the
 * last video sample of a fragment lasts until `endMs` (or as long as the one before), the last audio
 * sample its frame length.
 *
 * In-band parameter sets (H.264, and HEVC alike): an avcC with no SPS/PPS (ffmpeg without a global header, as with
 * `-f tee`) configures no video track. The first keyframe that carries SPS and PPS gives one, with an
 * avcC built from them (lengthSizeMinusOne from the record, 3 when the frames are Annex B, which are
 * then rewritten length-prefixed); frames before it are refused (missingConfig). A later keyframe
 * whose SPS/PPS differ changes the init segment. {@link Fmp4Muxer.configuresVideo} says beforehand
 * when a frame will do either, so the caller can flush first.
 */
import type { MediaPacket } from "@onair/core";
import {
  type AudioTagHeader,
  parseAudioTagHeader,
  parseVideoTagHeader,
  type VideoTagHeader,
} from "@onair/flv";
import { HlsError, HlsErrorCode } from "../../errors.js";
import {
  findNalUnits,
  HEVC_NAL_TYPE,
  isAnnexBFrame,
  NAL_TYPE,
  parseAvcParameterSets,
  parseHevcParameterSets,
} from "../annex-b.js";
import { ByteOutput } from "../byte-output.js";
import {
  type AacConfig,
  MP3_OBJECT_TYPE,
  type Mp3Config,
  readAacConfig,
  readMp3Config,
} from "./audio-config.js";
import { encodeFragmentInto, type Fmp4Sample } from "./fragment.js";
import {
  encodeInitSegment,
  type Fmp4AudioTrack,
  type Fmp4Track,
  type Fmp4VideoTrack,
} from "./init-segment.js";
import {
  buildAvcConfigRecord,
  buildHevcConfigRecord,
  readAvcConfig,
  readHevcConfig,
} from "./video-config.js";

export const FMP4_TRACK_ID = { video: 1, audio: 2 } as const;
export const FMP4_VIDEO_TIMESCALE = 90_000;

/** Video sample duration before two frames were seen (1/30 s at 90 kHz). */
const DEFAULT_VIDEO_DURATION = 3000;
const MAX_DURATION = 0xffffffff;
/** trun's data_offset is a signed 32-bit number: keep every mdat well under 2 GiB. */
const MAX_PENDING_BYTES = 1024 * 1024 * 1024;
const MPEG4_AUDIO = 0x40;
const EMPTY = Buffer.alloc(0);

export interface Fmp4MuxerOptions {
  /**
   * Audio decode times are counted in samples; a packet whose timestamp is more than this many
   * frames away from that count (frames lost, a clock jump) re-anchors the count to it. Smaller
   * differences are timestamp rounding and jitter and are ignored. Default 2.
   */
  audioResyncFrames?: number;
  /** Bytes of sample data queued before push() refuses frames (`ERR_HLS_FRAGMENT_TOO_LARGE`) until flush(). Default 64 MiB, at most 1 GiB. */
  maxPendingBytes?: number;
}

/** The codecs of the tracks configured so far. */
export interface Fmp4Tracks {
  video: "avc1" | "hvc1" | undefined;
  audio: "mp4a" | "mp3" | undefined;
}

interface QueuedSample extends Fmp4Sample {
  /** Decode time in the track's timescale. */
  dts: number;
  /** The packet's timestamp (ms). */
  timestampMs: number;
}

/** An avcC/hvcC with no parameter sets: the video track waits for them in a keyframe. */
interface InBandState {
  hevc: boolean;
  /** The sequence header's record (to recognise a repeat). */
  record: Buffer;
  nalUnitLengthSize: number;
  /** The last frame body looked at for parameter sets, and the record they give (undefined: none, or no change). */
  probed: Buffer | undefined;
  probedRecord: Buffer | undefined;
  /** The parameter sets of the record built from them (left out of the samples: the sample entry has them). */
  sets: Buffer[];
}

interface AudioState {
  track: Fmp4AudioTrack;
  codec: "mp4a" | "mp3";
  codecString: string;
  /** Samples per frame in the track's timescale. */
  frameSamples: number;
}

/**
 * Muxes one live stream into fMP4. {@link push} each packet in order; {@link flush} whenever a
 * fragment (a segment, or an LL-HLS part) should end; {@link initSegment} for the EXT-X-MAP.
 * Throws `HlsError` for what it cannot write; the packet is skipped and the muxer stays usable.
 *
 * A sequence header that changes a track's configuration applies to the frames queued before it
 * too: flush() before pushing a sequence header (when `pendingSamples > 0`) to keep them under the
 * init segment they were coded for. A repeated identical sequence header changes nothing.
 */
export class Fmp4Muxer {
  readonly #audioResyncFrames: number;
  readonly #maxPendingBytes: number;
  #video: Fmp4VideoTrack | undefined;
  #audio: AudioState | undefined;
  #inBand: InBandState | undefined;
  #init: Buffer | undefined;
  #initVersion = 0;
  #sequenceNumber = 1;
  #videoSamples: QueuedSample[] = [];
  #audioSamples: QueuedSample[] = [];
  #pendingBytes = 0;
  #lastVideoDuration = DEFAULT_VIDEO_DURATION;
  /** The audio decode time the next frame gets if its timestamp agrees (track timescale). */
  #nextAudioDts: number | undefined;

  constructor(options: Fmp4MuxerOptions = {}) {
    this.#audioResyncFrames = Math.max(0, options.audioResyncFrames ?? 2);
    this.#maxPendingBytes = Math.min(
      MAX_PENDING_BYTES,
      Math.max(1, options.maxPendingBytes ?? 64 * 1024 * 1024),
    );
  }

  get tracks(): Fmp4Tracks {
    return { video: this.#video?.config.codec, audio: this.#audio?.codec };
  }

  /** RFC 6381 CODECS for the tracks so far, video first: "avc1.64001f,mp4a.40.2"; "" before any. */
  get codecs(): string {
    const codecs: string[] = [];
    if (this.#video !== undefined) codecs.push(this.#video.config.codecString);
    if (this.#audio !== undefined) codecs.push(this.#audio.codecString);
    return codecs.join(",");
  }

  /** Increments whenever the init segment changes (a new track, a changed sequence header); 0 before any track. */
  get initVersion(): number {
    return this.#initVersion;
  }

  /**
   * ftyp + moov for the tracks configured so far; undefined before any. The same Buffer is returned
   * until the configuration changes: do not modify it.
   */
  initSegment(): Buffer | undefined {
    if (this.#init === undefined) {
      const tracks: Fmp4Track[] = [];
      if (this.#video !== undefined) tracks.push(this.#video);
      if (this.#audio !== undefined) tracks.push(this.#audio.track);
      if (tracks.length === 0) return undefined;
      this.#init = encodeInitSegment(tracks);
    }
    return this.#init;
  }

  /** Samples (video and audio) queued since the last flush. */
  get pendingSamples(): number {
    return this.#videoSamples.length + this.#audioSamples.length;
  }

  /** Bytes of sample data queued since the last flush. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** The smallest packet timestamp (DTS, ms) among the queued samples; undefined when none are queued. */
  get pendingStartMs(): number | undefined {
    const video = this.#videoSamples[0]?.timestampMs;
    const audio = this.#audioSamples[0]?.timestampMs;
    if (video === undefined) return audio;
    return audio === undefined ? video : Math.min(video, audio);
  }

  /** The DTS span (ms) of the queued samples: newest timestamp − oldest, over both tracks; 0 when none. */
  get pendingDurationMs(): number {
    const start = this.pendingStartMs;
    if (start === undefined) return 0;
    const video = this.#videoSamples.at(-1)?.timestampMs ?? start;
    const audio = this.#audioSamples.at(-1)?.timestampMs ?? start;
    return Math.max(0, Math.max(video, audio) - start);
  }

  /**
   * Whether the queued samples start with a keyframe: the first queued video sample is a sync
   * sample. With no video track, true whenever samples are queued (every audio frame is a sync sample).
   */
  get pendingStartsWithKeyframe(): boolean {
    if (this.#video === undefined) return this.#audioSamples.length > 0;
    return this.#videoSamples[0]?.sync === true;
  }

  /**
   * Whether pushing `packet` will configure the video track, or change its configuration, from the
   * SPS/PPS in a keyframe (a stream whose avcC had none): like a sequence header, flush() before
   * pushing it when samples are pending. False at once for any other stream.
   */
  configuresVideo(packet: MediaPacket): boolean {
    if (this.#inBand === undefined || packet.kind !== "video" || packet.sequenceHeader || !packet.keyframe)
      return false;
    try {
      return this.#inBandRecord(packet.payload) !== undefined;
    } catch {
      return false; // push() will say what is wrong with it
    }
  }

  /** Configures a track (sequence headers) or queues a frame; script data and end-of-sequence are ignored. */
  push(packet: MediaPacket): void {
    if (packet.kind === "video") this.#pushVideo(packet);
    else if (packet.kind === "audio") this.#pushAudio(packet);
  }

  /**
   * moof + mdat holding every queued sample (an empty Buffer when none). `endMs`, the DTS of the
   * packet that will start the next fragment, gives the last video sample its duration; without it
   * (or when it is not after that sample), that sample lasts as long as the one before.
   */
  flush(endMs?: number): Buffer {
    if (this.pendingSamples === 0) return EMPTY;
    const output = new ByteOutput();
    this.flushInto(output, endMs);
    return output.buffer; // an empty output grows to exactly the fragment
  }

  /**
   * {@link flush}, written at the end of `output` (a segment being made in one Buffer); returns
   * the fragment's length, 0 when no sample is queued.
   */
  flushInto(output: ByteOutput, endMs?: number): number {
    if (this.pendingSamples === 0) return 0;
    const fragments = [];
    const video = this.#videoSamples;
    if (video.length > 0) {
      for (let i = 0; i + 1 < video.length; i++) {
        const duration = clampDuration(video[i + 1].dts - video[i].dts);
        video[i].duration = duration;
        if (duration > 0) this.#lastVideoDuration = duration;
      }
      const last = video[video.length - 1];
      const untilEnd = endMs === undefined ? 0 : Math.round(endMs * 90) - last.dts;
      if (untilEnd > 0) this.#lastVideoDuration = clampDuration(untilEnd);
      last.duration = this.#lastVideoDuration;
      fragments.push({
        trackId: FMP4_TRACK_ID.video,
        baseMediaDecodeTime: Math.max(0, video[0].dts),
        perSampleFlags: true,
        samples: video,
      });
    }
    const audio = this.#audioSamples;
    if (audio.length > 0 && this.#audio !== undefined) {
      for (let i = 0; i + 1 < audio.length; i++)
        audio[i].duration = clampDuration(audio[i + 1].dts - audio[i].dts);
      audio[audio.length - 1].duration = this.#audio.frameSamples;
      fragments.push({
        trackId: FMP4_TRACK_ID.audio,
        baseMediaDecodeTime: Math.max(0, audio[0].dts),
        perSampleFlags: false,
        samples: audio,
      });
    }
    const length = encodeFragmentInto(output, this.#sequenceNumber, fragments);
    this.#sequenceNumber = (this.#sequenceNumber + 1) >>> 0 || 1;
    this.#videoSamples = [];
    this.#audioSamples = [];
    this.#pendingBytes = 0;
    return length;
  }

  #changed(): void {
    this.#init = undefined;
    this.#initVersion += 1;
  }

  #queue(queue: QueuedSample[], sample: QueuedSample): void {
    const size = sample.data.length;
    if (this.#pendingBytes + size > this.#maxPendingBytes) {
      throw new HlsError(
        HlsErrorCode.fragmentTooLarge,
        `${this.#pendingBytes} bytes are queued for the next fragment; a frame of ${size} bytes would pass maxPendingBytes (${this.#maxPendingBytes}): flush() more often`,
      );
    }
    this.#pendingBytes += size;
    queue.push(sample);
  }

  #pushVideo(packet: MediaPacket): void {
    const body = packet.payload;
    if (body.length === 0) throw new HlsError(HlsErrorCode.truncated, "an empty video tag body");
    let header: VideoTagHeader;
    try {
      header = parseVideoTagHeader(body);
    } catch (cause) {
      throw new HlsError(HlsErrorCode.truncated, "a video tag body too short for its header", { cause });
    }
    if (header.frameType === 5 && header.packetType === undefined) return; // command frame
    if ((header.codec !== "avc" && header.codec !== "hevc") || header.multitrack) {
      throw new HlsError(
        HlsErrorCode.unsupportedCodec,
        `video codec ${header.multitrack ? "multitrack" : header.codec} cannot be written to fMP4`,
      );
    }
    const hevc = header.codec === "hevc";
    if (header.sequenceHeader) {
      const record = body.subarray(header.headerLength);
      const current = this.#video?.config;
      if (
        current !== undefined &&
        current.codec === (hevc ? "hvc1" : "avc1") &&
        current.record.equals(record)
      ) {
        return;
      }
      const params = hevc ? parseHevcParameterSets(record) : parseAvcParameterSets(record);
      if (params.sets.length === 0) {
        if (this.#inBand?.hevc === hevc && this.#inBand.record.equals(record)) return;
        this.#inBand = {
          hevc,
          record: Buffer.from(record),
          nalUnitLengthSize: params.nalUnitLengthSize,
          probed: undefined,
          probedRecord: undefined,
          sets: [],
        };
        if (this.#video !== undefined) {
          this.#video = undefined;
          this.#changed();
        }
        return;
      }
      const config = hevc ? readHevcConfig(record) : readAvcConfig(record);
      this.#inBand = undefined;
      this.#video = { kind: "video", id: FMP4_TRACK_ID.video, timescale: FMP4_VIDEO_TIMESCALE, config };
      this.#changed();
      return;
    }
    if (header.endOfSequence || header.packetType === 4 /* Enhanced metadata */) return;
    const inBand = this.#inBand?.hevc === hevc ? this.#inBand : undefined;
    if (inBand !== undefined && (packet.keyframe || header.keyframe)) {
      const record = this.#inBandRecord(body);
      if (record !== undefined) {
        this.#video = {
          kind: "video",
          id: FMP4_TRACK_ID.video,
          timescale: FMP4_VIDEO_TIMESCALE,
          config: hevc ? readHevcConfig(record) : readAvcConfig(record),
        };
        inBand.sets = (hevc ? parseHevcParameterSets(record) : parseAvcParameterSets(record)).sets;
        this.#changed();
      }
    }
    const config = this.#video?.config;
    if (config === undefined || config.codec !== (hevc ? "hvc1" : "avc1")) {
      throw new HlsError(
        HlsErrorCode.missingConfig,
        inBand === undefined
          ? `an ${header.codec} frame before its sequence header`
          : `an ${header.codec} frame before a keyframe with the parameter sets its sequence header lacked`,
      );
    }
    let data = body.subarray(header.headerLength);
    if (data.length === 0) return;
    if (inBand !== undefined) {
      // Annex B rewritten length-prefixed; copies of the sample entry's parameter sets left out
      // (hvc1 says its arrays are complete: none in the stream). Other frames pass as they are.
      const annexB = isAnnexBFrame(data, inBand.nalUnitLengthSize);
      if (annexB || packet.keyframe || header.keyframe) {
        data = sampleOf(data, inBand.nalUnitLengthSize, annexB, inBand.sets, config.nalUnitLengthSize);
        if (data.length === 0) return;
      }
    }
    const randomAccess = scanNalUnits(data, config.nalUnitLengthSize, hevc);
    this.#queue(this.#videoSamples, {
      data,
      dts: Math.round(packet.timestamp * 90),
      timestampMs: packet.timestamp,
      duration: 0,
      compositionOffset: Math.round(header.compositionTime * 90),
      sync: packet.keyframe || header.keyframe || randomAccess,
    });
  }

  /**
   * The avcC (hvcC) the SPS/PPS (VPS/SPS/PPS) in a frame body give (in-band state only), or
   * undefined when it has none or they are the ones configured. The last answer is kept: configuresVideo() then push() look once.
   */
  #inBandRecord(body: Buffer): Buffer | undefined {
    const state = this.#inBand as InBandState;
    if (state.probed !== body) {
      state.probed = undefined;
      state.probedRecord = undefined;
      const header = parseVideoTagHeader(body);
      const data = body.subarray(header.headerLength);
      const annexB = isAnnexBFrame(data, state.nalUnitLengthSize);
      const starts: number[] = [];
      const ends: number[] = [];
      findNalUnits(data, state.nalUnitLengthSize, annexB, starts, ends);
      const vps: Buffer[] = [];
      const sps: Buffer[] = [];
      const pps: Buffer[] = [];
      const [vpsType, spsType, ppsType] = state.hevc
        ? [HEVC_NAL_TYPE.vps, HEVC_NAL_TYPE.sps, HEVC_NAL_TYPE.pps]
        : [-1, NAL_TYPE.sps, NAL_TYPE.pps];
      for (let i = 0; i < starts.length; i++) {
        const type = state.hevc ? (data[starts[i]] >> 1) & 0x3f : data[starts[i]] & 0x1f;
        const list = type === spsType ? sps : type === ppsType ? pps : type === vpsType ? vps : undefined;
        list?.push(Buffer.from(data.subarray(starts[i], ends[i])));
      }
      const lengthSize = annexB ? 4 : state.nalUnitLengthSize;
      if (header.codec === (state.hevc ? "hevc" : "avc") && sps.length > 0 && pps.length > 0) {
        if (!state.hevc) state.probedRecord = buildAvcConfigRecord(sps, pps, lengthSize);
        else if (vps.length > 0) state.probedRecord = buildHevcConfigRecord(vps, sps, pps, lengthSize);
      }
      state.probed = body;
    }
    const record = state.probedRecord;
    return record === undefined || this.#video?.config.record.equals(record) ? undefined : record;
  }

  #pushAudio(packet: MediaPacket): void {
    const body = packet.payload;
    if (body.length === 0) throw new HlsError(HlsErrorCode.truncated, "an empty audio tag body");
    let header: AudioTagHeader;
    try {
      header = parseAudioTagHeader(body);
    } catch (cause) {
      throw new HlsError(HlsErrorCode.truncated, "an audio tag body too short for its header", { cause });
    }
    if (header.multitrack || (header.codec !== "aac" && header.codec !== "mp3")) {
      throw new HlsError(
        HlsErrorCode.unsupportedCodec,
        `audio codec ${header.multitrack ? "multitrack" : header.codec} cannot be written to fMP4`,
      );
    }
    const data = body.subarray(header.headerLength);
    if (header.codec === "aac") {
      if (header.sequenceHeader) {
        const current = this.#audio?.track.decoderSpecificInfo;
        if (current?.equals(data)) return;
        this.#setAudio(aacState(data, readAacConfig(data)));
        return;
      }
      if (header.endOfSequence || data.length === 0) return;
      if (this.#audio?.codec !== "mp4a") {
        throw new HlsError(HlsErrorCode.missingConfig, "an AAC frame before the AudioSpecificConfig");
      }
    } else {
      if (header.sequenceHeader || header.endOfSequence || data.length === 0) return;
      const mp3 = readMp3Config(data) ?? mp3FromTagHeader(header);
      const current = this.#audio;
      if (
        current === undefined ||
        current.codec !== "mp3" ||
        current.track.sampleRate !== mp3.sampleRate ||
        current.track.channels !== mp3.channels ||
        current.track.objectTypeIndication !== mp3.objectTypeIndication ||
        current.frameSamples !== mp3.frameSamples
      ) {
        this.#setAudio(mp3State(mp3));
      }
    }
    const audio = this.#audio as AudioState;
    const frame = audio.frameSamples;
    const measured = Math.round((packet.timestamp * audio.track.timescale) / 1000);
    let dts = this.#nextAudioDts;
    if (dts === undefined || Math.abs(measured - dts) > this.#audioResyncFrames * frame) dts = measured;
    this.#queue(this.#audioSamples, {
      data,
      dts,
      timestampMs: packet.timestamp,
      duration: 0,
      compositionOffset: 0,
      sync: true,
    });
    this.#nextAudioDts = dts + frame;
  }

  #setAudio(state: AudioState): void {
    if (this.#audio?.track.timescale !== state.track.timescale) this.#nextAudioDts = undefined;
    this.#audio = state;
    this.#changed();
  }
}

/**
 * A frame (Annex B, or `inLengthSize`-byte lengths) as a sample with `lengthSize`-byte NAL unit
 * lengths (ISO/IEC 14496-15), without the NAL units that are byte for byte one of `drop`. The frame
 * itself when it is already in that form and nothing is dropped.
 */
function sampleOf(
  frame: Buffer,
  inLengthSize: number,
  annexB: boolean,
  drop: Buffer[],
  lengthSize: number,
): Buffer {
  const starts: number[] = [];
  const ends: number[] = [];
  findNalUnits(frame, inLengthSize, annexB, starts, ends);
  let keep = 0;
  for (let i = 0; i < starts.length; i++) {
    const nal = frame.subarray(starts[i], ends[i]);
    let dropped = false;
    for (const set of drop) if (set.equals(nal)) dropped = true;
    if (dropped) continue;
    starts[keep] = starts[i];
    ends[keep] = ends[i];
    keep += 1;
  }
  if (!annexB && keep === starts.length && inLengthSize === lengthSize) return frame;
  starts.length = keep;
  ends.length = keep;
  let total = 0;
  for (let i = 0; i < starts.length; i++) {
    const length = ends[i] - starts[i];
    if (length >= 2 ** (8 * lengthSize)) {
      throw new HlsError(
        HlsErrorCode.truncated,
        `a NAL unit of ${length} bytes is too long for ${lengthSize}-byte lengths`,
      );
    }
    total += lengthSize + length;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < starts.length; i++) {
    out.writeUIntBE(ends[i] - starts[i], at, lengthSize);
    at += lengthSize;
    at += frame.copy(out, at, starts[i], ends[i]);
  }
  return out;
}

function clampDuration(duration: number): number {
  return duration <= 0 ? 0 : Math.min(duration, MAX_DURATION);
}

function aacState(asc: Buffer, config: AacConfig): AudioState {
  return {
    codec: "mp4a",
    codecString: `mp4a.40.${config.objectType}`,
    frameSamples: config.frameSamples,
    track: {
      kind: "audio",
      id: FMP4_TRACK_ID.audio,
      timescale: config.sampleRate,
      objectTypeIndication: MPEG4_AUDIO,
      channels: config.channels,
      sampleRate: config.sampleRate,
      decoderSpecificInfo: Buffer.from(asc),
    },
  };
}

function mp3FromTagHeader(header: AudioTagHeader): Mp3Config {
  const sampleRate = header.sampleRate > 0 ? header.sampleRate : 44_100;
  return {
    objectTypeIndication: sampleRate >= 32_000 ? MP3_OBJECT_TYPE.mpeg1Audio : MP3_OBJECT_TYPE.mpeg2Audio,
    sampleRate,
    frameSamples: sampleRate >= 32_000 ? 1152 : 576,
    channels: header.channels,
  };
}

function mp3State(config: Mp3Config): AudioState {
  return {
    codec: "mp3",
    codecString: config.objectTypeIndication === MP3_OBJECT_TYPE.mpeg1Audio ? "mp4a.6B" : "mp4a.69",
    frameSamples: config.frameSamples,
    track: {
      kind: "audio",
      id: FMP4_TRACK_ID.audio,
      timescale: config.sampleRate,
      objectTypeIndication: config.objectTypeIndication,
      channels: config.channels,
      sampleRate: config.sampleRate,
      decoderSpecificInfo: undefined,
    },
  };
}

/**
 * Walks the length-prefixed NAL units of a frame: throws `HlsError` (truncated) when a length runs
 * past the end; returns whether one is an IDR slice (H.264 type 5) or an IRAP picture (HEVC 16..23).
 */
function scanNalUnits(frame: Buffer, lengthSize: number, hevc: boolean): boolean {
  let randomAccess = false;
  for (let at = 0; at < frame.length; ) {
    if (at + lengthSize > frame.length) {
      throw new HlsError(HlsErrorCode.truncated, `a NAL unit length at byte ${at} runs past the frame`);
    }
    const length = frame.readUIntBE(at, lengthSize);
    const start = at + lengthSize;
    if (start + length > frame.length) {
      throw new HlsError(
        HlsErrorCode.truncated,
        `a NAL unit of ${length} bytes at byte ${at} runs past the frame`,
      );
    }
    if (length > 0) {
      if (hevc) {
        const type = (frame[start] >> 1) & 0x3f;
        if (type >= HEVC_NAL_TYPE.irapFirst && type <= HEVC_NAL_TYPE.irapLast) randomAccess = true;
      } else if ((frame[start] & 0x1f) === NAL_TYPE.idr) randomAccess = true;
    }
    at = start + length;
  }
  return randomAccess;
}
