import { createMediaPacket, type MediaPacket } from "@onair/core";
import { HlsError, HlsErrorCode, TS_PACKET_SIZE, TS_PID, TsMuxer, TsStreamType } from "@onair/hls";
import probe from "mux.js/cjs/m2ts/probe.js";
import { describe, expect, it } from "vitest";
import { encodeAdtsFrame, parseAudioSpecificConfig } from "../src/codec/adts.js";
import { parseAvcParameterSets, parseHevcParameterSets, toAnnexB } from "../src/codec/annex-b.js";
import { crc32Mpeg2 } from "../src/codec/crc32.js";
import {
  encodePat,
  encodePmt,
  packetizePes,
  readPcrBase,
  readPesTimestamp,
  wrap33,
  writePcr,
  writePesTimestamp,
} from "../src/codec/ts-packet.js";
import { hvc1Tag, hvcC } from "./hevc-tags.js";
import { annexBUnits, expectContinuity, readPes, splitPackets } from "./ts-reader.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

// A baseline SPS and PPS (the bytes do not have to decode: the tests check what goes where).
const SPS = hex("67 42 c0 1e d9 00 a0 47 fe c8");
const PPS = hex("68 ce 3c 80");

function avcC(lengthSize: 1 | 2 | 4): Buffer {
  return Buffer.concat([
    hex("01 42 c0 1e"),
    Buffer.from([0xfc | (lengthSize - 1), 0xe1]),
    Buffer.from([0, SPS.length]),
    SPS,
    Buffer.from([1, 0, PPS.length]),
    PPS,
  ]);
}

function lengthPrefixed(size: 1 | 2 | 4, units: Buffer[]): Buffer {
  return Buffer.concat(
    units.flatMap((u) => {
      const length = Buffer.alloc(size);
      length.writeUIntBE(u.length, 0, size);
      return [length, u];
    }),
  );
}

function videoTag(frameType: number, packetType: number, cts: number, data: Buffer): Buffer {
  const header = Buffer.from([(frameType << 4) | 7, packetType, 0, 0, 0]);
  header.writeIntBE(cts, 2, 3);
  return Buffer.concat([header, data]);
}

const video = (
  ts: number,
  body: Buffer,
  flags: { keyframe?: boolean; sequenceHeader?: boolean } = {},
): MediaPacket => createMediaPacket("video", ts, body, flags);
const audio = (ts: number, body: Buffer, sequenceHeader = false): MediaPacket =>
  createMediaPacket("audio", ts, body, { sequenceHeader });

const ASC_LC_44100_STEREO = hex("12 10");
const aacHeader = audio(0, Buffer.concat([hex("af 00"), ASC_LC_44100_STEREO]), true);
const aacFrame = (ts: number, size = 200): MediaPacket =>
  audio(ts, Buffer.concat([hex("af 01"), Buffer.alloc(size, 0x21)]));
const avcHeader = (size: 1 | 2 | 4 = 4): MediaPacket =>
  video(0, videoTag(1, 0, 0, avcC(size)), { sequenceHeader: true });
const idr = (ts: number, cts = 0, size: 1 | 2 | 4 = 4, bytes = 3000): MediaPacket =>
  video(
    ts,
    videoTag(1, 1, cts, lengthPrefixed(size, [Buffer.concat([hex("65 88"), Buffer.alloc(bytes, 7)])])),
    {
      keyframe: true,
    },
  );
const inter = (ts: number, cts = 0, bytes = 500): MediaPacket =>
  video(ts, videoTag(2, 1, cts, lengthPrefixed(4, [Buffer.concat([hex("41 9a"), Buffer.alloc(bytes, 9)])])));

describe("CRC-32/MPEG-2 and PSI", () => {
  it("has the CRC-32/MPEG-2 check value", () => {
    expect(crc32Mpeg2(Buffer.from("123456789"))).toBe(0x0376e6e7);
  });

  it("writes ffmpeg's PAT and PMT byte for byte (H.264 on 0x100, AAC on 0x101, PCR on video)", () => {
    const pat = encodePat(0x1000, 0, 0);
    expect(pat).toHaveLength(TS_PACKET_SIZE);
    // 47 | PUSI, PID 0 | payload only, cc 0 | pointer 0 | table 0, length 13, ts id 1, version 0 current,
    // section 0/0, program 1 → PMT PID 0x1000, CRC (from ffmpeg 5.1's output)
    expect(pat.subarray(0, 21)).toEqual(
      hex("47 40 00 10 00 00 b0 0d 00 01 c1 00 00 00 01 f0 00 2a b1 04 b2"),
    );
    expect(pat.subarray(21).every((b) => b === 0xff)).toBe(true);
    const pmt = encodePmt(
      0x1000,
      0x100,
      [
        { streamType: 0x1b, pid: 0x100 },
        { streamType: 0x0f, pid: 0x101 },
      ],
      0,
      0,
    );
    expect(pmt.subarray(0, 31)).toEqual(
      hex("47 50 00 10 00 02 b0 17 00 01 c1 00 00 e1 00 f0 00 1b e1 00 f0 00 0f e1 01 f0 00 2f 44 b9 9b"),
    );
    // The CRC over the section and its CRC is 0 (how a demuxer checks it).
    expect(crc32Mpeg2(pmt, 5, 5 + 3 + 0x17)).toBe(0);
  });

  it("puts the version in PAT and PMT and keeps their CRC right", () => {
    const pat = encodePat(0x1000, 5, 3);
    expect(pat[3] & 0x0f).toBe(3);
    expect((pat[10] >> 1) & 0x1f).toBe(5);
    expect(crc32Mpeg2(pat, 5, 5 + 3 + 13)).toBe(0);
  });
});

describe("timestamps", () => {
  it("encodes a PTS with its prefix and marker bits", () => {
    const b = Buffer.alloc(5);
    writePesTimestamp(b, 0, 0b0010, 0);
    expect(b).toEqual(hex("21 00 01 00 01"));
    writePesTimestamp(b, 0, 0b0011, 2 ** 33 - 1);
    expect(b).toEqual(hex("3f ff ff ff ff"));
    for (const value of [1, 90_000, 2 ** 30, 2 ** 32 + 12345, 2 ** 33 - 2]) {
      writePesTimestamp(b, 0, 0b0001, value);
      expect(readPesTimestamp(b, 0)).toBe(value);
    }
  });

  it("wraps at 2^33", () => {
    expect(wrap33(2 ** 33)).toBe(0);
    expect(wrap33(2 ** 33 + 90)).toBe(90);
    expect(wrap33(-90)).toBe(2 ** 33 - 90);
    const b = Buffer.alloc(5);
    writePesTimestamp(b, 0, 0b0010, 2 ** 33 + 900);
    expect(readPesTimestamp(b, 0)).toBe(900);
  });

  it("encodes the PCR base with 6 reserved bits and extension 0", () => {
    const b = Buffer.alloc(6);
    writePcr(b, 0, 1);
    expect(b).toEqual(hex("00 00 00 00 fe 00"));
    writePcr(b, 0, 2 ** 33 - 1);
    expect(b).toEqual(hex("ff ff ff ff fe 00"));
    for (const value of [0, 90_000, 2 ** 32 + 7, 2 ** 33 - 3]) {
      writePcr(b, 0, value);
      expect(readPcrBase(b, 0)).toBe(value);
    }
    writePcr(b, 0, 2 ** 33 + 5);
    expect(readPcrBase(b, 0)).toBe(5);
  });

  it("wraps PTS and DTS at 2^33 in the muxer (timestamps past 26.5 hours)", () => {
    const muxer = new TsMuxer();
    muxer.push(avcHeader());
    const ts = Math.ceil(2 ** 33 / 90) + 1000; // ms past the wrap
    const packets = splitPackets(muxer.push(idr(ts, 80)));
    const [pes] = readPes(packets, TS_PID.video);
    expect(pes.dts).toBe(wrap33(ts * 90));
    expect(pes.pts).toBe(wrap33((ts + 80) * 90));
    expect(pes.dts).toBeLessThan(2 ** 33);
  });
});

describe("TS packets", () => {
  for (const length of [1, 100, 176, 182, 183, 184, 185, 367, 368, 369, 1000]) {
    it(`cuts a ${length}-byte PES into 188-byte packets, stuffing the last through its adaptation field`, () => {
      const pes = Buffer.alloc(length, 0xab);
      pes[0] = 0;
      const { bytes, continuityCounter } = packetizePes(pes, { pid: 0x101, continuityCounter: 14 });
      const packets = splitPackets(bytes);
      expect(packets[0].pusi).toBe(true);
      expect(packets.slice(1).every((p) => !p.pusi)).toBe(true);
      expect(packets.map((p) => p.cc)).toEqual(packets.map((_, i) => (14 + i) & 15));
      expect(continuityCounter).toBe((14 + packets.length) & 15);
      expect(Buffer.concat(packets.map((p) => p.payload))).toEqual(pes);
      for (const p of packets.slice(0, -1)) expect(p.adaptation).toBeUndefined();
      const last = packets[packets.length - 1];
      if (last.adaptation !== undefined && last.adaptation.length > 1) {
        expect(last.adaptation[0]).toBe(0); // no flags
        expect(last.adaptation.subarray(1).every((b) => b === 0xff)).toBe(true);
      }
    });
  }

  it("writes the PCR and random_access_indicator in the first packet's adaptation field", () => {
    const { bytes } = packetizePes(Buffer.alloc(400, 1), {
      pid: 0x100,
      continuityCounter: 0,
      pcr: 123_456,
      randomAccess: true,
    });
    const [first] = splitPackets(bytes);
    expect(first.adaptation?.[0]).toBe(0x50);
    expect(readPcrBase(first.adaptation as Buffer, 1)).toBe(123_456);
    expect(first.payload).toHaveLength(184 - 8);
  });
});

describe("H.264 to Annex B", () => {
  for (const size of [1, 2, 4] as const) {
    it(`reads NAL lengths of ${size} bytes from the avcC and writes AUD, SPS, PPS before an IDR`, () => {
      const params = parseAvcParameterSets(avcC(size));
      expect(params.nalUnitLengthSize).toBe(size);
      const sei = hex("06 05 01 ff 80");
      const slice = Buffer.concat([hex("65 88 84"), Buffer.alloc(100, 3)]);
      const frame = lengthPrefixed(size, [hex("09 10"), SPS, PPS, sei, slice]);
      const unit = toAnnexB(frame, params, false);
      expect(unit.idr).toBe(true);
      expect(annexBUnits(unit.bytes)).toEqual([hex("09 f0"), SPS, PPS, sei, slice]);
      expect(unit.bytes.subarray(0, 6)).toEqual(hex("00 00 00 01 09 f0"));
      const p = toAnnexB(lengthPrefixed(size, [hex("41 9a 02")]), params, false);
      expect(p.idr).toBe(false);
      expect(annexBUnits(p.bytes)).toEqual([hex("09 f0"), hex("41 9a 02")]);
    });
  }

  it("keeps an in-band SPS that differs from the avcC's", () => {
    const params = parseAvcParameterSets(avcC(4));
    const otherSps = hex("67 64 00 1f ac");
    const unit = toAnnexB(lengthPrefixed(4, [otherSps, hex("65 88")]), params, false);
    expect(annexBUnits(unit.bytes)).toEqual([hex("09 f0"), SPS, PPS, otherSps, hex("65 88")]);
  });

  it("refuses NAL lengths that run past the frame and malformed avcC records", () => {
    const params = parseAvcParameterSets(avcC(4));
    expect(() => toAnnexB(hex("00 00 00 09 65 88"), params, false)).toThrow(
      expect.objectContaining({ code: HlsErrorCode.truncated }),
    );
    expect(() => toAnnexB(hex("00 00"), params, false)).toThrow(HlsError);
    expect(() => parseAvcParameterSets(avcC(4).subarray(0, 12))).toThrow(
      expect.objectContaining({ code: HlsErrorCode.avcConfig }),
    );
  });
});

describe("ADTS", () => {
  it("builds the header from an AAC-LC AudioSpecificConfig", () => {
    const config = parseAudioSpecificConfig(ASC_LC_44100_STEREO);
    expect(config).toEqual({ profile: 1, samplingFrequencyIndex: 4, channelConfiguration: 2 });
    const frame = encodeAdtsFrame(config, Buffer.alloc(100, 1));
    // FFF1 | LC, 44.1 kHz (4), 2 channels | frame length 107 | fullness 0x7FF | 1 raw block
    expect(frame.subarray(0, 7)).toEqual(hex("ff f1 50 80 0d 7f fc"));
    expect(frame).toHaveLength(107);
  });

  it("writes HE-AAC (SBR, PS) as its AAC-LC core and mono at 48 kHz", () => {
    // object type 5 (SBR), 24 kHz core (6), stereo, extension 48 kHz (3), core object type 2
    expect(parseAudioSpecificConfig(hex("2b 11 88 00"))).toEqual({
      profile: 1,
      samplingFrequencyIndex: 6,
      channelConfiguration: 2,
    });
    expect(parseAudioSpecificConfig(hex("11 88"))).toEqual({
      profile: 1,
      samplingFrequencyIndex: 3,
      channelConfiguration: 1,
    });
  });

  it("refuses what ADTS cannot carry", () => {
    const code = (asc: string): unknown => {
      try {
        parseAudioSpecificConfig(hex(asc));
      } catch (error) {
        return (error as HlsError).code;
      }
      return undefined;
    };
    expect(code("12")).toBe(HlsErrorCode.aacConfig); // truncated
    expect(code("12 00")).toBe(HlsErrorCode.aacConfig); // channel configuration 0 (PCE)
    expect(code("17 80 00 00 10")).toBe(HlsErrorCode.aacConfig); // explicit frequency
    expect(code("f8 e2 00")).toBe(HlsErrorCode.aacConfig); // object type 39 (ER AAC ELD)
    const config = parseAudioSpecificConfig(ASC_LC_44100_STEREO);
    expect(() => encodeAdtsFrame(config, Buffer.alloc(8185))).toThrow(
      expect.objectContaining({ code: HlsErrorCode.frameTooLarge }),
    );
  });
});

/** What mux.js's TS probe reads from a whole stream: PMT and the PES times of each PID. */
function probeWithMuxJs(ts: Buffer): {
  pmt: Record<number, number>;
  times: { type: string | null; pts: number; dts: number }[];
} {
  let pmtPid: number | undefined;
  let pmt: Record<number, number> = {};
  const times: { type: string | null; pts: number; dts: number }[] = [];
  for (let p = 0; p < ts.length; p += 188) {
    const packet = ts.subarray(p, p + 188);
    const type = probe.parseType(packet, pmtPid);
    if (type === "pat") pmtPid = probe.parsePat(packet);
    else if (type === "pmt") pmt = probe.parsePmt(packet) ?? pmt;
    else if (type === "pes") {
      const time = probe.parsePesTime(packet);
      if (time !== null) times.push({ type: probe.parsePesType(packet, pmt), ...time });
    }
  }
  return { pmt, times };
}

describe("TsMuxer", () => {
  it("muxes H.264 and AAC: PSI first, PES per frame, PCR on video, RAI on IDR; mux.js's probe reads it", () => {
    const muxer = new TsMuxer();
    expect(muxer.push(avcHeader())).toHaveLength(0);
    expect(muxer.push(aacHeader)).toHaveLength(0);
    expect(muxer.push(createMediaPacket("script", 0, Buffer.from("onMetaData")))).toHaveLength(0);
    expect(muxer.tracks).toEqual({ video: TsStreamType.h264, audio: TsStreamType.aacAdts });
    const parts = [
      muxer.startSegment(),
      muxer.push(idr(0, 80)),
      muxer.push(aacFrame(0)),
      muxer.push(inter(40, 120)),
      muxer.push(aacFrame(23)),
      muxer.push(inter(80, 40)),
    ];
    const ts = Buffer.concat(parts);
    const packets = splitPackets(ts);
    expect(packets[0].pid).toBe(0);
    expect(packets[1].pid).toBe(TS_PID.pmt);
    expectContinuity(packets);

    const videoPes = readPes(packets, TS_PID.video);
    expect(videoPes.map((p) => [p.dts, p.pts])).toEqual([
      [0, 7200],
      [3600, 3600 + 10800],
      [7200, 7200 + 3600],
    ]);
    expect(videoPes.every((p) => p.streamId === 0xe0 && p.packetLength === 0)).toBe(true);
    // IDR: RAI + PCR; others: PCR only. PCR = max(0, DTS - 100 ms).
    expect(videoPes[0].adaptation?.[0]).toBe(0x50);
    expect(videoPes[1].adaptation?.[0]).toBe(0x10);
    expect(readPcrBase(videoPes[0].adaptation as Buffer, 1)).toBe(0);
    expect(annexBUnits(videoPes[0].data).map((u) => u[0] & 0x1f)).toEqual([9, 7, 8, 5]);
    expect(annexBUnits(videoPes[1].data).map((u) => u[0] & 0x1f)).toEqual([9, 1]);

    const audioPes = readPes(packets, TS_PID.audio);
    expect(audioPes.map((p) => p.pts)).toEqual([0, 23 * 90]);
    expect(audioPes[0].streamId).toBe(0xc0);
    expect(audioPes[0].packetLength).toBe(3 + 5 + 7 + 200);
    expect(audioPes[0].data.subarray(0, 7)).toEqual(hex("ff f1 50 80 19 ff fc"));
    expect(audioPes[0].adaptation?.[0] ?? 0x40).toBe(0x40); // RAI, no PCR

    const seen = probeWithMuxJs(ts);
    expect(seen.pmt).toEqual({ [TS_PID.video]: 0x1b, [TS_PID.audio]: 0x0f });
    expect(seen.times).toEqual([
      { type: "video", pts: 7200, dts: 0 },
      { type: "audio", pts: 0, dts: 0 },
      { type: "video", pts: 14400, dts: 3600 },
      { type: "audio", pts: 2070, dts: 2070 },
      { type: "video", pts: 10800, dts: 7200 },
    ]);
  });

  it("reads NAL length size 2 from the avcC in a whole stream", () => {
    const muxer = new TsMuxer();
    muxer.push(avcHeader(2));
    const packets = splitPackets(Buffer.concat([muxer.startSegment(), muxer.push(idr(1000, 0, 2, 200))]));
    const [pes] = readPes(packets, TS_PID.video);
    expect(pes.pts).toBe(90_000);
    const units = annexBUnits(pes.data);
    expect(units.map((u) => u[0] & 0x1f)).toEqual([9, 7, 8, 5]);
    expect(units[3]).toHaveLength(202);
  });

  it("writes an audio-only stream with the PCR on the audio PID", () => {
    const muxer = new TsMuxer({ pcrDelayMs: 0 });
    muxer.push(aacHeader);
    const ts = Buffer.concat([muxer.startSegment(), muxer.push(aacFrame(500)), muxer.push(aacFrame(523))]);
    const seen = probeWithMuxJs(ts);
    expect(seen.pmt).toEqual({ [TS_PID.audio]: 0x0f });
    const packets = splitPackets(ts);
    expect(((packets[1].payload[9] & 0x1f) << 8) | packets[1].payload[10]).toBe(TS_PID.audio); // PCR_PID
    const audioPes = readPes(packets, TS_PID.audio);
    expect(readPcrBase(audioPes[1].adaptation as Buffer, 1)).toBe(523 * 90);
    expect(seen.times.map((t) => t.pts)).toEqual([45_000, 523 * 90]);
  });

  it("writes a video-only stream: the PMT lists one stream", () => {
    const muxer = new TsMuxer();
    muxer.push(avcHeader());
    const ts = Buffer.concat([muxer.startSegment(), muxer.push(idr(0)), muxer.push(inter(40))]);
    const seen = probeWithMuxJs(ts);
    expect(seen.pmt).toEqual({ [TS_PID.video]: 0x1b });
    expect(seen.times.map((t) => t.dts)).toEqual([0, 3600]);
  });

  it("passes MP3 through with stream type 0x03 (MPEG-1) or 0x04 (MPEG-2)", () => {
    const mpeg1 = Buffer.concat([hex("2f ff fb 90 64"), Buffer.alloc(413, 0x55)]);
    const muxer = new TsMuxer();
    const ts = Buffer.concat([
      muxer.push(audio(0, mpeg1)),
      muxer.startSegment(),
      muxer.push(audio(26, mpeg1)),
    ]);
    expect(muxer.tracks.audio).toBe(TsStreamType.mpeg1Audio);
    const packets = splitPackets(ts);
    const seen = probeWithMuxJs(ts.subarray(188 * (packets.findIndex((p) => p.pid === 0) ?? 0)));
    expect(seen.pmt).toEqual({ [TS_PID.audio]: 0x03 });
    const pes = readPes(packets, TS_PID.audio);
    expect(pes[1].data).toEqual(mpeg1.subarray(1));
    const mpeg2 = new TsMuxer();
    mpeg2.push(audio(0, Buffer.concat([hex("2a ff f3 90 64"), Buffer.alloc(100)])));
    expect(mpeg2.tracks.audio).toBe(TsStreamType.mpeg2Audio);
  });

  it("writes a new PAT/PMT version when a track appears after the segment started", () => {
    const muxer = new TsMuxer();
    muxer.push(avcHeader());
    const first = muxer.startSegment();
    muxer.push(idr(0));
    muxer.push(aacHeader);
    const ts = Buffer.concat([first, muxer.push(aacFrame(10))]);
    const packets = splitPackets(ts);
    const pmts = packets.filter((p) => p.pid === TS_PID.pmt);
    expect(pmts.map((p) => (p.payload[6] >> 1) & 0x1f)).toEqual([0, 1]);
    expect(probeWithMuxJs(ts).pmt).toEqual({ [TS_PID.video]: 0x1b, [TS_PID.audio]: 0x0f });
    expectContinuity(packets);
  });

  it("refuses unsupported codecs and frames before their configuration with typed errors", () => {
    const muxer = new TsMuxer();
    const codeOf = (packet: MediaPacket): string | undefined => {
      try {
        muxer.push(packet);
      } catch (error) {
        expect(error).toBeInstanceOf(HlsError);
        return (error as HlsError).code;
      }
      return undefined;
    };
    expect(codeOf(video(0, hex("12 00 00")))).toBe(HlsErrorCode.unsupportedCodec); // Sorenson H.263
    expect(codeOf(video(0, hex("1d 01 00 00 00 00")))).toBe(HlsErrorCode.unsupportedCodec); // legacy codec 13
    expect(codeOf(video(0, hex("90 61 76 30 31 00")))).toBe(HlsErrorCode.unsupportedCodec); // Enhanced av01
    expect(codeOf(audio(0, hex("b2 00 00")))).toBe(HlsErrorCode.unsupportedCodec); // Speex
    expect(codeOf(idr(0))).toBe(HlsErrorCode.missingConfig);
    expect(codeOf(aacFrame(0))).toBe(HlsErrorCode.missingConfig);
    expect(codeOf(video(0, hex("17 01")))).toBe(HlsErrorCode.truncated);
    expect(codeOf(audio(0, Buffer.alloc(0)))).toBe(HlsErrorCode.truncated);
    // Still usable afterwards.
    muxer.push(avcHeader());
    expect(muxer.push(idr(0)).length % 188).toBe(0);
  });
});

describe("HEVC", () => {
  const VPS = hex("40 01 0c 01 ff ff 01 60 00 00 03 00 00 03 00 00 03 00 00 03 00 5d ac 09");
  const HSPS = hex("42 01 01 01 60 00 00 03 00 00 03 00 00 03 00 00 03 00 5d a0 02 80 80 2d 16");
  const HPPS = hex("44 01 c1 72 b4 62 40");
  const sets = { vps: VPS, sps: HSPS, pps: HPPS };
  const type = (nal: Buffer): number => (nal[0] >> 1) & 0x3f;

  it("reads VPS, SPS, PPS and the NAL length size from the hvcC", () => {
    for (const size of [2, 4] as const) {
      const params = parseHevcParameterSets(hvcC(sets, size));
      expect(params).toEqual({ codec: "hevc", nalUnitLengthSize: size, sets: [VPS, HSPS, HPPS] });
    }
    expect(() => parseHevcParameterSets(hvcC(sets).subarray(0, 30))).toThrow(
      expect.objectContaining({ code: HlsErrorCode.hevcConfig }),
    );
  });

  it("writes an HEVC AUD, and VPS/SPS/PPS before every IRAP, dropping in-band copies and AUDs", () => {
    const params = parseHevcParameterSets(hvcC(sets, 2));
    const cra = hex("2a 01 af 00 11"); // CRA_NUT (21)
    const trail = hex("02 01 d0 11"); // TRAIL_R (1)
    const aud = hex("46 01 50");
    const irap = toAnnexB(lengthPrefixed(2, [aud, VPS, HSPS, HPPS, cra]), params, false);
    expect(irap.idr).toBe(true);
    expect(annexBUnits(irap.bytes)).toEqual([hex("46 01 50"), VPS, HSPS, HPPS, cra]);
    const p = toAnnexB(lengthPrefixed(2, [trail]), params, false);
    expect(p.idr).toBe(false);
    expect(annexBUnits(p.bytes).map(type)).toEqual([35, 1]);
  });

  it("muxes Enhanced RTMP hvc1 as stream type 0x24 with RAI on IRAP frames", () => {
    const muxer = new TsMuxer();
    muxer.push(video(0, hvc1Tag(1, 0, hvcC(sets)), { sequenceHeader: true }));
    expect(muxer.tracks.video).toBe(TsStreamType.hevc);
    const idrNal = Buffer.concat([hex("26 01 af"), Buffer.alloc(600, 5)]); // IDR_W_RADL (19)
    const ts = Buffer.concat([
      muxer.startSegment(),
      muxer.push(video(0, hvc1Tag(1, 1, lengthPrefixed(4, [idrNal]), 40), { keyframe: true })),
      muxer.push(video(40, hvc1Tag(2, 3, lengthPrefixed(4, [hex("02 01 d0 11")])))),
    ]);
    const packets = splitPackets(ts);
    expectContinuity(packets);
    expect(probeWithMuxJs(ts).pmt).toEqual({ [TS_PID.video]: 0x24 });
    const pes = readPes(packets, TS_PID.video);
    expect(pes.map((p) => [p.dts, p.pts])).toEqual([
      [0, 3600],
      [3600, 3600],
    ]);
    expect(pes[0].adaptation?.[0]).toBe(0x50);
    expect(annexBUnits(pes[0].data).map(type)).toEqual([35, 32, 33, 34, 19]);
    expect(annexBUnits(pes[1].data).map(type)).toEqual([35, 1]);
  });
});
