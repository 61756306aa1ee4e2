/**
 * The MPEG-TS muxer: onair media packets (FLV tag bodies) in, 188-byte transport packets out.
 * Pure: no timers, sockets or logging; the state is the codec configuration, the continuity
 * counters and the PMT version.
 *
 * Layout (the PIDs ffmpeg uses): PAT on PID 0, PMT on 0x1000, H.264 (stream type 0x1B) or HEVC (0x24) on 0x100,
 * audio on 0x101 (AAC as ADTS 0x0F, MP3 0x03 for MPEG-1 rates, 0x04 for MPEG-2 rates). The PCR rides
 * on the video PID, in the first TS packet of every video frame, `pcrDelayMs` behind its DTS; with no
 * video, on every audio frame.
 *
 * Timestamps: DTS = packet timestamp × 90, PTS = DTS + composition time × 90, both wrapped at 2^33.
 */
import type { MediaPacket } from "@onair/core";
import { parseAudioTagHeader, parseVideoTagHeader } from "@onair/flv";
import { HlsError, HlsErrorCode } from "../errors.js";
import { ADTS_HEADER_LENGTH, type AdtsConfig, parseAudioSpecificConfig, writeAdtsHeader } from "./adts.js";
import { type ParameterSets, parseAvcParameterSets, parseHevcParameterSets } from "./annex-b.js";
import { ByteOutput } from "./byte-output.js";
import {
  encodePat,
  encodePmt,
  type PesTimestamps,
  type PmtStream,
  wrap33,
  writePesHeader,
} from "./ts-packet.js";
import { addAnnexBAccessUnit, PesPieces, writePesPackets } from "./ts-pes-writer.js";

/** MPEG-TS stream_type values the muxer writes. */
export const TsStreamType = {
  /** ISO/IEC 11172-3 audio (MP3 at 32, 44.1 or 48 kHz). */
  mpeg1Audio: 0x03,
  /** ISO/IEC 13818-3 audio (MP3 at 16, 22.05 or 24 kHz, and MPEG-2.5 rates). */
  mpeg2Audio: 0x04,
  /** AAC in ADTS. */
  aacAdts: 0x0f,
  /** H.264 (Annex B). */
  h264: 0x1b,
  /** HEVC (Annex B). */
  hevc: 0x24,
} as const;

export type TsStreamType = (typeof TsStreamType)[keyof typeof TsStreamType];

export const TS_PID = { pat: 0x0000, pmt: 0x1000, video: 0x0100, audio: 0x0101 } as const;

const STREAM_ID = { video: 0xe0, audio: 0xc0 } as const;
const MS_TO_90KHZ = 90;
const EMPTY = Buffer.alloc(0);
/** The longest PES header written: 9 bytes and PTS and DTS. */
const MAX_PES_HEADER_LENGTH = 19;

export interface TsMuxerOptions {
  /** How far the PCR runs behind the DTS of the frame that carries it, in ms (never below 0). Default 100. */
  pcrDelayMs?: number;
}

/** The elementary streams the muxer has been configured with (what the PMT lists). */
export interface TsTracks {
  /** Stream type of the video PID, once an AVC or HEVC sequence header arrived. */
  video: TsStreamType | undefined;
  /** Stream type of the audio PID, once an AAC sequence header or the first MP3 frame arrived. */
  audio: TsStreamType | undefined;
}

/**
 * Muxes one live stream into MPEG-TS. Call {@link startSegment} at the start of every segment (it
 * returns PAT and PMT), then {@link push} each packet in order. Throws `HlsError` for what it cannot
 * write; the muxer stays usable after an error (the packet is skipped).
 */
export class TsMuxer {
  readonly #pcrDelayMs: number;
  #video: ParameterSets | undefined;
  #adts: AdtsConfig | undefined;
  #videoType: TsStreamType | undefined;
  #audioType: TsStreamType | undefined;
  #pmtVersion = 0;
  /** The track set changed since PAT/PMT were last written: write them before the next frame. */
  #pmtStale = false;
  /** Whether PAT/PMT were ever written. */
  #pmtWritten = false;
  #ccPat = 0;
  #ccPmt = 0;
  #ccVideo = 0;
  #ccAudio = 0;
  /** The payload pieces of the PES packet being written, and scratch room for its headers. */
  readonly #pieces = new PesPieces();
  readonly #pesHeader = Buffer.alloc(MAX_PES_HEADER_LENGTH);
  readonly #adtsHeader = Buffer.alloc(ADTS_HEADER_LENGTH);

  constructor(options: TsMuxerOptions = {}) {
    this.#pcrDelayMs = Math.max(0, options.pcrDelayMs ?? 100);
  }

  get tracks(): TsTracks {
    return { video: this.#videoType, audio: this.#audioType };
  }

  /** PAT and PMT (two TS packets) listing the tracks known so far; write them first in every segment. */
  startSegment(): Buffer {
    this.#pmtStale = false;
    this.#pmtWritten = true;
    const streams: PmtStream[] = [];
    if (this.#videoType !== undefined) streams.push({ streamType: this.#videoType, pid: TS_PID.video });
    if (this.#audioType !== undefined) streams.push({ streamType: this.#audioType, pid: TS_PID.audio });
    const pcrPid =
      this.#videoType !== undefined || this.#audioType === undefined ? TS_PID.video : TS_PID.audio;
    const pat = encodePat(TS_PID.pmt, this.#pmtVersion, this.#ccPat);
    const pmt = encodePmt(TS_PID.pmt, pcrPid, streams, this.#pmtVersion, this.#ccPmt);
    this.#ccPat = (this.#ccPat + 1) & 0x0f;
    this.#ccPmt = (this.#ccPmt + 1) & 0x0f;
    return Buffer.concat([pat, pmt]);
  }

  /**
   * The TS packets for one media packet: PES packets for audio and video frames, nothing for
   * sequence headers (they configure the muxer), script data and end-of-sequence. When a sequence
   * header adds a track or changes its stream type, the next frame's bytes start with a new PAT
   * and PMT (next version).
   */
  push(packet: MediaPacket): Buffer {
    const out = new ByteOutput();
    this.pushInto(packet, out);
    if (out.length === 0) return EMPTY;
    return out.length === out.buffer.length ? out.buffer : out.bytes();
  }

  /**
   * {@link push}, writing the TS packets at the end of `out` instead (one copy of each media byte,
   * into the packets). On an error nothing is written.
   */
  pushInto(packet: MediaPacket, out: ByteOutput): void {
    if (packet.kind === "video") this.#pushVideo(packet, out);
    else if (packet.kind === "audio") this.#pushAudio(packet, out);
  }

  /** {@link startSegment}, written at the end of `out`. */
  startSegmentInto(out: ByteOutput): void {
    out.append(this.startSegment());
  }

  #setTrack(kind: "video" | "audio", type: TsStreamType): void {
    const current = kind === "video" ? this.#videoType : this.#audioType;
    if (current === type) return;
    if (kind === "video") this.#videoType = type;
    else this.#audioType = type;
    if (this.#pmtWritten) this.#pmtVersion = (this.#pmtVersion + 1) & 0x1f;
    this.#pmtStale = true;
  }

  /** PAT/PMT before the next frame's bytes when the track set changed since they were last written. */
  #writeTables(out: ByteOutput): void {
    if (this.#pmtStale && this.#pmtWritten) this.startSegmentInto(out);
  }

  /** The PES header for `timestamps` as the first piece of the next PES packet. */
  #startPes(streamId: number, timestamps: PesTimestamps): PesPieces {
    const pieces = this.#pieces;
    pieces.clear();
    const header = this.#pesHeader;
    const length = writePesHeader(header, streamId, timestamps, false);
    pieces.add(header, 0, length);
    return pieces;
  }

  #pushVideo(packet: MediaPacket, out: ByteOutput): void {
    const body = packet.payload;
    if (body.length === 0) throw new HlsError(HlsErrorCode.truncated, "an empty video tag body");
    let header: ReturnType<typeof parseVideoTagHeader>;
    try {
      header = parseVideoTagHeader(body);
    } catch (cause) {
      throw new HlsError(HlsErrorCode.truncated, "a video tag body too short for its header", { cause });
    }
    if (header.frameType === 5 && header.packetType === undefined) return; // command frame
    if ((header.codec !== "avc" && header.codec !== "hevc") || header.multitrack) {
      throw new HlsError(
        HlsErrorCode.unsupportedCodec,
        `video codec ${header.multitrack ? "multitrack" : header.codec} cannot be written to MPEG-TS`,
      );
    }
    if (header.sequenceHeader) {
      const record = body.subarray(header.headerLength);
      const hevc = header.codec === "hevc";
      this.#video = hevc ? parseHevcParameterSets(record) : parseAvcParameterSets(record);
      this.#setTrack("video", hevc ? TsStreamType.hevc : TsStreamType.h264);
      return;
    }
    if (header.endOfSequence || header.packetType === 4 /* Enhanced metadata */) return;
    const params = this.#video;
    if (params === undefined || params.codec !== header.codec) {
      throw new HlsError(HlsErrorCode.missingConfig, `an ${header.codec} frame before its sequence header`);
    }
    const frame = body.subarray(header.headerLength);
    if (frame.length === 0) return;
    const dts = packet.timestamp * MS_TO_90KHZ;
    const pieces = this.#startPes(STREAM_ID.video, { dts, pts: dts + header.compositionTime * MS_TO_90KHZ });
    const keyframe = packet.keyframe || header.keyframe;
    const idr = addAnnexBAccessUnit(pieces, frame, params, keyframe);
    this.#writeTables(out);
    this.#ccVideo = writePesPackets(out, pieces, {
      pid: TS_PID.video,
      continuityCounter: this.#ccVideo,
      pcr: this.#pcr(packet.timestamp),
      randomAccess: idr || keyframe,
    });
    pieces.release();
  }

  #pcr(timestampMs: number): number {
    return wrap33(Math.max(0, timestampMs - this.#pcrDelayMs) * MS_TO_90KHZ);
  }

  #pushAudio(packet: MediaPacket, out: ByteOutput): void {
    const body = packet.payload;
    if (body.length === 0) throw new HlsError(HlsErrorCode.truncated, "an empty audio tag body");
    let header: ReturnType<typeof parseAudioTagHeader>;
    try {
      header = parseAudioTagHeader(body);
    } catch (cause) {
      throw new HlsError(HlsErrorCode.truncated, "an audio tag body too short for its header", { cause });
    }
    if (header.multitrack || (header.codec !== "aac" && header.codec !== "mp3")) {
      throw new HlsError(
        HlsErrorCode.unsupportedCodec,
        `audio codec ${header.multitrack ? "multitrack" : header.codec} cannot be written to MPEG-TS`,
      );
    }
    const data = body.subarray(header.headerLength);
    if (header.codec === "aac") {
      if (header.sequenceHeader) {
        this.#adts = parseAudioSpecificConfig(data);
        this.#setTrack("audio", TsStreamType.aacAdts);
        return;
      }
      if (header.endOfSequence || data.length === 0) return;
      const adts = this.#adts;
      if (adts === undefined) {
        throw new HlsError(HlsErrorCode.missingConfig, "an AAC frame before the AudioSpecificConfig");
      }
      this.#audioPes(packet.timestamp, data, adts, out);
      return;
    }
    if (header.sequenceHeader || header.endOfSequence || data.length === 0) return;
    this.#setTrack("audio", mp3StreamType(data, header.sampleRate));
    this.#audioPes(packet.timestamp, data, undefined, out);
  }

  /** One audio frame in one PES packet (ADTS header added when `adts` is given). */
  #audioPes(timestampMs: number, data: Buffer, adts: AdtsConfig | undefined, out: ByteOutput): void {
    const pts = timestampMs * MS_TO_90KHZ;
    const pieces = this.#startPes(STREAM_ID.audio, { pts, dts: pts });
    if (adts !== undefined) {
      writeAdtsHeader(this.#adtsHeader, 0, adts, data.length);
      pieces.add(this.#adtsHeader, 0, ADTS_HEADER_LENGTH);
    }
    pieces.add(data, 0, data.length);
    // PES_packet_length: what follows it, when it fits 16 bits (0 otherwise).
    const packetLength = pieces.total - 6;
    this.#pesHeader.writeUInt16BE(packetLength <= 0xffff ? packetLength : 0, 4);
    this.#writeTables(out);
    this.#ccAudio = writePesPackets(out, pieces, {
      pid: TS_PID.audio,
      continuityCounter: this.#ccAudio,
      pcr: this.#videoType === undefined ? this.#pcr(timestampMs) : -1,
      randomAccess: true,
    });
    pieces.release();
  }
}

/**
 * 0x03 for an MPEG-1 Layer III frame (version bits 11), 0x04 for MPEG-2 and 2.5; from the FLV
 * header's rate when the frame has no sync word.
 */
function mp3StreamType(frame: Buffer, headerRate: number): TsStreamType {
  if (frame.length >= 2 && frame[0] === 0xff && (frame[1] & 0xe0) === 0xe0) {
    return ((frame[1] >> 3) & 0x03) === 3 ? TsStreamType.mpeg1Audio : TsStreamType.mpeg2Audio;
  }
  return headerRate >= 32_000 || headerRate === 0 ? TsStreamType.mpeg1Audio : TsStreamType.mpeg2Audio;
}
