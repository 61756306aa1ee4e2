/**
 * The scatter-gather TS writer (ts-pes-writer.ts) against the plain path it replaces in TsMuxer:
 * toAnnexB (one Annex B buffer) + writePesHeader + packetizePes. Same bytes, for frames of every
 * size around packet boundaries, NAL length sizes 1, 2 and 4, in-band AUD/SPS/PPS, HEVC, Annex B
 * input, with and without PCR and random access; and ByteOutput's growth.
 */
import { describe, expect, it } from "vitest";
import {
  type ParameterSets,
  parseAvcParameterSets,
  parseHevcParameterSets,
  toAnnexB,
} from "../src/codec/annex-b.js";
import { ByteOutput } from "../src/codec/byte-output.js";
import { type PesTimestamps, packetizePes, pesHeaderLength, writePesHeader } from "../src/codec/ts-packet.js";
import {
  addAnnexBAccessUnit,
  PesPieces,
  pesPacketsLength,
  writePesPackets,
} from "../src/codec/ts-pes-writer.js";
import { hvcC } from "./hevc-tags.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");
const SPS = hex("67 42 c0 1e d9 00 a0 47 fe c8");
const PPS = hex("68 ce 3c 80");

function avcC(lengthSize: 1 | 2 | 4): Buffer {
  return Buffer.concat([
    hex("01 42 c0 1e"),
    Buffer.from([0xfc | (lengthSize - 1), 0xe1, 0, SPS.length]),
    SPS,
    Buffer.from([1, 0, PPS.length]),
    PPS,
  ]);
}

function lengthPrefixed(size: number, units: Buffer[]): Buffer {
  return Buffer.concat(
    units.flatMap((u) => {
      const length = Buffer.alloc(size);
      length.writeUIntBE(u.length, 0, size);
      return [length, u];
    }),
  );
}

/** A deterministic pseudo-random source (the same frames on every run). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function nal(header: number[], length: number, next: () => number): Buffer {
  const unit = Buffer.alloc(Math.max(length, header.length));
  unit.set(header);
  for (let i = header.length; i < unit.length; i++) unit[i] = 1 + Math.floor(next() * 255);
  return unit;
}

const TIMESTAMPS: PesTimestamps[] = [
  { pts: 90_000, dts: 90_000 },
  { pts: 99_000, dts: 93_000 },
  { pts: 2 ** 33 + 5, dts: 2 ** 33 - 3000 },
];

/** The old path's TS packets for one video access unit. */
function expected(
  frame: Buffer,
  params: ParameterSets,
  keyframe: boolean,
  timestamps: PesTimestamps,
  cc: number,
  pcr: number | undefined,
): { bytes: Buffer; cc: number } {
  const unit = toAnnexB(frame, params, keyframe, pesHeaderLength(timestamps));
  writePesHeader(unit.bytes, 0xe0, timestamps, false);
  const out = packetizePes(unit.bytes, {
    pid: 0x100,
    continuityCounter: cc,
    pcr,
    randomAccess: unit.idr || keyframe,
  });
  return { bytes: out.bytes, cc: out.continuityCounter };
}

function actual(
  frame: Buffer,
  params: ParameterSets,
  keyframe: boolean,
  timestamps: PesTimestamps,
  cc: number,
  pcr: number | undefined,
  out: ByteOutput,
): { bytes: Buffer; cc: number } {
  const pieces = new PesPieces();
  const header = Buffer.alloc(19);
  pieces.add(header, 0, writePesHeader(header, 0xe0, timestamps, false));
  const idr = addAnnexBAccessUnit(pieces, frame, params, keyframe);
  const before = out.length;
  const next = writePesPackets(out, pieces, {
    pid: 0x100,
    continuityCounter: cc,
    pcr: pcr ?? -1,
    randomAccess: idr || keyframe,
  });
  expect(out.length - before).toBe(pesPacketsLength(pieces.total, pcr !== undefined, idr || keyframe));
  return { bytes: Buffer.from(out.buffer.subarray(before, out.length)), cc: next };
}

describe("scatter-gather TS writer", () => {
  it("writes the bytes of toAnnexB + packetizePes for H.264 frames of every size and framing", () => {
    const next = random(7);
    const out = new ByteOutput(100);
    let cases = 0;
    for (const size of [1, 2, 4] as const) {
      const params = parseAvcParameterSets(avcC(size));
      const maxLength = size === 1 ? 255 : 900;
      for (let length = 1; length <= maxLength; length += size === 1 ? 3 : 7) {
        const idr = length % 5 === 0;
        const units = [
          ...(length % 3 === 0 ? [hex("09 f0")] : []), // an in-band AUD (dropped)
          ...(idr && length % 2 === 0 ? [SPS, PPS] : []), // copies of the record's sets (dropped)
          ...(length % 7 === 0 ? [hex("67 64 00 1f ac")] : []), // a different SPS (kept)
          nal([idr ? 0x65 : 0x41], length, next),
          ...(length % 4 === 0 ? [nal([0x41], Math.floor(length / 2), next)] : []),
        ];
        const frame = lengthPrefixed(size, units);
        const timestamps = TIMESTAMPS[length % TIMESTAMPS.length];
        const keyframe = length % 11 === 0;
        const pcr = length % 2 === 0 ? 90_000 + length : undefined;
        const cc = length % 16;
        expect(actual(frame, params, keyframe, timestamps, cc, pcr, out)).toEqual(
          expected(frame, params, keyframe, timestamps, cc, pcr),
        );
        cases += 1;
      }
    }
    expect(cases).toBeGreaterThan(300);
  });

  it("writes the same bytes for HEVC and for Annex B frames of in-band streams", () => {
    const next = random(11);
    const hevc = parseHevcParameterSets(
      hvcC({ vps: hex("40 01 0c 01 ff ff"), sps: hex("42 01 01 01 60 00"), pps: hex("44 01 c1 72") }),
    );
    const inBand = parseAvcParameterSets(Buffer.alloc(0));
    expect(inBand.sets).toEqual([]);
    const out = new ByteOutput();
    for (let length = 2; length < 700; length += 13) {
      const irap = length % 3 === 0;
      const hevcFrame = lengthPrefixed(4, [
        hex("46 01 50"), // an in-band AUD (dropped)
        nal(irap ? [0x26, 0x01] : [0x02, 0x01], length, next),
      ]);
      expect(actual(hevcFrame, hevc, false, TIMESTAMPS[1], 3, 1234, out)).toEqual(
        expected(hevcFrame, hevc, false, TIMESTAMPS[1], 3, 1234),
      );
      const startCode = length % 2 === 0 ? hex("00 00 00 01") : hex("00 00 01");
      const annexB = Buffer.concat([
        startCode,
        SPS,
        startCode,
        PPS,
        startCode,
        nal([irap ? 0x65 : 0x41], length, next),
        hex("00 00"), // trailing zero bytes (left out)
      ]);
      expect(actual(annexB, inBand, irap, TIMESTAMPS[0], 15, undefined, out)).toEqual(
        expected(annexB, inBand, irap, TIMESTAMPS[0], 15, undefined),
      );
    }
  });

  it("ByteOutput grows by doubling and keeps what was written", () => {
    const out = new ByteOutput();
    expect(out.bytes().length).toBe(0);
    out.append(Buffer.from([1, 2, 3]));
    expect(out.buffer.length).toBe(3); // an empty output grows to exactly what is asked
    out.append(Buffer.from([4]));
    expect(out.buffer.length).toBe(6);
    out.append(Buffer.alloc(20, 9));
    expect(out.buffer.length).toBe(24);
    expect(out.bytes()).toEqual(Buffer.concat([Buffer.from([1, 2, 3, 4]), Buffer.alloc(20, 9)]));
    const at = out.reserve(2);
    expect(at).toBe(24);
    expect(out.length).toBe(26);
    expect(out.buffer.length).toBe(48);
  });
});
