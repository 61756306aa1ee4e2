/**
 * H.264 whose sequence header carries no parameter sets (ffmpeg's FLV muxer without a global header,
 * as with `-f tee`: an empty avcC, then SPS and PPS in every IDR access unit, the frames in Annex B):
 * byte vectors for the TS muxer (SPS/PPS written where they come, once, after the AUD), the fMP4
 * muxer (an avcC built from the in-band SPS/PPS, the init segment once they arrive, a new one when
 * they change) and the segmenter (video in every variant; mux.js reads it).
 */
import { createMediaPacket, type MediaPacket } from "@onair/core";
import { Fmp4Muxer, HlsErrorCode, HlsSegmenter, type HlsVariant, TS_PID, TsMuxer } from "@onair/hls";
import muxjs from "mux.js";
import { describe, expect, it } from "vitest";
import {
  findNalUnits,
  isAnnexBFrame,
  parseAvcParameterSets,
  parseHevcParameterSets,
  toAnnexB,
} from "../src/codec/annex-b.js";
import {
  buildAvcConfigRecord,
  buildHevcConfigRecord,
  readAvcConfig,
  readHevcConfig,
} from "../src/codec/fmp4/video-config.js";
import { hvc1Tag } from "./hevc-tags.js";
import { fmp4Frames, tsFrames } from "./hls-peers.js";
import { aacFrame, aacHeader, fileOf, info, segmentUris, tagValues } from "./segment-packets.js";
import { annexBUnits, readPes, splitPackets } from "./ts-reader.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

// What ffmpeg 5.1 + libx264 (320x240, baseline, -f tee) sent: an empty avcC, and these in each IDR AU.
const SPS = hex("67 42 c0 0d da 05 07 ec 04 40 00 00 03 00 40 00 00 0c a3 c5 0a a8");
const PPS = hex("68 ce 0f c8");
/** Another PPS: a changed configuration. */
const PPS_2 = hex("68 ce 3c 80");
const SEI = hex("06 05 01 aa 80");
const IDR = hex("65 88 84 00 33 ff");
const SLICE = hex("41 9a 02 04");

const lengthPrefixed = (size: 2 | 4, units: Buffer[]): Buffer =>
  Buffer.concat(
    units.flatMap((u) => {
      const length = Buffer.alloc(size);
      length.writeUIntBE(u.length, 0, size);
      return [length, u];
    }),
  );
/** Annex B as ffmpeg writes it: a 4-byte start code first, 3-byte ones after. */
const annexB = (units: Buffer[]): Buffer =>
  Buffer.concat(units.flatMap((u, i) => [i === 0 ? hex("00 00 00 01") : hex("00 00 01"), u]));

function avcTag(keyframe: boolean, packetType: 0 | 1, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([keyframe ? 0x17 : 0x27, packetType, 0, 0, 0]), data]);
}
const header = (record: Buffer, ts = 0): MediaPacket =>
  createMediaPacket("video", ts, avcTag(true, 0, record), { sequenceHeader: true });
const frame = (ts: number, keyframe: boolean, data: Buffer): MediaPacket =>
  createMediaPacket("video", ts, avcTag(keyframe, 1, data), { keyframe });

describe("avcC with no parameter sets", () => {
  it("gives no sets and the NAL length size, 4 when the record is too short to say", () => {
    expect(parseAvcParameterSets(Buffer.alloc(0))).toEqual({ codec: "avc", nalUnitLengthSize: 4, sets: [] });
    expect(parseAvcParameterSets(hex("01 42"))).toEqual({ codec: "avc", nalUnitLengthSize: 4, sets: [] });
    // numOfSequenceParameterSets 0, numOfPictureParameterSets 0; lengthSizeMinusOne 1 and 3.
    expect(parseAvcParameterSets(hex("01 42 c0 0d fd e0 00")).nalUnitLengthSize).toBe(2);
    expect(parseAvcParameterSets(hex("01 42 c0 0d ff e0 00"))).toEqual({
      codec: "avc",
      nalUnitLengthSize: 4,
      sets: [],
    });
    expect(parseAvcParameterSets(hex("01 42 c0 0d ff")).sets).toEqual([]);
    // Still refused: a length size of 3, an SPS count with no SPS, SPS without PPS.
    expect(() => parseAvcParameterSets(hex("01 42 c0 0d fe e0 00"))).toThrow(
      expect.objectContaining({ code: HlsErrorCode.avcConfig }),
    );
    expect(() => parseAvcParameterSets(hex("01 42 c0 0d ff e1 00"))).toThrow(
      expect.objectContaining({ code: HlsErrorCode.avcConfig }),
    );
    expect(() =>
      parseAvcParameterSets(Buffer.concat([hex("01 42 c0 0d ff e1 00 04"), PPS, hex("00")])),
    ).toThrow(expect.objectContaining({ code: HlsErrorCode.avcConfig }));
  });

  it("tells Annex B frames from length-prefixed ones and splits both", () => {
    const units = [SPS, PPS, SEI, IDR];
    expect(isAnnexBFrame(annexB(units), 4)).toBe(true);
    expect(isAnnexBFrame(lengthPrefixed(4, units), 4)).toBe(false);
    expect(isAnnexBFrame(lengthPrefixed(2, units), 2)).toBe(false);
    // A 4-byte length of 1 (00 00 00 01) followed by a well-formed chain reads as lengths.
    expect(isAnnexBFrame(lengthPrefixed(4, [hex("0b"), IDR]), 4)).toBe(false);
    for (const [bytes, b] of [
      [annexB(units), true],
      [Buffer.concat([annexB(units), hex("00 00")]), true], // trailing_zero_8bits
      [lengthPrefixed(4, units), false],
    ] as const) {
      const starts: number[] = [];
      const ends: number[] = [];
      findNalUnits(bytes, 4, b, starts, ends);
      expect(starts.map((s, i) => bytes.subarray(s, ends[i]))).toEqual(units);
    }
  });

  it("builds an avcC from SPS/PPS: profile, compatibility, level from the SPS; High-profile fields", () => {
    const record = buildAvcConfigRecord([SPS], [PPS], 4);
    expect(record).toEqual(Buffer.concat([hex("01 42 c0 0d ff e1 00 16"), SPS, hex("01 00 04"), PPS]));
    expect(readAvcConfig(record)).toMatchObject({ width: 320, height: 240, codecString: "avc1.42c00d" });
    expect(buildAvcConfigRecord([SPS], [PPS], 2)[4]).toBe(0xfd);
    // High profile (profile_idc 100): chroma_format 1, 8-bit, as x264 writes its own avcC.
    const highSps = hex("67 64 00 1f ac d9 40 50 05 bb");
    const highPps = hex("68 eb e3 cb");
    expect(buildAvcConfigRecord([highSps], [highPps], 4)).toEqual(
      Buffer.concat([hex("01 64 00 1f ff e1 00 0a"), highSps, hex("01 00 04"), highPps, hex("fd f8 f8 00")]),
    );
    expect(() => buildAvcConfigRecord([SPS], [], 4)).toThrow(
      expect.objectContaining({ code: HlsErrorCode.avcConfig }),
    );
  });
});

describe("TsMuxer with in-band SPS/PPS", () => {
  for (const [name, pack] of [
    ["length-prefixed", (units: Buffer[]) => lengthPrefixed(4, units)],
    ["Annex B", annexB],
  ] as const) {
    it(`${name} frames: AUD, then the in-band SPS and PPS once, before the IDR`, () => {
      const muxer = new TsMuxer();
      expect(muxer.push(header(Buffer.alloc(0)))).toHaveLength(0);
      expect(muxer.tracks.video).toBe(0x1b);
      const ts = Buffer.concat([
        muxer.startSegment(),
        muxer.push(frame(0, true, pack([hex("09 f0"), SPS, PPS, SEI, IDR]))),
        muxer.push(frame(40, false, pack([SLICE]))),
        muxer.push(frame(80, true, pack([SPS, PPS_2, IDR]))),
      ]);
      const pes = readPes(splitPackets(ts), TS_PID.video);
      expect(pes.map((p) => annexBUnits(p.data))).toEqual([
        [hex("09 f0"), SPS, PPS, SEI, IDR],
        [hex("09 f0"), SLICE],
        [hex("09 f0"), SPS, PPS_2, IDR],
      ]);
      expect(pes[0].adaptation?.[0]).toBe(0x50); // random access + PCR
    });
  }

  it("a 2-byte NAL length from the record is kept", () => {
    const params = parseAvcParameterSets(hex("01 42 c0 0d fd e0 00"));
    const unit = toAnnexB(lengthPrefixed(2, [SPS, PPS, IDR]), params, true);
    expect(unit.idr).toBe(true);
    expect(annexBUnits(unit.bytes)).toEqual([hex("09 f0"), SPS, PPS, IDR]);
  });
});

function avcCOf(init: Buffer, entry = "avc1", config = "avcC"): Buffer {
  const { findBox } = muxjs.mp4.probe;
  const stsd = findBox(init, ["moov", "trak", "mdia", "minf", "stbl", "stsd"])[0] as Uint8Array;
  // stsd: version/flags 4, entry count 4, then avc1/hvc1 (8 + 78 bytes) whose first child is avcC/hvcC.
  const sampleEntry = Buffer.from(stsd.subarray(8));
  expect(sampleEntry.subarray(4, 8).toString()).toBe(entry);
  const box = sampleEntry.subarray(8 + 78);
  expect(box.subarray(4, 8).toString()).toBe(config);
  return box.subarray(8, box.readUInt32BE(0));
}

describe("Fmp4Muxer with in-band SPS/PPS", () => {
  it("waits for a keyframe with SPS/PPS, builds the avcC from them, and re-inits when they change", () => {
    const muxer = new Fmp4Muxer();
    muxer.push(header(hex("01 42 c0 0d ff e0 00")));
    expect(muxer.tracks.video).toBeUndefined();
    expect(muxer.initSegment()).toBeUndefined();
    expect(muxer.initVersion).toBe(0);
    // Frames before the parameter sets: refused; a keyframe without them does not configure.
    const inter = frame(0, false, lengthPrefixed(4, [SLICE]));
    expect(muxer.configuresVideo(inter)).toBe(false);
    expect(() => muxer.push(inter)).toThrow(expect.objectContaining({ code: HlsErrorCode.missingConfig }));
    const bare = frame(0, true, lengthPrefixed(4, [IDR]));
    expect(muxer.configuresVideo(bare)).toBe(false);
    expect(() => muxer.push(bare)).toThrow(expect.objectContaining({ code: HlsErrorCode.missingConfig }));

    const key = frame(40, true, annexB([SPS, PPS, SEI, IDR]));
    expect(muxer.configuresVideo(key)).toBe(true);
    muxer.push(key);
    expect(muxer.initVersion).toBe(1);
    expect(muxer.codecs).toBe("avc1.42c00d");
    const avcC = avcCOf(muxer.initSegment() as Buffer);
    expect(avcC).toEqual(buildAvcConfigRecord([SPS], [PPS], 4));
    expect(parseAvcParameterSets(avcC).sets).toEqual([SPS, PPS]);
    expect(muxer.initSegment()?.includes(Buffer.from("avc1"))).toBe(true);

    // The same parameter sets again: no change. Samples are length-prefixed, without the SPS/PPS
    // (the sample entry has them).
    const again = frame(80, true, annexB([SPS, PPS, IDR]));
    expect(muxer.configuresVideo(again)).toBe(false);
    muxer.push(again);
    muxer.push(frame(120, false, annexB([SLICE])));
    expect(muxer.initVersion).toBe(1);
    const fragment = muxer.flush(160);
    expect(fragment.includes(lengthPrefixed(4, [SEI, IDR]))).toBe(true);
    expect(fragment.includes(SPS)).toBe(false);
    expect(fragment.includes(PPS)).toBe(false);
    expect(fragment.includes(lengthPrefixed(4, [SLICE]))).toBe(true);
    expect(fmp4Frames(fragment)).toEqual({ video: 3, audio: 0 });

    // A new PPS: a new init segment with it.
    const changed = frame(160, true, annexB([SPS, PPS_2, IDR]));
    expect(muxer.configuresVideo(changed)).toBe(true);
    muxer.push(changed);
    expect(muxer.initVersion).toBe(2);
    expect(parseAvcParameterSets(avcCOf(muxer.initSegment() as Buffer)).sets).toEqual([SPS, PPS_2]);

    // A sequence header with parameter sets ends the in-band mode; an empty one starts it again.
    muxer.push(header(buildAvcConfigRecord([SPS], [PPS], 4)));
    expect(muxer.initVersion).toBe(3);
    expect(muxer.configuresVideo(changed)).toBe(false);
    muxer.push(header(Buffer.alloc(0)));
    expect(muxer.tracks.video).toBeUndefined();
    expect(muxer.initVersion).toBe(4);
  });

  it("keeps a 2-byte NAL length from the record for length-prefixed frames", () => {
    const muxer = new Fmp4Muxer();
    muxer.push(header(hex("01 42 c0 0d fd e0 00")));
    muxer.push(frame(0, true, lengthPrefixed(2, [SPS, PPS, IDR])));
    expect(avcCOf(muxer.initSegment() as Buffer)).toEqual(buildAvcConfigRecord([SPS], [PPS], 2));
  });
});

describe("HlsSegmenter with in-band SPS/PPS", () => {
  /**
   * 4 s at 25 fps, an IDR (with SPS/PPS, Annex B as ffmpeg sends) every second, AAC alongside; two
   * inter frames, and two AAC frames (ffmpeg sends audio first), before the first IDR.
   */
  function packets(): MediaPacket[] {
    const out: MediaPacket[] = [header(Buffer.alloc(0)), aacHeader()];
    out.push(frame(0, false, annexB([SLICE])), aacFrame(0), aacFrame(40), frame(40, false, annexB([SLICE])));
    for (let i = 0; i < 100; i++) {
      const t = 80 + i * 40;
      const key = i % 25 === 0;
      out.push(frame(t, key, annexB(key ? [SPS, PPS, SEI, IDR] : [SLICE])));
      if (i % 2 === 0) out.push(aacFrame(t));
    }
    return out;
  }

  for (const variant of ["ts", "fmp4", "low-latency"] as HlsVariant[]) {
    it(`${variant}: every video frame from the first keyframe on is in the segments`, () => {
      const segmenter = new HlsSegmenter(info(), { variant, windowSegments: 10 });
      for (const packet of packets()) segmenter.write(packet);
      segmenter.close();
      const playlist = segmenter.playlist();
      const uris = segmentUris(playlist);
      expect(uris).toHaveLength(4);
      expect(playlist).not.toContain("#EXT-X-DISCONTINUITY\n");
      let video = 0;
      let audio = 0;
      for (const uri of uris) {
        const bytes = segmenter.resource(fileOf(uri))?.bytes as Buffer;
        const counted = variant === "ts" ? tsFrames(bytes) : fmp4Frames(bytes);
        video += counted.video;
        audio += counted.audio;
      }
      expect(video).toBe(100);
      expect(audio).toBe(52);
      if (variant === "ts") {
        // Skipped: nothing (the two leading inter frames are muxed; no decoder needs them).
        expect(segmenter.stats().skippedPackets).toBe(0);
      } else {
        expect(segmenter.stats().skippedPackets).toBe(2);
        // One init section, with video: the audio before the first IDR waited for it in the first segment.
        const maps = tagValues(playlist, "#EXT-X-MAP:");
        expect(maps).toHaveLength(1);
        const init = segmenter.resource(fileOf(/URI="([^"]+)"/.exec(maps[0])?.[1] ?? ""))?.bytes as Buffer;
        expect(parseAvcParameterSets(avcCOf(init)).sets).toEqual([SPS, PPS]);
        expect(segmenter.stats().codecs).toBe("avc1.42c00d,mp4a.40.2");
      }
    });
  }
});

describe("HEVC with in-band VPS/SPS/PPS", () => {
  // libx265 (ffmpeg 5.1), 1280x720 Main: VPS, SPS, PPS.
  const VPS = hex("40010c01ffff01600000030090000003000003005d959809");
  const HSPS = hex("42010101600000030090000003000003005da00280802d165959a4932bc05a020000030002000003003210");
  const HPPS = hex("4401c172b46240");
  const IRAP = hex("26 01 af 09 40");
  const TRAIL = hex("02 01 d0 09");
  const hevcHeader = createMediaPacket("video", 0, hvc1Tag(1, 0, Buffer.alloc(0)), { sequenceHeader: true });
  const hevcFrame = (ts: number, key: boolean, units: Buffer[]): MediaPacket =>
    createMediaPacket("video", ts, hvc1Tag(key ? 1 : 2, 1, annexB(units)), { keyframe: key });

  it("builds an hvcC from them: profile, tier, level, chroma, bit depths, sub-layers from the SPS", () => {
    const record = buildHevcConfigRecord([VPS], [HSPS], [HPPS], 4);
    // general_profile_tier_level from the SPS's RBSP (its 00 00 03 emulation bytes taken out).
    expect(record.subarray(0, 23)).toEqual(hex("01 01 60000000 900000000000 5d f000 fc fd f8 f8 0000 0f 03"));
    expect(readHevcConfig(record)).toMatchObject({
      width: 1280,
      height: 720,
      codecString: "hvc1.1.6.L93.90",
    });
    expect(parseHevcParameterSets(record).sets).toEqual([VPS, HSPS, HPPS]);
    expect(() => buildHevcConfigRecord([], [HSPS], [HPPS], 4)).toThrow(
      expect.objectContaining({ code: HlsErrorCode.hevcConfig }),
    );
  });

  it("TS: HEVC AUD, then the in-band VPS/SPS/PPS once, before the IRAP", () => {
    const muxer = new TsMuxer();
    muxer.push(hevcHeader);
    expect(muxer.tracks.video).toBe(0x24);
    const ts = Buffer.concat([
      muxer.startSegment(),
      muxer.push(hevcFrame(0, true, [hex("46 01 50"), VPS, HSPS, HPPS, IRAP])),
      muxer.push(hevcFrame(40, false, [TRAIL])),
    ]);
    const pes = readPes(splitPackets(ts), TS_PID.video);
    expect(pes.map((p) => annexBUnits(p.data))).toEqual([
      [hex("46 01 50"), VPS, HSPS, HPPS, IRAP],
      [hex("46 01 50"), TRAIL],
    ]);
  });

  it("fMP4: the hvc1 track and its hvcC come with the first IRAP that carries them", () => {
    const muxer = new Fmp4Muxer();
    muxer.push(hevcHeader);
    expect(muxer.tracks.video).toBeUndefined();
    expect(() => muxer.push(hevcFrame(0, false, [TRAIL]))).toThrow(
      expect.objectContaining({ code: HlsErrorCode.missingConfig }),
    );
    const key = hevcFrame(40, true, [VPS, HSPS, HPPS, IRAP]);
    expect(muxer.configuresVideo(key)).toBe(true);
    muxer.push(key);
    expect(muxer.tracks.video).toBe("hvc1");
    expect(muxer.codecs).toBe("hvc1.1.6.L93.90");
    expect(avcCOf(muxer.initSegment() as Buffer, "hvc1", "hvcC")).toEqual(
      buildHevcConfigRecord([VPS], [HSPS], [HPPS], 4),
    );
    muxer.push(hevcFrame(80, false, [TRAIL]));
    expect(fmp4Frames(muxer.flush(120))).toEqual({ video: 2, audio: 0 });
  });
});
