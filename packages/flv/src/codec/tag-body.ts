/**
 * The first bytes of an FLV audio or video tag body (= an RTMP audio/video message body): which
 * codec, keyframe or not, codec configuration or not. Payloads are never changed; only these flags
 * are read, once, on ingest.
 *
 * Legacy video (Adobe FLV spec v10.1, E.4.3):
 *
 *   frameType:4 codecId:4 | codecId 7 (AVC) or 12 (HEVC): avcPacketType:8 compositionTime:SI24
 *
 * Enhanced video (veovera Enhanced RTMP v1/v2), when bit 7 of the first byte (IsExHeader) is set:
 *
 *   1 frameType:3 packetType:4
 *   [ModEx]*      while packetType is 7: size-1:8 (255 → size-1:16), size bytes, modExType:4 packetType:4
 *   command:8     when frameType is 5 and packetType is not Metadata; nothing else follows
 *   multitrack    when packetType is 6: multitrackType:4 packetType:4, then the FourCC unless the
 *                 type is ManyTracksManyCodecs, then per track [FourCC] trackId:8 [trackSize:24]
 *   FourCC:32     otherwise
 *   CTS:SI24      when packetType is CodedFrames and the FourCC is avc1, hvc1 or vvc1
 *
 * Legacy audio (E.4.2): soundFormat:4 soundRate:2 soundSize:1 soundType:1 | soundFormat 10 (AAC):
 * aacPacketType:8. Enhanced audio is soundFormat 9: the low four bits are the AudioPacketType, then
 * ModEx and multitrack as for video, then the FourCC.
 */
import { createMediaPacket, type MediaKind, type MediaPacket } from "@onair/core";
import { FlvError, FlvErrorCode } from "../errors.js";

export type VideoCodec =
  | "avc"
  | "hevc"
  | "av1"
  | "vp9"
  | "h263"
  | "screen"
  | "vp6"
  | "vp6a"
  | "screen2"
  | "unknown";

export interface VideoTagHeader {
  codec: VideoCodec;
  /** Legacy 4-bit codec id (2 H.263 ... 7 AVC, 12 HEVC); 0 when enhanced. */
  codecId: number;
  /** The Enhanced RTMP FourCC ("avc1", "hvc1", "av01", "vp09", ...); undefined for legacy tags and command frames. */
  fourCc: string | undefined;
  /** The IsExHeader bit is set (Enhanced RTMP). */
  enhanced: boolean;
  /** 1 key, 2 inter, 3 disposable inter, 4 generated key, 5 command/info. */
  frameType: number;
  /**
   * A random access point: frame type 1 (key) or 4 (generated key) on a packet that carries coded
   * video. Never set on sequence headers, end of sequence, command frames or metadata.
   */
  keyframe: boolean;
  /** AVC/HEVC packet type 0, or Enhanced SequenceStart / MPEG2TSSequenceStart. */
  sequenceHeader: boolean;
  /** AVC/HEVC packet type 2, or Enhanced SequenceEnd. */
  endOfSequence: boolean;
  /** Signed 24-bit composition time offset in ms (AVC/HEVC NALU, Enhanced CodedFrames for avc1/hvc1/vvc1), else 0. */
  compositionTime: number;
  /**
   * Bytes before the codec data (for multitrack, before the first track's data). Legacy codecs
   * other than AVC/HEVC count only the one header byte.
   */
  headerLength: number;
  /**
   * The AVCPacketType of a legacy AVC/HEVC tag, or the Enhanced VideoPacketType (after ModEx and
   * multitrack signalling); undefined for other legacy codecs and for command frames.
   */
  packetType: number | undefined;
  /** An Enhanced multitrack message; the flags and `fourCc` describe its first track. */
  multitrack: boolean;
}

export type AudioCodec =
  | "aac"
  | "mp3"
  | "pcm"
  | "adpcm"
  | "nellymoser"
  | "g711a"
  | "g711u"
  | "speex"
  | "opus"
  | "flac"
  | "ac3"
  | "eac3"
  | "unknown";

export interface AudioTagHeader {
  codec: AudioCodec;
  /** The 4-bit SoundFormat (10 AAC, 2 MP3, 9 Enhanced, ...). */
  soundFormat: number;
  /** The Enhanced RTMP FourCC ("mp4a", "Opus", "fLaC", "ac-3", "ec-3", ".mp3"); undefined for legacy tags. */
  fourCc: string | undefined;
  /** SoundFormat 9 (ExHeader). */
  enhanced: boolean;
  /**
   * In Hz, as the header says (5512, 11025, 22050, 44100; fixed 8000/16000 for formats that imply
   * it). For AAC the header is nominal and the AudioSpecificConfig is authoritative; for Enhanced
   * audio the header carries no rate and this is 0.
   */
  sampleRate: number;
  /** Bits per sample as the header says (16 for Enhanced audio, which does not say). */
  sampleSize: 8 | 16;
  /** As the header says (2 for Enhanced audio, which does not say; the codec config is authoritative). */
  channels: 1 | 2;
  /** AAC packet type 0, or Enhanced SequenceStart. */
  sequenceHeader: boolean;
  /** Enhanced SequenceEnd. */
  endOfSequence: boolean;
  /** Bytes before the codec data (for multitrack, before the first track's data). */
  headerLength: number;
  /** The AACPacketType of a legacy AAC tag or the Enhanced AudioPacketType; undefined for other legacy formats. */
  packetType: number | undefined;
  /** An Enhanced multitrack message; the flags and `fourCc` describe its first track. */
  multitrack: boolean;
}

/** Legacy FLV video codec ids. 12 is the widely deployed (non-Adobe) HEVC extension, laid out like AVC. */
const VIDEO_CODEC_ID = { avc: 7, hevc: 12 } as const;
const LEGACY_VIDEO_CODECS: Record<number, VideoCodec> = {
  2: "h263",
  3: "screen",
  4: "vp6",
  5: "vp6a",
  6: "screen2",
  7: "avc",
  12: "hevc",
};

const FRAME_TYPE = { key: 1, generatedKey: 4, command: 5 } as const;

/** AVCPacketType, also used by legacy HEVC. */
const AVC_PACKET_TYPE = { sequenceHeader: 0, nalu: 1, endOfSequence: 2 } as const;

/** Enhanced RTMP VideoPacketType. */
const VIDEO_PACKET_TYPE = {
  sequenceStart: 0,
  codedFrames: 1,
  sequenceEnd: 2,
  codedFramesX: 3,
  metadata: 4,
  mpeg2TsSequenceStart: 5,
  multitrack: 6,
  modEx: 7,
} as const;

/** Enhanced RTMP AudioPacketType. */
const AUDIO_PACKET_TYPE = {
  sequenceStart: 0,
  codedFrames: 1,
  sequenceEnd: 2,
  multichannelConfig: 4,
  multitrack: 5,
  modEx: 7,
} as const;

/** Enhanced RTMP AvMultitrackType. */
const MULTITRACK_TYPE = { oneTrack: 0, manyTracks: 1, manyTracksManyCodecs: 2 } as const;

const VIDEO_FOURCC_CODECS: Record<string, VideoCodec> = {
  avc1: "avc",
  hvc1: "hevc",
  av01: "av1",
  vp09: "vp9",
};
/** FourCCs whose CodedFrames carry a composition time offset. */
const FOURCC_WITH_COMPOSITION_TIME = new Set(["avc1", "hvc1", "vvc1"]);

const SOUND_FORMAT = { enhanced: 9, aac: 10 } as const;
const LEGACY_AUDIO_CODECS: Record<number, AudioCodec> = {
  0: "pcm",
  1: "adpcm",
  2: "mp3",
  3: "pcm",
  4: "nellymoser",
  5: "nellymoser",
  6: "nellymoser",
  7: "g711a",
  8: "g711u",
  10: "aac",
  11: "speex",
  14: "mp3",
};
/** Sound formats whose rate (and mono) is fixed by the format, not by the SoundRate bits. */
const FIXED_MONO_RATE: Record<number, number> = { 4: 16_000, 5: 8000, 11: 16_000, 14: 8000 };
const SOUND_RATES = [5512, 11025, 22050, 44100] as const;
const AAC_PACKET_TYPE = { sequenceHeader: 0 } as const;

const AUDIO_FOURCC_CODECS: Record<string, AudioCodec> = {
  mp4a: "aac",
  ".mp3": "mp3",
  Opus: "opus",
  fLaC: "flac",
  "ac-3": "ac3",
  "ec-3": "eac3",
};

/** Where ModEx and multitrack signalling left the reader. */
interface ExtendedPrefix {
  offset: number;
  packetType: number;
}

/**
 * Skips ModEx blocks starting at `offset` (the byte after the one holding `packetType`).
 * Returns undefined when the body ends inside one.
 */
function skipModEx(
  body: Buffer,
  offset: number,
  packetType: number,
  modEx: number,
): ExtendedPrefix | undefined {
  let at = offset;
  let type = packetType;
  // Each round consumes at least two bytes, so the loop ends with the body.
  while (type === modEx) {
    if (at >= body.length) return undefined;
    let size = body[at] + 1;
    at += 1;
    if (size === 256) {
      if (at + 2 > body.length) return undefined;
      size = body.readUInt16BE(at) + 1;
      at += 2;
    }
    at += size;
    if (at >= body.length) return undefined;
    type = body[at] & 0x0f;
    at += 1;
  }
  return { offset: at, packetType: type };
}

function readFourCc(body: Buffer, offset: number): string | undefined {
  return offset + 4 <= body.length ? body.toString("latin1", offset, offset + 4) : undefined;
}

/** The FourCC and the offset of the first track's data after multitrack signalling, or undefined if truncated. */
function readMultitrackFirstTrack(
  body: Buffer,
  offset: number,
  multitrackType: number,
): { fourCc: string; offset: number } | undefined {
  let at = offset;
  // Whether the FourCC comes once for all tracks (before the first track) or once per track, it
  // sits in front of the first track id.
  const fourCc = readFourCc(body, at);
  if (fourCc === undefined) return undefined;
  at += 4;
  at += 1; // trackId
  if (multitrackType !== MULTITRACK_TYPE.oneTrack) at += 3; // sizeOfTrack
  if (at > body.length) return undefined;
  return { fourCc, offset: at };
}

function isKnownMultitrackType(type: number): boolean {
  return (
    type === MULTITRACK_TYPE.oneTrack ||
    type === MULTITRACK_TYPE.manyTracks ||
    type === MULTITRACK_TYPE.manyTracksManyCodecs
  );
}

function readEnhancedVideoHeader(body: Buffer): VideoTagHeader | undefined {
  const first = body[0];
  const frameType = (first >> 4) & 0x07;
  const prefix = skipModEx(body, 1, first & 0x0f, VIDEO_PACKET_TYPE.modEx);
  if (prefix === undefined) return undefined;
  let { offset, packetType } = prefix;
  const header: VideoTagHeader = {
    codec: "unknown",
    codecId: 0,
    fourCc: undefined,
    enhanced: true,
    frameType,
    keyframe: false,
    sequenceHeader: false,
    endOfSequence: false,
    compositionTime: 0,
    headerLength: offset,
    packetType,
    multitrack: false,
  };
  if (frameType === FRAME_TYPE.command && packetType !== VIDEO_PACKET_TYPE.metadata) {
    // A command frame: one VideoCommand byte and no FourCC.
    if (offset + 1 > body.length) return undefined;
    header.headerLength = offset + 1;
    header.packetType = undefined;
    return header;
  }
  let fourCc: string | undefined;
  if (packetType === VIDEO_PACKET_TYPE.multitrack) {
    if (offset >= body.length) return undefined;
    const multitrackType = body[offset] >> 4;
    packetType = body[offset] & 0x0f;
    offset += 1;
    header.multitrack = true;
    header.packetType = packetType;
    header.headerLength = offset;
    // Nested multitrack/ModEx or a reserved track layout: nothing more can be read safely.
    if (!isKnownMultitrackType(multitrackType) || packetType === VIDEO_PACKET_TYPE.multitrack) return header;
    if (packetType === VIDEO_PACKET_TYPE.modEx) return header;
    const track = readMultitrackFirstTrack(body, offset, multitrackType);
    if (track === undefined) return undefined;
    fourCc = track.fourCc;
    offset = track.offset;
  } else {
    fourCc = readFourCc(body, offset);
    if (fourCc === undefined) return undefined;
    offset += 4;
  }
  header.fourCc = fourCc;
  header.codec = VIDEO_FOURCC_CODECS[fourCc] ?? "unknown";
  const isKeyType = frameType === FRAME_TYPE.key || frameType === FRAME_TYPE.generatedKey;
  switch (packetType) {
    case VIDEO_PACKET_TYPE.sequenceStart:
    case VIDEO_PACKET_TYPE.mpeg2TsSequenceStart:
      header.sequenceHeader = true;
      break;
    case VIDEO_PACKET_TYPE.sequenceEnd:
      header.endOfSequence = true;
      break;
    case VIDEO_PACKET_TYPE.codedFrames:
      if (FOURCC_WITH_COMPOSITION_TIME.has(fourCc)) {
        if (offset + 3 > body.length) return undefined;
        header.compositionTime = readSigned24(body, offset);
        offset += 3;
      }
      header.keyframe = isKeyType;
      break;
    case VIDEO_PACKET_TYPE.codedFramesX:
      header.keyframe = isKeyType;
      break;
  }
  header.headerLength = offset;
  return header;
}

function readLegacyVideoHeader(body: Buffer): VideoTagHeader {
  const first = body[0];
  const frameType = first >> 4;
  const codecId = first & 0x0f;
  const header: VideoTagHeader = {
    codec: LEGACY_VIDEO_CODECS[codecId] ?? "unknown",
    codecId,
    fourCc: undefined,
    enhanced: false,
    frameType,
    keyframe: false,
    sequenceHeader: false,
    endOfSequence: false,
    compositionTime: 0,
    headerLength: 1,
    packetType: undefined,
    multitrack: false,
  };
  const isKeyType = frameType === FRAME_TYPE.key || frameType === FRAME_TYPE.generatedKey;
  if (frameType === FRAME_TYPE.command) {
    // A video info/command frame: one VideoCommand byte, no video data (the length is checked by the caller).
    header.headerLength = 2;
  } else if (codecId === VIDEO_CODEC_ID.avc || codecId === VIDEO_CODEC_ID.hevc) {
    const packetType = body[1];
    header.packetType = packetType;
    header.headerLength = 5;
    if (packetType === AVC_PACKET_TYPE.sequenceHeader) header.sequenceHeader = true;
    else if (packetType === AVC_PACKET_TYPE.endOfSequence) header.endOfSequence = true;
    else if (packetType === AVC_PACKET_TYPE.nalu) {
      header.compositionTime = readSigned24(body, 2);
      header.keyframe = isKeyType;
    }
  } else {
    header.keyframe = isKeyType;
  }
  return header;
}

/** The video tag header, or undefined when the body is too short for the header it announces. */
function readVideoTagHeader(body: Buffer): VideoTagHeader | undefined {
  if (body.length === 0) return undefined;
  if ((body[0] & 0x80) !== 0) return readEnhancedVideoHeader(body);
  const first = body[0];
  const codecId = first & 0x0f;
  const needed =
    first >> 4 === FRAME_TYPE.command
      ? 2
      : codecId === VIDEO_CODEC_ID.avc || codecId === VIDEO_CODEC_ID.hevc
        ? 5
        : 1;
  if (body.length < needed) return undefined;
  return readLegacyVideoHeader(body);
}

function readEnhancedAudioHeader(body: Buffer): AudioTagHeader | undefined {
  const prefix = skipModEx(body, 1, body[0] & 0x0f, AUDIO_PACKET_TYPE.modEx);
  if (prefix === undefined) return undefined;
  let { offset, packetType } = prefix;
  const header: AudioTagHeader = {
    codec: "unknown",
    soundFormat: SOUND_FORMAT.enhanced,
    fourCc: undefined,
    enhanced: true,
    sampleRate: 0,
    sampleSize: 16,
    channels: 2,
    sequenceHeader: false,
    endOfSequence: false,
    headerLength: offset,
    packetType,
    multitrack: false,
  };
  let fourCc: string | undefined;
  if (packetType === AUDIO_PACKET_TYPE.multitrack) {
    if (offset >= body.length) return undefined;
    const multitrackType = body[offset] >> 4;
    packetType = body[offset] & 0x0f;
    offset += 1;
    header.multitrack = true;
    header.packetType = packetType;
    header.headerLength = offset;
    if (!isKnownMultitrackType(multitrackType) || packetType === AUDIO_PACKET_TYPE.multitrack) return header;
    if (packetType === AUDIO_PACKET_TYPE.modEx) return header;
    const track = readMultitrackFirstTrack(body, offset, multitrackType);
    if (track === undefined) return undefined;
    fourCc = track.fourCc;
    offset = track.offset;
  } else {
    fourCc = readFourCc(body, offset);
    if (fourCc === undefined) return undefined;
    offset += 4;
  }
  header.fourCc = fourCc;
  header.codec = AUDIO_FOURCC_CODECS[fourCc] ?? "unknown";
  header.sequenceHeader = packetType === AUDIO_PACKET_TYPE.sequenceStart;
  header.endOfSequence = packetType === AUDIO_PACKET_TYPE.sequenceEnd;
  header.headerLength = offset;
  return header;
}

/** The audio tag header, or undefined when the body is too short for the header it announces. */
function readAudioTagHeader(body: Buffer): AudioTagHeader | undefined {
  if (body.length === 0) return undefined;
  const first = body[0];
  const soundFormat = first >> 4;
  if (soundFormat === SOUND_FORMAT.enhanced) return readEnhancedAudioHeader(body);
  const fixedRate = FIXED_MONO_RATE[soundFormat];
  const header: AudioTagHeader = {
    codec: LEGACY_AUDIO_CODECS[soundFormat] ?? "unknown",
    soundFormat,
    fourCc: undefined,
    enhanced: false,
    sampleRate: fixedRate ?? SOUND_RATES[(first >> 2) & 0x03],
    sampleSize: (first & 0x02) !== 0 ? 16 : 8,
    channels: fixedRate === undefined && (first & 0x01) !== 0 ? 2 : 1,
    sequenceHeader: false,
    endOfSequence: false,
    headerLength: 1,
    packetType: undefined,
    multitrack: false,
  };
  if (soundFormat === SOUND_FORMAT.aac) {
    if (body.length < 2) return undefined;
    header.packetType = body[1];
    header.sequenceHeader = body[1] === AAC_PACKET_TYPE.sequenceHeader;
    header.headerLength = 2;
  }
  return header;
}

function readSigned24(body: Buffer, offset: number): number {
  const value = (body[offset] << 16) | (body[offset + 1] << 8) | body[offset + 2];
  return (value << 8) >> 8;
}

/** Parses the header of a video tag body. Throws `FlvError` (truncated) when the body is too short for it. */
export function parseVideoTagHeader(body: Buffer): VideoTagHeader {
  const header = readVideoTagHeader(body);
  if (header === undefined) {
    throw new FlvError(
      FlvErrorCode.truncated,
      `video tag body of ${body.length} bytes is shorter than its header`,
    );
  }
  return header;
}

/** Parses the header of an audio tag body. Throws `FlvError` (truncated) when the body is too short for it. */
export function parseAudioTagHeader(body: Buffer): AudioTagHeader {
  const header = readAudioTagHeader(body);
  if (header === undefined) {
    throw new FlvError(
      FlvErrorCode.truncated,
      `audio tag body of ${body.length} bytes is shorter than its header`,
    );
  }
  return header;
}

/**
 * Parses the header once and builds the packet with `keyframe` and `sequenceHeader` set (script
 * data: both false). Never throws: a body too short for its header (such as RTMP's empty "audio
 * silence" message) gives a packet with both flags false, and the payload passes through untouched.
 */
export function createPacketFromTagBody(kind: MediaKind, timestamp: number, body: Buffer): MediaPacket {
  if (kind === "video") {
    const header = readVideoTagHeader(body);
    if (header !== undefined) {
      return createMediaPacket(kind, timestamp, body, {
        keyframe: header.keyframe,
        sequenceHeader: header.sequenceHeader,
      });
    }
  } else if (kind === "audio") {
    const header = readAudioTagHeader(body);
    if (header !== undefined)
      return createMediaPacket(kind, timestamp, body, { sequenceHeader: header.sequenceHeader });
  }
  return createMediaPacket(kind, timestamp, body);
}

/** What an AVCDecoderConfigurationRecord (ISO/IEC 14496-15, 5.3.3.1) and its first SPS say. */
export interface AvcDecoderConfig {
  /** profile_idc: 66 baseline, 77 main, 100 high, ... */
  profile: number;
  profileCompatibility: number;
  /** level_idc × 10 (31 = level 3.1). */
  level: number;
  /** Bytes in each NAL unit length prefix of the coded frames (1, 2 or 4). */
  nalUnitLengthSize: number;
  /** Coded size after cropping, from the first SPS; undefined when there is none or it does not parse. */
  width: number | undefined;
  height: number | undefined;
}

const AVC_CONFIG_FIXED_LENGTH = 6;
/** SPS longer than this are not parsed for the picture size (real ones are tens of bytes). */
const MAX_SPS_LENGTH = 4096;
/** profile_idc values whose SPS carries chroma format, bit depth and scaling matrices (H.264 7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);
const NAL_TYPE_SPS = 7;

/**
 * Parses an AVCDecoderConfigurationRecord (the body of an AVC sequence header after its 5-byte tag
 * header, or of an Enhanced avc1 SequenceStart after its header). Throws `FlvError` (truncated)
 * when the record is shorter than its fixed part; a missing or malformed SPS only leaves the
 * picture size undefined.
 */
export function parseAvcDecoderConfig(record: Buffer): AvcDecoderConfig {
  if (record.length < AVC_CONFIG_FIXED_LENGTH) {
    throw new FlvError(
      FlvErrorCode.truncated,
      `AVC decoder configuration of ${record.length} bytes is too short`,
    );
  }
  const config: AvcDecoderConfig = {
    profile: record[1],
    profileCompatibility: record[2],
    level: record[3],
    nalUnitLengthSize: (record[4] & 0x03) + 1,
    width: undefined,
    height: undefined,
  };
  const spsCount = record[5] & 0x1f;
  if (spsCount === 0 || record.length < AVC_CONFIG_FIXED_LENGTH + 2) return config;
  const spsLength = record.readUInt16BE(AVC_CONFIG_FIXED_LENGTH);
  const spsStart = AVC_CONFIG_FIXED_LENGTH + 2;
  if (spsLength === 0 || spsLength > MAX_SPS_LENGTH || spsStart + spsLength > record.length) return config;
  const size = readSpsPictureSize(record.subarray(spsStart, spsStart + spsLength));
  if (size !== undefined) {
    config.width = size.width;
    config.height = size.height;
  }
  return config;
}

/** Reads bits from an RBSP; `undefined` from any read past the end ends parsing. */
class BitReader {
  #bit = 0;
  constructor(readonly bytes: Uint8Array) {}

  bits(count: number): number | undefined {
    if (this.#bit + count > this.bytes.length * 8) return undefined;
    let value = 0;
    for (let i = 0; i < count; i++) {
      const bit = (this.bytes[this.#bit >> 3] >> (7 - (this.#bit & 7))) & 1;
      value = value * 2 + bit;
      this.#bit += 1;
    }
    return value;
  }

  /** Unsigned Exp-Golomb ue(v); values need at most 32 leading zeros. */
  unsigned(): number | undefined {
    let zeros = 0;
    for (;;) {
      const bit = this.bits(1);
      if (bit === undefined || zeros > 32) return undefined;
      if (bit === 1) break;
      zeros += 1;
    }
    const rest = this.bits(zeros);
    return rest === undefined ? undefined : 2 ** zeros - 1 + rest;
  }

  /** Signed Exp-Golomb se(v). */
  signed(): number | undefined {
    const code = this.unsigned();
    if (code === undefined) return undefined;
    return code % 2 === 1 ? (code + 1) / 2 : -code / 2;
  }
}

/** The SPS payload with emulation-prevention bytes (00 00 03) removed. */
function spsRbsp(nal: Buffer): Uint8Array {
  const rbsp = new Uint8Array(nal.length);
  let length = 0;
  let zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const byte = nal[i];
    if (zeros >= 2 && byte === 0x03) {
      zeros = 0;
      continue;
    }
    zeros = byte === 0 ? zeros + 1 : 0;
    rbsp[length++] = byte;
  }
  return rbsp.subarray(0, length);
}

/** Width and height from an SPS NAL unit (H.264 7.3.2.1.1 and 7.4.2.1.1), or undefined if it does not parse. */
function readSpsPictureSize(nal: Buffer): { width: number; height: number } | undefined {
  if ((nal[0] & 0x1f) !== NAL_TYPE_SPS || nal.length < 4) return undefined;
  const profile = nal[1];
  const reader = new BitReader(spsRbsp(nal.subarray(4)));
  if (reader.unsigned() === undefined) return undefined; // seq_parameter_set_id
  let chromaFormat = 1;
  let separateColourPlane = 0;
  if (HIGH_PROFILES.has(profile)) {
    const format = reader.unsigned();
    if (format === undefined || format > 3) return undefined;
    chromaFormat = format;
    if (chromaFormat === 3) separateColourPlane = reader.bits(1) ?? 0;
    if (reader.unsigned() === undefined || reader.unsigned() === undefined) return undefined; // bit depths
    if (reader.bits(1) === undefined) return undefined; // qpprime_y_zero_transform_bypass_flag
    const scalingMatrix = reader.bits(1);
    if (scalingMatrix === undefined) return undefined;
    if (scalingMatrix === 1) {
      const lists = chromaFormat === 3 ? 12 : 8;
      for (let i = 0; i < lists; i++) {
        const present = reader.bits(1);
        if (present === undefined) return undefined;
        if (present === 1 && !skipScalingList(reader, i < 6 ? 16 : 64)) return undefined;
      }
    }
  }
  if (reader.unsigned() === undefined) return undefined; // log2_max_frame_num_minus4
  const pocType = reader.unsigned();
  if (pocType === undefined) return undefined;
  if (pocType === 0) {
    if (reader.unsigned() === undefined) return undefined;
  } else if (pocType === 1) {
    if (reader.bits(1) === undefined || reader.signed() === undefined || reader.signed() === undefined)
      return undefined;
    const cycle = reader.unsigned();
    if (cycle === undefined || cycle > 255) return undefined;
    for (let i = 0; i < cycle; i++) if (reader.signed() === undefined) return undefined;
  }
  if (reader.unsigned() === undefined || reader.bits(1) === undefined) return undefined; // max_num_ref_frames, gaps
  const widthInMbs = reader.unsigned();
  const heightInMapUnits = reader.unsigned();
  const frameMbsOnly = reader.bits(1);
  if (widthInMbs === undefined || heightInMapUnits === undefined || frameMbsOnly === undefined)
    return undefined;
  if (frameMbsOnly === 0 && reader.bits(1) === undefined) return undefined; // mb_adaptive_frame_field_flag
  if (reader.bits(1) === undefined) return undefined; // direct_8x8_inference_flag
  const cropping = reader.bits(1);
  if (cropping === undefined) return undefined;
  let crop = [0, 0, 0, 0];
  if (cropping === 1) {
    const offsets = [reader.unsigned(), reader.unsigned(), reader.unsigned(), reader.unsigned()];
    if (offsets.some((o) => o === undefined)) return undefined;
    crop = offsets as number[];
  }
  const chromaArrayType = separateColourPlane === 1 ? 0 : chromaFormat;
  const cropUnitX = chromaArrayType === 0 || chromaArrayType === 3 ? 1 : 2;
  const cropUnitY = (chromaArrayType === 1 ? 2 : 1) * (2 - frameMbsOnly);
  const width = (widthInMbs + 1) * 16 - cropUnitX * (crop[0] + crop[1]);
  const height = (heightInMapUnits + 1) * 16 * (2 - frameMbsOnly) - cropUnitY * (crop[2] + crop[3]);
  if (width <= 0 || height <= 0) return undefined;
  return { width, height };
}

function skipScalingList(reader: BitReader, size: number): boolean {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) {
      const delta = reader.signed();
      if (delta === undefined) return false;
      next = (((last + delta) % 256) + 256) % 256;
    }
    if (next !== 0) last = next;
  }
  return true;
}
