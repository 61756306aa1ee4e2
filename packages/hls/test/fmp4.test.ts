/**
 * The fMP4 box writer: byte vectors for the primitives, and the init segment and fragments as
 * mux.js's inspector and probe (an independent parser) read them.
 */
import type { MediaPacket } from "@onair/core";
import { createPacketFromTagBody } from "@onair/flv";
import { Fmp4Muxer, HlsError, HlsErrorCode } from "@onair/hls";
import muxjs from "mux.js";
import { describe, expect, it } from "vitest";
import { readAacConfig, readMp3Config } from "../src/codec/fmp4/audio-config.js";
import { box, fullBox, u16, u32, u64 } from "../src/codec/fmp4/boxes.js";
import { encodeFragment, SAMPLE_FLAGS } from "../src/codec/fmp4/fragment.js";
import { descriptor, encodeFtyp } from "../src/codec/fmp4/init-segment.js";
import {
  hevcCodecString,
  readAvcConfig,
  readHevcConfig,
  readHevcSps,
} from "../src/codec/fmp4/video-config.js";
import { hvc1Tag, hvcC } from "./hevc-tags.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");
const { findBox } = muxjs.mp4.probe;

// ffmpeg 5.1 + libx264 (1920x1080: 1088 coded lines, 8 cropped) and libx265 (1280x720) parameter sets.
const AVC_1080P = hex("0142c028ffe100196742c028da01e0089f97011000000300100000030320f1832a01000468ce0fc8");
const HEVC_VPS = hex("40010c01ffff01600000030090000003000003005d959809");
const HEVC_SPS = hex(
  "42010101600000030090000003000003005da00280802d165959a4932bc05a020000030002000003003210",
);
const HEVC_PPS = hex("4401c172b46240");
/** HE-AAC with backward-compatible SBR signalling: AAC-LC 24 kHz stereo + sync extension 0x2B7, SBR, 48 kHz. */
const HE_AAC_ASC = hex("13 10 56 e5 98");
/** HE-AAC, explicit: object type 5, 24 kHz core, 48 kHz SBR, core AAC-LC. */
const HE_AAC_EXPLICIT_ASC = hex("2b 11 88 00");
/** AAC-LC 44.1 kHz stereo. */
const AAC_LC_ASC = hex("12 10");

/** A High-profile avcC with the chroma/bit-depth extension after the PPS (14496-15 5.3.3.1.2). */
const AVC_HIGH = Buffer.concat([
  hex("01 64 00 1f ff e1"),
  u16(10),
  hex("67 64 00 1f ac d9 40 50 05 bb"),
  hex("01"),
  u16(4),
  hex("68 eb e3 cb"),
  hex("fd f8 f8 00"), // chroma_format 1, bit depths 8, no SPS extensions
]);

const packet = (kind: "video" | "audio" | "script", ts: number, body: Buffer): MediaPacket =>
  createPacketFromTagBody(kind, ts, body);

function avcTag(frameType: 1 | 2, packetType: 0 | 1 | 2, cts: number, data: Buffer): Buffer {
  const header = Buffer.from([(frameType << 4) | 7, packetType, 0, 0, 0]);
  header.writeIntBE(cts, 2, 3);
  return Buffer.concat([header, data]);
}

const aacTag = (packetType: 0 | 1, data: Buffer): Buffer =>
  Buffer.concat([hex("af"), Buffer.from([packetType]), data]);

/** A length-prefixed (4 bytes) frame of one NAL unit: `type` then `size` bytes of `fill`. */
function nalFrame(type: number, size: number, fill: number): Buffer {
  const nal = Buffer.alloc(size, fill);
  nal[0] = type;
  return Buffer.concat([u32(size), nal]);
}

type Box = { type: string; size: number; boxes?: Box[]; [key: string]: unknown };
const inspect = (bytes: Uint8Array): Box[] => muxjs.mp4.tools.inspect(bytes) as Box[];
const child = (parent: Box | undefined, type: string): Box => {
  const found = parent?.boxes?.find((b) => b.type === type);
  if (found === undefined) throw new Error(`no ${type} in ${parent?.type}`);
  return found;
};
const children = (parent: Box, type: string): Box[] => (parent.boxes ?? []).filter((b) => b.type === type);

interface TrunSample {
  duration: number;
  size: number;
  compositionTimeOffset?: number;
  flags?: { dependsOn: number; isNonSyncSample: number };
}
interface Traf {
  trackId: number;
  tfdt: number;
  dataOffset: number;
  version: number;
  defaultSampleFlags: number | undefined;
  samples: TrunSample[];
}

/** Every traf of a fragment, as mux.js's inspector reads it. */
function trafs(fragment: Buffer): { sequence: number; trafs: Traf[] } {
  const boxes = inspect(fragment);
  expect(boxes.map((b) => b.type)).toEqual(["moof", "mdat"]);
  const moof = boxes[0];
  return {
    sequence: child(moof, "mfhd").sequenceNumber as number,
    trafs: children(moof, "traf").map((traf) => {
      const tfhd = child(traf, "tfhd");
      const trun = child(traf, "trun");
      return {
        trackId: tfhd.trackId as number,
        defaultSampleFlags: tfhd.defaultSampleFlags as number | undefined,
        tfdt: child(traf, "tfdt").baseMediaDecodeTime as number,
        dataOffset: trun.dataOffset as number,
        version: trun.version as number,
        samples: trun.samples as TrunSample[],
      };
    }),
  };
}

/** The bytes of every sample of a traf, read at the data offset the trun gives (base = the moof's first byte). */
function sampleBytes(fragment: Buffer, traf: Traf): Buffer[] {
  let at = traf.dataOffset;
  return traf.samples.map((s) => {
    const bytes = fragment.subarray(at, at + s.size);
    at += s.size;
    return bytes;
  });
}

describe("box primitives", () => {
  it("writes a box and a full box byte for byte", () => {
    expect(box("free", hex("01 02"))).toEqual(hex("0000000a 66726565 0102"));
    expect(fullBox("mfhd", 0, 0, u32(7))).toEqual(hex("00000010 6d666864 00000000 00000007"));
    expect(fullBox("tfhd", 1, 0x020020, u32(2))).toEqual(hex("00000010 74666864 01020020 00000002"));
    expect(box("moof", box("free"), box("skip", hex("ff")))).toEqual(
      hex("00000019 6d6f6f66 00000008 66726565 00000009 736b6970 ff"),
    );
    expect(u64(2 ** 40 + 5)).toEqual(hex("0000010000000005"));
    expect(() => box("abc")).toThrow(RangeError);
  });

  it("descriptor sizes: one byte below 128, else four 7-bit bytes", () => {
    expect(descriptor(5, hex("12 10"))).toEqual(hex("05 02 1210"));
    const big = descriptor(5, Buffer.alloc(300, 1));
    expect(big.subarray(0, 5)).toEqual(hex("05 80 80 82 2c"));
    expect(big.length).toBe(305);
  });

  it("ftyp: iso6, compatible iso6 iso5 mp41", () => {
    expect(encodeFtyp()).toEqual(hex("0000001c 66747970 69736f36 00000000 69736f36 69736f35 6d703431"));
  });

  it("a fragment of one video sample, byte for byte", () => {
    const bytes = encodeFragment(3, [
      {
        trackId: 1,
        baseMediaDecodeTime: 2 ** 33 + 1,
        perSampleFlags: true,
        samples: [{ data: hex("aa bb"), duration: 3000, compositionOffset: -3600, sync: true }],
      },
    ]);
    expect(bytes).toEqual(
      hex(`
        00000068 6d6f6f66
          00000010 6d666864 00000000 00000003
          00000050 74726166
            00000010 74666864 00020000 00000001
            00000014 74666474 01000000 00000002 00000001
            00000024 7472756e 01000f01 00000001 00000070
              00000bb8 00000002 02000000 fffff1f0
        0000000a 6d646174 aabb`),
    );
  });
});

describe("codec configuration", () => {
  it("AVC: the record kept byte for byte, size from the SPS with cropping, codec string", () => {
    const config = readAvcConfig(AVC_1080P);
    expect(config).toMatchObject({ codec: "avc1", width: 1920, height: 1080, nalUnitLengthSize: 4 });
    expect(config.codecString).toBe("avc1.42c028");
    expect(config.record).toEqual(AVC_1080P);
    expect(readAvcConfig(AVC_HIGH).record).toEqual(AVC_HIGH);
    expect(() => readAvcConfig(hex("01 42 c0"))).toThrow(HlsError);
  });

  it("HEVC: size and profile from the SPS, hvc1 codec string", () => {
    expect(readHevcSps(HEVC_SPS)).toMatchObject({ width: 1280, height: 720 });
    const config = readHevcConfig(hvcC({ vps: HEVC_VPS, sps: HEVC_SPS, pps: HEVC_PPS }));
    expect(config).toMatchObject({ codec: "hvc1", width: 1280, height: 720 });
    // Main profile (1), compatibility flags 1 and 2 (0x60000000 reversed = 6), level 3.1 (93), progressive + frame only (0x90).
    expect(config.codecString).toBe("hvc1.1.6.L93.90");
    expect(hevcCodecString(hex("22 20000000 000000000000 99"))).toBe("hvc1.2.4.H153");
    expect(hevcCodecString(hex("21 40000000 b00000000008 78"))).toBe("hvc1.1.2.H120.B0.0.0.0.0.8");
    expect(readHevcSps(HEVC_SPS.subarray(0, 16))).toBeUndefined();
  });

  it("AAC: rate, frame length and channels from the AudioSpecificConfig", () => {
    expect(readAacConfig(AAC_LC_ASC)).toEqual({
      objectType: 2,
      sampleRate: 44100,
      frameSamples: 1024,
      channels: 2,
    });
    expect(readAacConfig(HE_AAC_ASC)).toEqual({
      objectType: 2,
      sampleRate: 24000,
      frameSamples: 1024,
      channels: 2,
    });
    expect(readAacConfig(HE_AAC_EXPLICIT_ASC)).toEqual({
      objectType: 5,
      sampleRate: 48000,
      frameSamples: 2048,
      channels: 2,
    });
    // frameLengthFlag 1: 960 samples; an explicit frequency (index 15) is fine in fMP4.
    expect(readAacConfig(hex("12 14")).frameSamples).toBe(960);
    expect(readAacConfig(hex("17 80 7d 00 10")).sampleRate).toBe(64000);
    expect(() => readAacConfig(hex("12"))).toThrow(HlsError);
    expect(() => readAacConfig(hex("16 90"))).toThrow(/reserved/); // index 13
  });

  it("MP3: MPEG-1 and MPEG-2 frame headers", () => {
    expect(readMp3Config(hex("ff fb 90 64"))).toEqual({
      objectTypeIndication: 0x6b,
      sampleRate: 44100,
      frameSamples: 1152,
      channels: 2,
    });
    expect(readMp3Config(hex("ff f3 84 c4"))).toEqual({
      objectTypeIndication: 0x69,
      sampleRate: 24000,
      frameSamples: 576,
      channels: 1,
    });
    expect(readMp3Config(hex("00 00 00 00"))).toBeUndefined();
  });
});

function configured(): Fmp4Muxer {
  const muxer = new Fmp4Muxer();
  muxer.push(packet("video", 0, avcTag(1, 0, 0, AVC_HIGH)));
  muxer.push(packet("audio", 0, aacTag(0, AAC_LC_ASC)));
  return muxer;
}

describe("init segment", () => {
  it("is undefined before any track, and versions count configuration changes only", () => {
    const muxer = new Fmp4Muxer();
    expect(muxer.initSegment()).toBeUndefined();
    expect(muxer.initVersion).toBe(0);
    expect(muxer.codecs).toBe("");
    muxer.push(packet("video", 0, avcTag(1, 0, 0, AVC_HIGH)));
    expect(muxer.initVersion).toBe(1);
    const first = muxer.initSegment();
    muxer.push(packet("video", 40, avcTag(1, 0, 0, AVC_HIGH))); // the same header again
    expect(muxer.initVersion).toBe(1);
    expect(muxer.initSegment()).toBe(first);
    muxer.push(packet("audio", 40, aacTag(0, AAC_LC_ASC)));
    expect(muxer.initVersion).toBe(2);
    muxer.push(packet("audio", 80, aacTag(0, AAC_LC_ASC)));
    expect(muxer.initVersion).toBe(2);
    muxer.push(packet("video", 80, avcTag(1, 0, 0, AVC_1080P)));
    expect(muxer.initVersion).toBe(3);
    expect(muxer.tracks).toEqual({ video: "avc1", audio: "mp4a" });
    expect(muxer.codecs).toBe("avc1.42c028,mp4a.40.2");
    expect(muxer.initSegment()).not.toEqual(first);
  });

  it("ftyp + moov with mvhd, a trak per track and mvex/trex, as mux.js reads them", () => {
    const muxer = configured();
    const init = muxer.initSegment() as Buffer;
    const boxes = inspect(init);
    expect(boxes.map((b) => b.type)).toEqual(["ftyp", "moov"]);
    expect(boxes[0]).toMatchObject({ majorBrand: "iso6", compatibleBrands: ["iso6", "iso5", "mp41"] });
    const moov = boxes[1];
    expect(moov.boxes?.map((b) => b.type)).toEqual(["mvhd", "trak", "trak", "mvex"]);
    expect(child(moov, "mvhd")).toMatchObject({ timescale: 1000, duration: 0, nextTrackId: 3 });
    const [videoTrak, audioTrak] = children(moov, "trak");
    expect(child(videoTrak, "tkhd")).toMatchObject({ trackId: 1, width: 1280, height: 720 });
    expect(child(audioTrak, "tkhd")).toMatchObject({ trackId: 2, volume: 1 });
    for (const trak of [videoTrak, audioTrak]) {
      const mdia = child(trak, "mdia");
      expect(mdia.boxes?.map((b) => b.type)).toEqual(["mdhd", "hdlr", "minf"]);
      const stbl = child(child(mdia, "minf"), "stbl");
      expect(stbl.boxes?.map((b) => b.type)).toEqual(["stsd", "stts", "stsc", "stsz", "stco"]);
      expect(child(stbl, "stts").timeToSamples).toEqual([]);
      expect(child(stbl, "stsz").entries).toEqual([]);
      expect(child(mdia, "mdhd").language).toBe("und");
    }
    expect(child(child(videoTrak, "mdia"), "mdhd").timescale).toBe(90000);
    expect(child(child(videoTrak, "mdia"), "hdlr").handlerType).toBe("vide");
    expect(child(child(audioTrak, "mdia"), "mdhd").timescale).toBe(44100);
    expect(child(child(audioTrak, "mdia"), "hdlr").handlerType).toBe("soun");
    expect(children(child(moov, "mvex"), "trex").map((t) => t.trackId)).toEqual([1, 2]);

    // The sample entries.
    const videoStsd = child(child(child(child(videoTrak, "mdia"), "minf"), "stbl"), "stsd");
    const avc1 = (videoStsd.sampleDescriptions as Box[])[0];
    expect(avc1).toMatchObject({ type: "avc1", dataReferenceIndex: 1, width: 1280, height: 720, depth: 24 });
    expect((avc1.config as Box[])[0]).toMatchObject({
      type: "avcC",
      avcProfileIndication: 100,
      lengthSizeMinusOne: 3,
    });
    const audioStsd = child(child(child(child(audioTrak, "mdia"), "minf"), "stbl"), "stsd");
    const mp4a = (audioStsd.sampleDescriptions as Box[])[0];
    expect(mp4a).toMatchObject({ type: "mp4a", channelcount: 2, samplesize: 16, samplerate: 44100 });
    expect(mp4a.streamDescriptor).toMatchObject({
      type: "esds",
      decoderConfig: {
        objectProfileIndication: 0x40,
        streamType: 5,
        decoderConfigDescriptor: {
          tag: 5,
          length: 2,
          audioObjectType: 2,
          samplingFrequencyIndex: 4,
          channelConfiguration: 2,
        },
      },
    });

    // The avcC box holds the sequence header's record byte for byte (High-profile extension included).
    const entries = findBox(init, ["moov", "trak", "mdia", "minf", "stbl", "stsd"]);
    const avcC = findBox(findBox(entries[0].subarray(8), ["avc1"])[0].subarray(78), ["avcC"])[0];
    expect(Buffer.from(avcC)).toEqual(AVC_HIGH);
    expect(muxjs.mp4.probe.tracks(init)).toEqual([
      { id: 1, type: "video", codec: "avc1.64001f", timescale: 90000 },
      // mux.js's probe builds "mp4a.40.N" from the esds streamType byte (0x15 >> 2 = 5), not from the ASC: its codec is not checked.
      expect.objectContaining({ id: 2, type: "audio", timescale: 44100 }),
    ]);
  });

  it("esds keeps a 5-byte HE-AAC AudioSpecificConfig byte for byte", () => {
    const muxer = new Fmp4Muxer();
    muxer.push(packet("audio", 0, aacTag(0, HE_AAC_ASC)));
    const init = muxer.initSegment() as Buffer;
    const mp4a = findBox(findBox(init, ["moov", "trak", "mdia", "minf", "stbl", "stsd"])[0].subarray(8), [
      "mp4a",
    ])[0];
    const esds = findBox(mp4a.subarray(28), ["esds"])[0];
    // version/flags, ES_Descriptor 03 len ES_ID:16 flags, DecoderConfigDescriptor 04 len 40 15 ..., DecoderSpecificInfo 05 05 <ASC>, SLConfig 06 01 02
    expect(Buffer.from(esds)).toEqual(
      hex("00000000 03 1c 0000 00 04 14 40 15 000000 00000000 00000000 05 05 131056e598 06 01 02"),
    );
    expect(muxer.codecs).toBe("mp4a.40.2");
    expect(muxer.tracks).toEqual({ video: undefined, audio: "mp4a" });
    expect(muxjs.mp4.probe.tracks(init)).toEqual([
      expect.objectContaining({ id: 2, type: "audio", timescale: 24000 }),
    ]);
  });

  it("HEVC: hvc1 + hvcC byte for byte, from Enhanced RTMP and from legacy codec 12", () => {
    const record = hvcC({ vps: HEVC_VPS, sps: HEVC_SPS, pps: HEVC_PPS });
    for (const body of [hvc1Tag(1, 0, record), Buffer.concat([hex("1c 00 000000"), record])]) {
      const muxer = new Fmp4Muxer();
      muxer.push(packet("video", 0, body));
      const init = muxer.initSegment() as Buffer;
      const entry = findBox(init, ["moov", "trak", "mdia", "minf", "stbl", "stsd"])[0].subarray(8);
      const hvc1 = findBox(entry, ["hvc1"])[0];
      expect(hvc1).toBeDefined();
      expect(Buffer.from(hvc1.subarray(24, 28))).toEqual(hex("0500 02d0")); // 1280 x 720
      expect(Buffer.from(findBox(hvc1.subarray(78), ["hvcC"])[0])).toEqual(record);
      expect(muxer.tracks.video).toBe("hvc1");
      expect(muxer.codecs).toBe("hvc1.1.6.L93.90");
    }
  });

  it("MP3: mp4a with objectTypeIndication 0x6B (MPEG-1 rates) or 0x69 (MPEG-2 rates)", () => {
    for (const [frameHeader, oti, codec, rate] of [
      ["fffb9064", 0x6b, "mp4a.6B", 44100],
      ["fff384c4", 0x69, "mp4a.69", 24000],
    ] as const) {
      const muxer = new Fmp4Muxer();
      muxer.push(packet("audio", 0, Buffer.concat([hex("2f"), hex(frameHeader), Buffer.alloc(100)])));
      expect(muxer.tracks.audio).toBe("mp3");
      expect(muxer.codecs).toBe(codec);
      const trak = child(inspect(muxer.initSegment() as Buffer)[1], "trak");
      const stsd = child(child(child(child(trak, "mdia"), "minf"), "stbl"), "stsd");
      const mp4a = stsd.sampleDescriptions as Box[];
      expect(mp4a[0]).toMatchObject({ type: "mp4a", samplerate: rate });
      expect((mp4a[0].streamDescriptor as Box).decoderConfig).toMatchObject({ objectProfileIndication: oti });
      expect(muxer.pendingSamples).toBe(1);
      const fragment = trafs(muxer.flush());
      expect(fragment.trafs[0]).toMatchObject({ trackId: 2, tfdt: 0 });
      expect(fragment.trafs[0].samples[0].duration).toBe(rate === 44100 ? 1152 : 576);
    }
  });
});

describe("fragments", () => {
  it("two trafs in one moof: every sample's bytes at the offsets the truns give", () => {
    const muxer = configured();
    const videoFrames = [nalFrame(0x65, 300, 0x11), nalFrame(0x41, 50, 0x22), nalFrame(0x41, 70, 0x33)];
    const audioFrames = [
      Buffer.alloc(20, 0xa1),
      Buffer.alloc(25, 0xa2),
      Buffer.alloc(30, 0xa3),
      Buffer.alloc(7, 0xa4),
    ];
    muxer.push(packet("video", 1000, avcTag(1, 1, 0, videoFrames[0])));
    muxer.push(packet("audio", 1000, aacTag(1, audioFrames[0])));
    muxer.push(packet("audio", 1023, aacTag(1, audioFrames[1])));
    muxer.push(packet("video", 1040, avcTag(2, 1, 0, videoFrames[1])));
    muxer.push(packet("audio", 1046, aacTag(1, audioFrames[2])));
    muxer.push(packet("audio", 1070, aacTag(1, audioFrames[3])));
    muxer.push(packet("video", 1080, avcTag(2, 1, 0, videoFrames[2])));
    expect(muxer.pendingSamples).toBe(7);
    expect(muxer.pendingStartMs).toBe(1000);
    expect(muxer.pendingDurationMs).toBe(80);
    expect(muxer.pendingBytes).toBe(videoFrames.concat(audioFrames).reduce((n, b) => n + b.length, 0));
    expect(muxer.pendingStartsWithKeyframe).toBe(true);
    const fragment = muxer.flush(1120);
    expect(muxer.pendingSamples).toBe(0);
    const {
      sequence,
      trafs: [video, audio],
    } = trafs(fragment);
    expect(sequence).toBe(1);
    expect(video).toMatchObject({ trackId: 1, tfdt: 90000, version: 1 });
    expect(audio).toMatchObject({
      trackId: 2,
      tfdt: 44100,
      version: 1,
      defaultSampleFlags: SAMPLE_FLAGS.sync,
    });
    expect(sampleBytes(fragment, video)).toEqual(videoFrames);
    expect(sampleBytes(fragment, audio)).toEqual(audioFrames);
    expect(video.samples.map((s) => s.duration)).toEqual([3600, 3600, 3600]);
    expect(audio.samples.map((s) => s.duration)).toEqual([1024, 1024, 1024, 1024]);
    expect(video.samples.map((s) => [s.flags?.dependsOn, s.flags?.isNonSyncSample])).toEqual([
      [2, 0],
      [1, 1],
      [1, 1],
    ]);
    // mux.js's probe: the earliest start over both tracks, by the init's timescales.
    const timescales = muxjs.mp4.probe.timescale(muxer.initSegment() as Buffer);
    expect(timescales).toEqual({ 1: 90000, 2: 44100 });
    expect(muxjs.mp4.probe.startTime(timescales, fragment)).toBe(1);
  });

  it("trun version 1 carries a negative composition offset", () => {
    const muxer = configured();
    muxer.push(packet("video", 0, avcTag(1, 1, 80, nalFrame(0x65, 10, 1))));
    muxer.push(packet("video", 40, avcTag(2, 1, -40, nalFrame(0x41, 10, 2))));
    muxer.push(packet("video", 80, avcTag(2, 1, 0, nalFrame(0x41, 10, 3))));
    const [video] = trafs(muxer.flush()).trafs;
    expect(video.version).toBe(1);
    expect(video.samples.map((s) => s.compositionTimeOffset)).toEqual([7200, -3600, 0]);
  });

  it("sequence numbers increase, tfdt follows the DTS, the last video sample lasts until endMs or as long as the one before", () => {
    const muxer = configured();
    expect(muxer.flush()).toEqual(Buffer.alloc(0));
    muxer.push(packet("video", 5000, avcTag(1, 1, 0, nalFrame(0x65, 10, 1))));
    muxer.push(packet("video", 5033, avcTag(2, 1, 0, nalFrame(0x41, 10, 2))));
    const first = trafs(muxer.flush());
    expect(first.sequence).toBe(1);
    expect(first.trafs).toHaveLength(1);
    expect(first.trafs[0].tfdt).toBe(450000);
    expect(first.trafs[0].samples.map((s) => s.duration)).toEqual([2970, 2970]);
    muxer.push(packet("video", 5066, avcTag(2, 1, 0, nalFrame(0x41, 10, 3))));
    expect(muxer.pendingStartsWithKeyframe).toBe(false);
    const second = trafs(muxer.flush(5100));
    expect(second.sequence).toBe(2);
    expect(second.trafs[0].tfdt).toBe(5066 * 90);
    expect(second.trafs[0].samples.map((s) => s.duration)).toEqual([34 * 90]);
    // endMs not after the last sample: the last known duration.
    muxer.push(packet("video", 5100, avcTag(2, 1, 0, nalFrame(0x41, 10, 4))));
    expect(trafs(muxer.flush(5000)).trafs[0].samples[0].duration).toBe(34 * 90);
  });

  it("timestamps that go back give zero durations, never negative ones", () => {
    const muxer = configured();
    muxer.push(packet("video", 1000, avcTag(1, 1, 0, nalFrame(0x65, 10, 1))));
    muxer.push(packet("video", 1040, avcTag(2, 1, 0, nalFrame(0x41, 10, 2))));
    muxer.push(packet("video", 500, avcTag(2, 1, 0, nalFrame(0x41, 10, 3))));
    muxer.push(packet("video", 540, avcTag(2, 1, 0, nalFrame(0x41, 10, 4))));
    muxer.push(packet("audio", 1000, aacTag(1, Buffer.alloc(5))));
    muxer.push(packet("audio", 200, aacTag(1, Buffer.alloc(5))));
    const [video, audio] = trafs(muxer.flush()).trafs;
    expect(video.samples.map((s) => s.duration)).toEqual([3600, 0, 3600, 3600]);
    expect(audio.samples.map((s) => s.duration)).toEqual([0, 1024]);
  });

  it("audio decode times are counted in samples (no drift from ms rounding) and re-anchored on a jump", () => {
    const muxer = new Fmp4Muxer();
    muxer.push(packet("audio", 0, aacTag(0, AAC_LC_ASC)));
    const tfdts: number[] = [];
    const durations: number[] = [];
    const start = 10_000;
    const frameMs = (i: number): number => start + Math.round((i * 1024 * 1000) / 44100);
    for (let i = 0; i < 1000; i++) {
      muxer.push(packet("audio", frameMs(i), aacTag(1, Buffer.alloc(4, i & 0xff))));
      if (i % 43 === 42) {
        const [audio] = trafs(muxer.flush()).trafs;
        tfdts.push(audio.tfdt);
        durations.push(...audio.samples.map((s) => s.duration));
      }
    }
    const anchor = Math.round((start * 44100) / 1000);
    expect(tfdts).toEqual(tfdts.map((_, k) => anchor + (k * 43 + 0) * 1024));
    expect(new Set(durations)).toEqual(new Set([1024]));
    // A 1 s gap (more than two frames): the count follows the timestamp.
    muxer.flush();
    muxer.push(packet("audio", frameMs(1000) + 1000, aacTag(1, Buffer.alloc(4))));
    expect(trafs(muxer.flush()).trafs[0].tfdt).toBe(Math.round(((frameMs(1000) + 1000) * 44100) / 1000));
  });

  it("sync samples: the tag's frame type, or an IDR NAL unit; HEVC IRAP from hvc1 tags", () => {
    const muxer = configured();
    muxer.push(
      packet("video", 0, avcTag(2, 1, 0, Buffer.concat([nalFrame(0x06, 5, 0), nalFrame(0x65, 5, 0)]))),
    );
    expect(muxer.pendingStartsWithKeyframe).toBe(true);
    const hevc = new Fmp4Muxer();
    hevc.push(packet("video", 0, hvc1Tag(1, 0, hvcC({ vps: HEVC_VPS, sps: HEVC_SPS, pps: HEVC_PPS }))));
    hevc.push(packet("video", 0, hvc1Tag(1, 1, nalFrame(19 << 1, 8, 0), -40)));
    hevc.push(packet("video", 40, hvc1Tag(2, 3, nalFrame(1 << 1, 8, 0))));
    expect(hevc.pendingStartsWithKeyframe).toBe(true);
    const [video] = trafs(hevc.flush()).trafs;
    expect(video.samples.map((s) => [s.flags?.isNonSyncSample, s.compositionTimeOffset])).toEqual([
      [0, -3600],
      [1, 0],
    ]);
  });

  it("audio only: every queued part starts independent", () => {
    const muxer = new Fmp4Muxer();
    muxer.push(packet("audio", 0, aacTag(0, AAC_LC_ASC)));
    expect(muxer.pendingStartsWithKeyframe).toBe(false);
    muxer.push(packet("audio", 0, aacTag(1, Buffer.alloc(3))));
    expect(muxer.pendingStartsWithKeyframe).toBe(true);
  });
});

describe("errors: the packet is skipped and the muxer stays usable", () => {
  it("frames before their sequence header, unsupported codecs, truncated frames, empty frames", () => {
    const muxer = new Fmp4Muxer();
    const code = (fn: () => void): string | undefined => {
      try {
        fn();
      } catch (error) {
        expect(error).toBeInstanceOf(HlsError);
        return (error as HlsError).code;
      }
      return undefined;
    };
    expect(code(() => muxer.push(packet("video", 0, avcTag(1, 1, 0, nalFrame(0x65, 4, 0)))))).toBe(
      HlsErrorCode.missingConfig,
    );
    expect(code(() => muxer.push(packet("audio", 0, aacTag(1, Buffer.alloc(4)))))).toBe(
      HlsErrorCode.missingConfig,
    );
    expect(code(() => muxer.push(packet("video", 0, hex("12 00"))))).toBe(HlsErrorCode.unsupportedCodec); // H.263
    expect(code(() => muxer.push(packet("audio", 0, hex("6f 00"))))).toBe(HlsErrorCode.unsupportedCodec); // Nellymoser
    expect(code(() => muxer.push(packet("video", 0, hex("17 00"))))).toBe(HlsErrorCode.truncated);
    // One SPS announced, none there (a record too short to hold any is in-band mode: inband-params.test.ts).
    expect(code(() => muxer.push(packet("video", 0, avcTag(1, 0, 0, hex("01 42 c0 1e ff e1 00")))))).toBe(
      HlsErrorCode.avcConfig,
    );
    expect(code(() => muxer.push(packet("audio", 0, aacTag(0, hex("12")))))).toBe(HlsErrorCode.aacConfig);
    expect(muxer.initSegment()).toBeUndefined();
    muxer.push(packet("video", 0, avcTag(1, 0, 0, AVC_HIGH)));
    expect(code(() => muxer.push(packet("video", 0, avcTag(1, 1, 0, hex("00 00 00 09 65")))))).toBe(
      HlsErrorCode.truncated,
    );
    muxer.push(packet("video", 0, avcTag(1, 1, 0, Buffer.alloc(0)))); // empty: dropped
    muxer.push(packet("script", 0, hex("02 00 0a")));
    expect(muxer.pendingSamples).toBe(0);
    muxer.push(packet("video", 0, avcTag(1, 1, 0, nalFrame(0x65, 4, 0))));
    expect(muxer.pendingSamples).toBe(1);
  });

  it("maxPendingBytes bounds what is queued between flushes", () => {
    const muxer = new Fmp4Muxer({ maxPendingBytes: 100 });
    muxer.push(packet("video", 0, avcTag(1, 0, 0, AVC_HIGH)));
    muxer.push(packet("video", 0, avcTag(1, 1, 0, nalFrame(0x65, 60, 0))));
    expect(() => muxer.push(packet("video", 40, avcTag(2, 1, 0, nalFrame(0x41, 60, 0))))).toThrow(
      expect.objectContaining({ code: HlsErrorCode.fragmentTooLarge }),
    );
    expect(muxer.pendingSamples).toBe(1);
    expect(muxer.flush().length).toBeGreaterThan(64);
    muxer.push(packet("video", 40, avcTag(2, 1, 0, nalFrame(0x41, 60, 0))));
    expect(muxer.pendingSamples).toBe(1);
  });
});

describe("hostile input", () => {
  it("random tag bodies only ever throw HlsError, and the muxer keeps writing valid boxes", () => {
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const bytes = (n: number): Buffer =>
      Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
    const prefixes = [
      hex("17 00 000000"),
      hex("17 01 000000"),
      hex("27 01 000000"),
      hex("1c 00 000000"),
      hex("90 68766331"),
      hex("91 68766331 000000"),
      hex("af 00"),
      hex("af 01"),
      hex("2f"),
      hex("9f 2e6d7033"),
      hex(""),
    ];
    const muxer = new Fmp4Muxer({ maxPendingBytes: 1 << 20 });
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const prefix = prefixes[Math.floor(random() * prefixes.length)];
      const body = Buffer.concat([prefix, bytes(Math.floor(random() * 200))]);
      const kind =
        prefix.length > 0 &&
        (prefix[0] >> 4 === 0xa || prefix[0] >> 4 === 0x2 || prefix[0] >> 4 === 0x9) &&
        prefix[0] !== 0x90 &&
        prefix[0] !== 0x91
          ? "audio"
          : "video";
      try {
        muxer.push(createPacketFromTagBody(kind, i * 10, body));
        accepted += 1;
        const init = muxer.initSegment(); // built at every change, so a bad configuration shows here
        if (init !== undefined) expect(init.readUInt32BE(init.readUInt32BE(0))).toBe(init.length - 28);
      } catch (error) {
        expect(error).toBeInstanceOf(HlsError);
      }
      if (i % 50 === 49) {
        const init = muxer.initSegment();
        if (init !== undefined) expect(inspect(init).map((b) => b.type)).toEqual(["ftyp", "moov"]);
        const fragment = muxer.flush();
        if (fragment.length > 0) expect(inspect(fragment).map((b) => b.type)).toEqual(["moof", "mdat"]);
      }
    }
    expect(accepted).toBeGreaterThan(100);
  });
});
