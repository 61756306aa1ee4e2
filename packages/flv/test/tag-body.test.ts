import { describe, expect, it } from "vitest";
import {
  type AudioTagHeader,
  createPacketFromTagBody,
  parseAudioTagHeader,
  parseAvcDecoderConfig,
  parseVideoTagHeader,
  type VideoTagHeader,
} from "../src/codec/tag-body.js";
import { FlvError, FlvErrorCode } from "../src/errors.js";

/** Bytes from numbers and ASCII strings (FourCCs). */
function bytes(...parts: (number | string | number[])[]): Buffer {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === "string") out.push(...Buffer.from(part, "latin1"));
    else if (Array.isArray(part)) out.push(...part);
    else out.push(part);
  }
  return Buffer.from(out);
}

const DATA = [0xde, 0xad, 0xbe, 0xef];

const legacyVideo: Omit<VideoTagHeader, "codec" | "codecId" | "frameType" | "headerLength"> = {
  fourCc: undefined,
  enhanced: false,
  keyframe: false,
  sequenceHeader: false,
  endOfSequence: false,
  compositionTime: 0,
  packetType: undefined,
  multitrack: false,
};

const enhancedVideo: Omit<VideoTagHeader, "codec" | "fourCc" | "frameType" | "headerLength" | "packetType"> =
  {
    codecId: 0,
    enhanced: true,
    keyframe: false,
    sequenceHeader: false,
    endOfSequence: false,
    compositionTime: 0,
    multitrack: false,
  };

const videoVectors: { name: string; body: Buffer; header: VideoTagHeader }[] = [
  {
    // frameType 1 (key) | codecId 7 (AVC); AVCPacketType 0; CTS 0; then the avcC
    name: "legacy AVC sequence header",
    body: bytes(0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x1f),
    header: {
      ...legacyVideo,
      codec: "avc",
      codecId: 7,
      frameType: 1,
      sequenceHeader: true,
      headerLength: 5,
      packetType: 0,
    },
  },
  {
    // key | AVC; NALU; CTS +40 ms
    name: "legacy AVC keyframe",
    body: bytes(0x17, 0x01, 0x00, 0x00, 0x28, DATA),
    header: {
      ...legacyVideo,
      codec: "avc",
      codecId: 7,
      frameType: 1,
      keyframe: true,
      compositionTime: 40,
      headerLength: 5,
      packetType: 1,
    },
  },
  {
    // inter (2) | AVC; NALU; CTS +80 ms
    name: "legacy AVC inter frame",
    body: bytes(0x27, 0x01, 0x00, 0x00, 0x50, DATA),
    header: {
      ...legacyVideo,
      codec: "avc",
      codecId: 7,
      frameType: 2,
      compositionTime: 80,
      headerLength: 5,
      packetType: 1,
    },
  },
  {
    // inter | AVC; NALU; CTS 0xffffd8 = -40 ms (SI24)
    name: "legacy AVC negative composition time",
    body: bytes(0x27, 0x01, 0xff, 0xff, 0xd8, DATA),
    header: {
      ...legacyVideo,
      codec: "avc",
      codecId: 7,
      frameType: 2,
      compositionTime: -40,
      headerLength: 5,
      packetType: 1,
    },
  },
  {
    // CTS 0x800000 = the most negative SI24
    name: "legacy AVC most negative composition time",
    body: bytes(0x27, 0x01, 0x80, 0x00, 0x00),
    header: {
      ...legacyVideo,
      codec: "avc",
      codecId: 7,
      frameType: 2,
      compositionTime: -0x800000,
      headerLength: 5,
      packetType: 1,
    },
  },
  {
    name: "legacy AVC generated keyframe (frame type 4)",
    body: bytes(0x47, 0x01, 0x00, 0x00, 0x00, DATA),
    header: {
      ...legacyVideo,
      codec: "avc",
      codecId: 7,
      frameType: 4,
      keyframe: true,
      headerLength: 5,
      packetType: 1,
    },
  },
  {
    // key | AVC; AVCPacketType 2: end of sequence, body of exactly the header
    name: "legacy AVC end of sequence",
    body: bytes(0x17, 0x02, 0x00, 0x00, 0x00),
    header: {
      ...legacyVideo,
      codec: "avc",
      codecId: 7,
      frameType: 1,
      endOfSequence: true,
      headerLength: 5,
      packetType: 2,
    },
  },
  {
    // frameType 5 (command) | AVC; VideoCommand 0 (start seek): no AVCPacketType follows
    name: "legacy video command frame",
    body: bytes(0x57, 0x00),
    header: { ...legacyVideo, codec: "avc", codecId: 7, frameType: 5, headerLength: 2 },
  },
  {
    // key | codecId 12: the deployed (non-Adobe) HEVC extension, laid out like AVC
    name: "legacy codec id 12 HEVC keyframe",
    body: bytes(0x1c, 0x01, 0x00, 0x00, 0x10, DATA),
    header: {
      ...legacyVideo,
      codec: "hevc",
      codecId: 12,
      frameType: 1,
      keyframe: true,
      compositionTime: 16,
      headerLength: 5,
      packetType: 1,
    },
  },
  {
    name: "Sorenson H.263 keyframe",
    body: bytes(0x12, DATA),
    header: { ...legacyVideo, codec: "h263", codecId: 2, frameType: 1, keyframe: true, headerLength: 1 },
  },
  {
    name: "Sorenson H.263 disposable inter frame",
    body: bytes(0x32, DATA),
    header: { ...legacyVideo, codec: "h263", codecId: 2, frameType: 3, headerLength: 1 },
  },
  {
    name: "VP6 inter frame",
    body: bytes(0x24, 0x00, DATA),
    header: { ...legacyVideo, codec: "vp6", codecId: 4, frameType: 2, headerLength: 1 },
  },
  {
    name: "screen video v2 keyframe",
    body: bytes(0x16, DATA),
    header: { ...legacyVideo, codec: "screen2", codecId: 6, frameType: 1, keyframe: true, headerLength: 1 },
  },
  {
    name: "reserved legacy codec id",
    body: bytes(0x1f, DATA),
    header: { ...legacyVideo, codec: "unknown", codecId: 15, frameType: 1, keyframe: true, headerLength: 1 },
  },
  {
    // 1 (ExHeader) 001 (key) 0000 (SequenceStart) | "hvc1" | hvcC
    name: "Enhanced hvc1 SequenceStart",
    body: bytes(0x90, "hvc1", 0x01, 0x01),
    header: {
      ...enhancedVideo,
      codec: "hevc",
      fourCc: "hvc1",
      frameType: 1,
      sequenceHeader: true,
      headerLength: 5,
      packetType: 0,
    },
  },
  {
    // 1 001 0001 (CodedFrames) | "hvc1" | CTS +33
    name: "Enhanced hvc1 CodedFrames keyframe with CTS",
    body: bytes(0x91, "hvc1", 0x00, 0x00, 0x21, DATA),
    header: {
      ...enhancedVideo,
      codec: "hevc",
      fourCc: "hvc1",
      frameType: 1,
      keyframe: true,
      compositionTime: 33,
      headerLength: 8,
      packetType: 1,
    },
  },
  {
    // 1 010 (inter) 0001 | "hvc1" | CTS -1
    name: "Enhanced hvc1 CodedFrames inter frame, negative CTS",
    body: bytes(0xa1, "hvc1", 0xff, 0xff, 0xff, DATA),
    header: {
      ...enhancedVideo,
      codec: "hevc",
      fourCc: "hvc1",
      frameType: 2,
      compositionTime: -1,
      headerLength: 8,
      packetType: 1,
    },
  },
  {
    // 1 001 0011 (CodedFramesX: CTS implied 0, not on the wire)
    name: "Enhanced hvc1 CodedFramesX keyframe",
    body: bytes(0x93, "hvc1", DATA),
    header: {
      ...enhancedVideo,
      codec: "hevc",
      fourCc: "hvc1",
      frameType: 1,
      keyframe: true,
      headerLength: 5,
      packetType: 3,
    },
  },
  {
    name: "Enhanced hvc1 CodedFramesX inter frame",
    body: bytes(0xa3, "hvc1", DATA),
    header: { ...enhancedVideo, codec: "hevc", fourCc: "hvc1", frameType: 2, headerLength: 5, packetType: 3 },
  },
  {
    name: "Enhanced avc1 CodedFrames with CTS",
    body: bytes(0x91, "avc1", 0x00, 0x00, 0x28, DATA),
    header: {
      ...enhancedVideo,
      codec: "avc",
      fourCc: "avc1",
      frameType: 1,
      keyframe: true,
      compositionTime: 40,
      headerLength: 8,
      packetType: 1,
    },
  },
  {
    name: "Enhanced av01 SequenceStart",
    body: bytes(0x90, "av01", 0x81, 0x00),
    header: {
      ...enhancedVideo,
      codec: "av1",
      fourCc: "av01",
      frameType: 1,
      sequenceHeader: true,
      headerLength: 5,
      packetType: 0,
    },
  },
  {
    // av01 CodedFrames carry no CTS
    name: "Enhanced av01 CodedFrames keyframe",
    body: bytes(0x91, "av01", 0x12, 0x00, 0x0a),
    header: {
      ...enhancedVideo,
      codec: "av1",
      fourCc: "av01",
      frameType: 1,
      keyframe: true,
      headerLength: 5,
      packetType: 1,
    },
  },
  {
    name: "Enhanced av01 CodedFrames inter frame",
    body: bytes(0xa1, "av01", 0x12, 0x00),
    header: { ...enhancedVideo, codec: "av1", fourCc: "av01", frameType: 2, headerLength: 5, packetType: 1 },
  },
  {
    name: "Enhanced av01 MPEG2TSSequenceStart",
    body: bytes(0x95, "av01", 0x80),
    header: {
      ...enhancedVideo,
      codec: "av1",
      fourCc: "av01",
      frameType: 1,
      sequenceHeader: true,
      headerLength: 5,
      packetType: 5,
    },
  },
  {
    name: "Enhanced vp09 SequenceStart",
    body: bytes(0x90, "vp09", 0x01, 0x00),
    header: {
      ...enhancedVideo,
      codec: "vp9",
      fourCc: "vp09",
      frameType: 1,
      sequenceHeader: true,
      headerLength: 5,
      packetType: 0,
    },
  },
  {
    name: "Enhanced vp09 CodedFrames keyframe",
    body: bytes(0x91, "vp09", DATA),
    header: {
      ...enhancedVideo,
      codec: "vp9",
      fourCc: "vp09",
      frameType: 1,
      keyframe: true,
      headerLength: 5,
      packetType: 1,
    },
  },
  {
    name: "Enhanced vp09 CodedFrames inter frame",
    body: bytes(0xa1, "vp09", DATA),
    header: { ...enhancedVideo, codec: "vp9", fourCc: "vp09", frameType: 2, headerLength: 5, packetType: 1 },
  },
  {
    name: "Enhanced SequenceEnd",
    body: bytes(0x92, "hvc1"),
    header: {
      ...enhancedVideo,
      codec: "hevc",
      fourCc: "hvc1",
      frameType: 1,
      endOfSequence: true,
      headerLength: 5,
      packetType: 2,
    },
  },
  {
    // Metadata: the frame type is ignored, the body is AMF
    name: "Enhanced Metadata is neither keyframe nor header",
    body: bytes(0x94, "hvc1", 0x02, 0x00, 0x09, "colorInfo"),
    header: { ...enhancedVideo, codec: "hevc", fourCc: "hvc1", frameType: 1, headerLength: 5, packetType: 4 },
  },
  {
    // 1 101 (command) 0000: a VideoCommand byte and no FourCC
    name: "Enhanced command frame",
    body: bytes(0xd0, 0x01),
    header: {
      ...enhancedVideo,
      codec: "unknown",
      fourCc: undefined,
      frameType: 5,
      headerLength: 2,
      packetType: undefined,
    },
  },
  {
    // vvc1 is known to carry a CTS even though it has no codec name here
    name: "Enhanced vvc1 CodedFrames reads the CTS",
    body: bytes(0x91, "vvc1", 0x00, 0x00, 0x02, DATA),
    header: {
      ...enhancedVideo,
      codec: "unknown",
      fourCc: "vvc1",
      frameType: 1,
      keyframe: true,
      compositionTime: 2,
      headerLength: 8,
      packetType: 1,
    },
  },
  {
    // 1 001 0111 (ModEx) | size-1 = 2 → 3 bytes | data | 0000 (TimestampOffsetNano) 0001 (CodedFrames) | "hvc1" | CTS
    name: "Enhanced ModEx before CodedFrames",
    body: bytes(0x97, 0x02, 0x01, 0x02, 0x03, 0x01, "hvc1", 0x00, 0x00, 0x10, DATA),
    header: {
      ...enhancedVideo,
      codec: "hevc",
      fourCc: "hvc1",
      frameType: 1,
      keyframe: true,
      compositionTime: 16,
      headerLength: 13,
      packetType: 1,
    },
  },
  {
    // size-1 = 255 → a 16-bit size-1 follows: 0x0100 → 257 bytes
    name: "Enhanced ModEx with a 16-bit size",
    body: bytes(0x97, 0xff, 0x01, 0x00, new Array(257).fill(7), 0x03, "av01", DATA),
    header: {
      ...enhancedVideo,
      codec: "av1",
      fourCc: "av01",
      frameType: 1,
      keyframe: true,
      headerLength: 266,
      packetType: 3,
    },
  },
  {
    // 1 001 0110 (Multitrack) | 0000 (OneTrack) 0001 (CodedFrames) | "hvc1" | trackId 0 | CTS +5
    name: "Enhanced multitrack, one track",
    body: bytes(0x96, 0x01, "hvc1", 0x00, 0x00, 0x00, 0x05, DATA),
    header: {
      ...enhancedVideo,
      codec: "hevc",
      fourCc: "hvc1",
      frameType: 1,
      keyframe: true,
      compositionTime: 5,
      headerLength: 10,
      packetType: 1,
      multitrack: true,
    },
  },
  {
    // 0001 (ManyTracks) 0000 (SequenceStart) | "av01" | trackId 0 | sizeOfTrack 2 | data
    name: "Enhanced multitrack, many tracks, SequenceStart",
    body: bytes(0x96, 0x10, "av01", 0x00, 0x00, 0x00, 0x02, 0x81, 0x00),
    header: {
      ...enhancedVideo,
      codec: "av1",
      fourCc: "av01",
      frameType: 1,
      sequenceHeader: true,
      headerLength: 10,
      packetType: 0,
      multitrack: true,
    },
  },
  {
    // inter | Multitrack; 0010 (ManyTracksManyCodecs) 0011 (CodedFramesX) | "vp09" | trackId 1 | size 4
    name: "Enhanced multitrack, many tracks many codecs",
    body: bytes(0xa6, 0x23, "vp09", 0x01, 0x00, 0x00, 0x04, DATA),
    header: {
      ...enhancedVideo,
      codec: "vp9",
      fourCc: "vp09",
      frameType: 2,
      headerLength: 10,
      packetType: 3,
      multitrack: true,
    },
  },
  {
    // Multitrack inside multitrack is forbidden: no flags, nothing more read
    name: "Enhanced nested multitrack",
    body: bytes(0x96, 0x06, DATA),
    header: {
      ...enhancedVideo,
      codec: "unknown",
      fourCc: undefined,
      frameType: 1,
      headerLength: 2,
      packetType: 6,
      multitrack: true,
    },
  },
  {
    name: "Enhanced reserved packet type",
    body: bytes(0x9c, "hvc1", DATA),
    header: {
      ...enhancedVideo,
      codec: "hevc",
      fourCc: "hvc1",
      frameType: 1,
      headerLength: 5,
      packetType: 12,
    },
  },
  {
    name: "Enhanced unknown FourCC",
    body: bytes(0x93, "zzzz", DATA),
    header: {
      ...enhancedVideo,
      codec: "unknown",
      fourCc: "zzzz",
      frameType: 1,
      keyframe: true,
      headerLength: 5,
      packetType: 3,
    },
  },
];

const truncatedVideo: { name: string; body: Buffer }[] = [
  { name: "empty", body: bytes() },
  { name: "AVC without packet type", body: bytes(0x17) },
  { name: "AVC without full CTS", body: bytes(0x17, 0x01, 0x00, 0x00) },
  { name: "legacy HEVC without CTS", body: bytes(0x1c, 0x01) },
  { name: "legacy command frame without command", body: bytes(0x52) },
  { name: "Enhanced without FourCC", body: bytes(0x91, "hv") },
  { name: "Enhanced hvc1 CodedFrames without CTS", body: bytes(0x91, "hvc1", 0x00, 0x00) },
  { name: "Enhanced command frame without command", body: bytes(0xd0) },
  { name: "Enhanced ModEx cut in its data", body: bytes(0x97, 0x05, 0x01, 0x02) },
  { name: "Enhanced ModEx cut in its 16-bit size", body: bytes(0x97, 0xff, 0x01) },
  { name: "Enhanced ModEx without the following packet type", body: bytes(0x97, 0x00, 0x01) },
  { name: "Enhanced multitrack without its type byte", body: bytes(0x96) },
  { name: "Enhanced multitrack without the track id", body: bytes(0x96, 0x01, "hvc1") },
  {
    name: "Enhanced many-track multitrack without the track size",
    body: bytes(0x96, 0x11, "hvc1", 0x00, 0x00),
  },
];

describe("parseVideoTagHeader", () => {
  it.each(videoVectors)("$name", ({ body, header }) => {
    expect(parseVideoTagHeader(body)).toEqual(header);
  });

  it.each(truncatedVideo)("throws truncated: $name", ({ body }) => {
    expect(() => parseVideoTagHeader(body)).toThrow(
      expect.objectContaining({ code: FlvErrorCode.truncated }),
    );
    expect(() => parseVideoTagHeader(body)).toThrow(FlvError);
  });

  it("every prefix of every vector either parses or throws truncated", () => {
    for (const { body } of videoVectors) {
      for (let length = 0; length <= body.length; length++) {
        try {
          const header = parseVideoTagHeader(body.subarray(0, length));
          expect(header.headerLength).toBeLessThanOrEqual(length);
        } catch (error) {
          expect(error).toBeInstanceOf(FlvError);
          expect((error as FlvError).code).toBe(FlvErrorCode.truncated);
        }
      }
    }
  });
});

const legacyAudio: Omit<
  AudioTagHeader,
  "codec" | "soundFormat" | "sampleRate" | "sampleSize" | "channels" | "headerLength"
> = {
  fourCc: undefined,
  enhanced: false,
  sequenceHeader: false,
  endOfSequence: false,
  packetType: undefined,
  multitrack: false,
};

const enhancedAudio: Omit<AudioTagHeader, "codec" | "fourCc" | "headerLength" | "packetType"> = {
  soundFormat: 9,
  enhanced: true,
  sampleRate: 0,
  sampleSize: 16,
  channels: 2,
  sequenceHeader: false,
  endOfSequence: false,
  multitrack: false,
};

const audioVectors: { name: string; body: Buffer; header: AudioTagHeader }[] = [
  {
    // 1010 (AAC) 11 (44 kHz) 1 (16-bit) 1 (stereo) | AACPacketType 0 | AudioSpecificConfig (LC, 44.1k, stereo)
    name: "AAC sequence header",
    body: bytes(0xaf, 0x00, 0x12, 0x10),
    header: {
      ...legacyAudio,
      codec: "aac",
      soundFormat: 10,
      sampleRate: 44100,
      sampleSize: 16,
      channels: 2,
      sequenceHeader: true,
      headerLength: 2,
      packetType: 0,
    },
  },
  {
    name: "AAC raw frame",
    body: bytes(0xaf, 0x01, 0x21, 0x10, 0x04),
    header: {
      ...legacyAudio,
      codec: "aac",
      soundFormat: 10,
      sampleRate: 44100,
      sampleSize: 16,
      channels: 2,
      headerLength: 2,
      packetType: 1,
    },
  },
  {
    // 0010 (MP3) 11 1 1 | MPEG audio frame
    name: "MP3 44.1 kHz stereo",
    body: bytes(0x2f, 0xff, 0xfb, 0x90, 0x64),
    header: {
      ...legacyAudio,
      codec: "mp3",
      soundFormat: 2,
      sampleRate: 44100,
      sampleSize: 16,
      channels: 2,
      headerLength: 1,
    },
  },
  {
    // 0010 (MP3) 10 (22 kHz) 1 0 (mono)
    name: "MP3 22 kHz mono",
    body: bytes(0x2a, 0xff, 0xf3),
    header: {
      ...legacyAudio,
      codec: "mp3",
      soundFormat: 2,
      sampleRate: 22050,
      sampleSize: 16,
      channels: 1,
      headerLength: 1,
    },
  },
  {
    name: "MP3 8 kHz (format 14)",
    body: bytes(0xe2, 0xff),
    header: {
      ...legacyAudio,
      codec: "mp3",
      soundFormat: 14,
      sampleRate: 8000,
      sampleSize: 16,
      channels: 1,
      headerLength: 1,
    },
  },
  {
    // 0011 (PCM little-endian) 00 (5.5 kHz) 0 (8-bit) 0 (mono)
    name: "PCM 5.5 kHz 8-bit mono",
    body: bytes(0x30, 0x80),
    header: {
      ...legacyAudio,
      codec: "pcm",
      soundFormat: 3,
      sampleRate: 5512,
      sampleSize: 8,
      channels: 1,
      headerLength: 1,
    },
  },
  {
    name: "Speex (always 16 kHz mono)",
    body: bytes(0xb2, 0x00),
    header: {
      ...legacyAudio,
      codec: "speex",
      soundFormat: 11,
      sampleRate: 16000,
      sampleSize: 16,
      channels: 1,
      headerLength: 1,
    },
  },
  {
    name: "Nellymoser 16 kHz mono",
    body: bytes(0x42, 0x00),
    header: {
      ...legacyAudio,
      codec: "nellymoser",
      soundFormat: 4,
      sampleRate: 16000,
      sampleSize: 16,
      channels: 1,
      headerLength: 1,
    },
  },
  {
    name: "G.711 A-law",
    body: bytes(0x72, 0x00),
    header: {
      ...legacyAudio,
      codec: "g711a",
      soundFormat: 7,
      sampleRate: 5512,
      sampleSize: 16,
      channels: 1,
      headerLength: 1,
    },
  },
  {
    name: "G.711 mu-law",
    body: bytes(0x86, 0x00),
    header: {
      ...legacyAudio,
      codec: "g711u",
      soundFormat: 8,
      sampleRate: 11025,
      sampleSize: 16,
      channels: 1,
      headerLength: 1,
    },
  },
  {
    name: "reserved sound format",
    body: bytes(0xcf, 0x00),
    header: {
      ...legacyAudio,
      codec: "unknown",
      soundFormat: 12,
      sampleRate: 44100,
      sampleSize: 16,
      channels: 2,
      headerLength: 1,
    },
  },
  {
    // 1001 (ExHeader) 0000 (SequenceStart) | "Opus" | ID header
    name: "Enhanced Opus SequenceStart",
    body: bytes(0x90, "Opus", "OpusHead"),
    header: {
      ...enhancedAudio,
      codec: "opus",
      fourCc: "Opus",
      sequenceHeader: true,
      headerLength: 5,
      packetType: 0,
    },
  },
  {
    name: "Enhanced Opus CodedFrames",
    body: bytes(0x91, "Opus", DATA),
    header: { ...enhancedAudio, codec: "opus", fourCc: "Opus", headerLength: 5, packetType: 1 },
  },
  {
    name: "Enhanced FLAC SequenceStart",
    body: bytes(0x90, "fLaC", "fLaC", 0x00),
    header: {
      ...enhancedAudio,
      codec: "flac",
      fourCc: "fLaC",
      sequenceHeader: true,
      headerLength: 5,
      packetType: 0,
    },
  },
  {
    name: "Enhanced AC-3 CodedFrames",
    body: bytes(0x91, "ac-3", 0x0b, 0x77),
    header: { ...enhancedAudio, codec: "ac3", fourCc: "ac-3", headerLength: 5, packetType: 1 },
  },
  {
    name: "Enhanced E-AC-3 CodedFrames",
    body: bytes(0x91, "ec-3", 0x0b, 0x77),
    header: { ...enhancedAudio, codec: "eac3", fourCc: "ec-3", headerLength: 5, packetType: 1 },
  },
  {
    name: "Enhanced AAC (mp4a) SequenceStart",
    body: bytes(0x90, "mp4a", 0x12, 0x10),
    header: {
      ...enhancedAudio,
      codec: "aac",
      fourCc: "mp4a",
      sequenceHeader: true,
      headerLength: 5,
      packetType: 0,
    },
  },
  {
    name: "Enhanced MP3 CodedFrames",
    body: bytes(0x91, ".mp3", 0xff, 0xfb),
    header: { ...enhancedAudio, codec: "mp3", fourCc: ".mp3", headerLength: 5, packetType: 1 },
  },
  {
    name: "Enhanced SequenceEnd",
    body: bytes(0x92, "Opus"),
    header: {
      ...enhancedAudio,
      codec: "opus",
      fourCc: "Opus",
      endOfSequence: true,
      headerLength: 5,
      packetType: 2,
    },
  },
  {
    // MultichannelConfig: order, count, ... — not a sequence header
    name: "Enhanced MultichannelConfig",
    body: bytes(0x94, "Opus", 0x01, 0x02, 0x00, 0x00, 0x00, 0x03),
    header: { ...enhancedAudio, codec: "opus", fourCc: "Opus", headerLength: 5, packetType: 4 },
  },
  {
    // 1001 0111 (ModEx) | size-1 = 2 | 3 bytes | 0000 (TimestampOffsetNano) 0000 (SequenceStart) | "Opus"
    name: "Enhanced audio ModEx",
    body: bytes(0x97, 0x02, 0x00, 0x10, 0x00, 0x00, "Opus", "OpusHead"),
    header: {
      ...enhancedAudio,
      codec: "opus",
      fourCc: "Opus",
      sequenceHeader: true,
      headerLength: 10,
      packetType: 0,
    },
  },
  {
    // 1001 0101 (Multitrack) | 0000 (OneTrack) 0000 (SequenceStart) | "mp4a" | trackId 0 | ASC
    name: "Enhanced audio multitrack, one track",
    body: bytes(0x95, 0x00, "mp4a", 0x00, 0x12, 0x10),
    header: {
      ...enhancedAudio,
      codec: "aac",
      fourCc: "mp4a",
      sequenceHeader: true,
      headerLength: 7,
      packetType: 0,
      multitrack: true,
    },
  },
  {
    // 0010 (ManyTracksManyCodecs) 0001 (CodedFrames) | "Opus" | trackId 2 | size 4
    name: "Enhanced audio multitrack, many tracks many codecs",
    body: bytes(0x95, 0x21, "Opus", 0x02, 0x00, 0x00, 0x04, DATA),
    header: {
      ...enhancedAudio,
      codec: "opus",
      fourCc: "Opus",
      headerLength: 10,
      packetType: 1,
      multitrack: true,
    },
  },
  {
    name: "Enhanced unknown FourCC",
    body: bytes(0x91, "zzzz"),
    header: { ...enhancedAudio, codec: "unknown", fourCc: "zzzz", headerLength: 5, packetType: 1 },
  },
];

const truncatedAudio: { name: string; body: Buffer }[] = [
  { name: "empty (RTMP audio silence)", body: bytes() },
  { name: "AAC without packet type", body: bytes(0xaf) },
  { name: "Enhanced without FourCC", body: bytes(0x90, "Op") },
  { name: "Enhanced ModEx cut", body: bytes(0x97, 0x03, 0x00) },
  { name: "Enhanced multitrack without the track id", body: bytes(0x95, 0x00, "Opus") },
];

describe("parseAudioTagHeader", () => {
  it.each(audioVectors)("$name", ({ body, header }) => {
    expect(parseAudioTagHeader(body)).toEqual(header);
  });

  it.each(truncatedAudio)("throws truncated: $name", ({ body }) => {
    expect(() => parseAudioTagHeader(body)).toThrow(
      expect.objectContaining({ code: FlvErrorCode.truncated }),
    );
  });

  it("every prefix of every vector either parses or throws truncated", () => {
    for (const { body } of audioVectors) {
      for (let length = 0; length <= body.length; length++) {
        try {
          const header = parseAudioTagHeader(body.subarray(0, length));
          expect(header.headerLength).toBeLessThanOrEqual(length);
        } catch (error) {
          expect((error as FlvError).code).toBe(FlvErrorCode.truncated);
        }
      }
    }
  });
});

describe("createPacketFromTagBody", () => {
  it("sets the flags from the video header and keeps the payload Buffer", () => {
    for (const { body, header } of videoVectors) {
      const packet = createPacketFromTagBody("video", 1234, body);
      expect(packet).toMatchObject({
        kind: "video",
        timestamp: 1234,
        keyframe: header.keyframe,
        sequenceHeader: header.sequenceHeader,
      });
      expect(packet.payload).toBe(body);
    }
  });

  it("sets sequenceHeader from the audio header and never keyframe", () => {
    for (const { body, header } of audioVectors) {
      const packet = createPacketFromTagBody("audio", 5, body);
      expect(packet).toMatchObject({ kind: "audio", keyframe: false, sequenceHeader: header.sequenceHeader });
      expect(packet.payload).toBe(body);
    }
  });

  it("script data has neither flag, whatever its bytes", () => {
    const body = bytes(0x02, 0x00, 0x0a, "onMetaData", 0x08, 0, 0, 0, 0);
    expect(createPacketFromTagBody("script", 0, body)).toMatchObject({
      kind: "script",
      keyframe: false,
      sequenceHeader: false,
    });
    expect(createPacketFromTagBody("script", 0, bytes(0x17, 0x00, 0, 0, 0))).toMatchObject({
      keyframe: false,
      sequenceHeader: false,
    });
  });

  it("never throws for bodies too short for their header: both flags false", () => {
    const cases = [
      ...truncatedVideo.map(({ body }) => ({ kind: "video" as const, body })),
      ...truncatedAudio.map(({ body }) => ({ kind: "audio" as const, body })),
    ];
    for (const { kind, body } of cases) {
      const packet = createPacketFromTagBody(kind, 0, body);
      expect(packet.keyframe).toBe(false);
      expect(packet.sequenceHeader).toBe(false);
      expect(packet.payload).toBe(body);
    }
  });
});

describe("parseAvcDecoderConfig", () => {
  // avcC records written by ffmpeg 5.1 / x264 for testsrc at several sizes and profiles
  const records = [
    {
      name: "high 4:4:4 predictive, 320x240",
      hex: "01f4000dffe1001967f4000d919b28283f6022000003000200000300641e28532c01000668ebe3c44844fff8f800",
      config: { profile: 244, level: 13, width: 320, height: 240 },
    },
    {
      name: "high 4:4:4 predictive, 176x144",
      hex: "01f4000bffe1001967f4000b919b28589d80880000030008000003019078a14cb001000668ebe3c44844fff8f800",
      config: { profile: 244, level: 11, width: 176, height: 144 },
    },
    {
      name: "high 4:4:4 predictive, 1920x1080 (cropped from 1088)",
      hex: "01f40028ffe1001b67f40028919b280f0044fc4e0220000003002000000641e30632c001000668ebe3c44844fff8f800",
      config: { profile: 244, level: 40, width: 1920, height: 1080 },
    },
    {
      name: "baseline, 352x288",
      hex: "0142c00dffe100186742c00dd9016096c044000003000400000300c83c50a92001000568cb83cb20",
      config: { profile: 66, level: 13, width: 352, height: 288 },
    },
    {
      name: "high 4:2:0, 1280x720",
      hex: "0164001fffe1001a6764001facd9405005bb011000000300100000030320f183196001000668ebe3cb22c0fdf8f800",
      config: { profile: 100, level: 31, width: 1280, height: 720 },
    },
    {
      name: "high 4:2:0, 1920x1080 (cropped from 1088)",
      hex: "01640028ffe1001b67640028acd940780227e5c044000003000400000300c83c60c65801000668ebe3cb22c0fdf8f800",
      config: { profile: 100, level: 40, width: 1920, height: 1080 },
    },
    {
      name: "high 4:2:0 interlaced, 720x576",
      hex: "0164001effe100186764001eacd940b424d8088000000300800000190f8a14cb01000668fba3cb22c0fdf8f800",
      config: { profile: 100, level: 30, width: 720, height: 576 },
    },
  ];

  it.each(records)("$name", ({ hex, config }) => {
    expect(parseAvcDecoderConfig(Buffer.from(hex, "hex"))).toEqual({
      ...config,
      profileCompatibility: expect.any(Number),
      nalUnitLengthSize: 4,
    });
  });

  it("throws truncated for a record shorter than its fixed part", () => {
    expect(() => parseAvcDecoderConfig(bytes(0x01, 0x64, 0x00))).toThrow(
      expect.objectContaining({ code: FlvErrorCode.truncated }),
    );
  });

  it("leaves the size undefined when the SPS is missing, cut or not an SPS", () => {
    const full = Buffer.from(records[4].hex, "hex");
    expect(parseAvcDecoderConfig(full.subarray(0, 6))).toMatchObject({
      profile: 100,
      width: undefined,
      height: undefined,
    });
    expect(parseAvcDecoderConfig(full.subarray(0, 14))).toMatchObject({ width: undefined });
    const notSps = Buffer.from(full);
    notSps[8] = 0x68;
    expect(parseAvcDecoderConfig(notSps)).toMatchObject({ width: undefined });
  });

  it("never throws anything but FlvError on random records", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 16;
    };
    const base = Buffer.from(records[2].hex, "hex");
    for (let i = 0; i < 5000; i++) {
      const record = Buffer.from(base.subarray(0, random() % (base.length + 1)));
      for (let m = 0; m < 3; m++) if (record.length > 0) record[random() % record.length] = random() & 0xff;
      try {
        const config = parseAvcDecoderConfig(record);
        if (config.width !== undefined) expect(config.width).toBeGreaterThan(0);
      } catch (error) {
        expect(error).toBeInstanceOf(FlvError);
      }
    }
  });
});
