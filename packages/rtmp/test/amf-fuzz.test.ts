/**
 * Random, mutated and pathological bytes into both AMF decoders: each call returns values or
 * throws an RtmpProtocolError with an AMF code, nothing else. Seeded, so a failure replays.
 */
import { describe, expect, it } from "vitest";
import { seededRandom } from "../../../test-support/seeded-random.js";
import { AmfEcmaArray, type AmfLimits, type AmfObject, type AmfValue } from "../src/codec/amf.js";
import { decodeAmf0, encodeAmf0 } from "../src/codec/amf0.js";
import { decodeAmf3, encodeAmf3 } from "../src/codec/amf3.js";
import { RtmpErrorCode, RtmpProtocolError } from "../src/errors.js";
import { amf0Vectors, amf3Vectors, hex } from "./amf-vectors.js";

type Decode = (bytes: Buffer, limits?: AmfLimits) => AmfValue[];

const amfCodes = new Set<string>([
  RtmpErrorCode.amfTruncated,
  RtmpErrorCode.amfType,
  RtmpErrorCode.amfDepth,
  RtmpErrorCode.amfLength,
  RtmpErrorCode.amfReference,
]);

/** Decodes `input`; fails the test on any throw but an RtmpProtocolError with an AMF code. */
function survives(decode: Decode, input: Buffer, limits?: AmfLimits): void {
  try {
    decode(input, limits);
  } catch (error) {
    if (!(error instanceof RtmpProtocolError) || !amfCodes.has(error.code)) {
      throw new Error(
        `${(error as Error).name} (${(error as Error).message}) for ${input.toString("hex").slice(0, 400)}`,
      );
    }
  }
}

/** The code decoding `input` throws, or "no error". */
function errorCode(decode: Decode, input: Buffer, limits?: AmfLimits): string {
  try {
    decode(input, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(RtmpProtocolError);
    return (error as RtmpProtocolError).code;
  }
  return "no error";
}

/** One to four byte flips, insertions, deletions or truncations. */
function mutate(input: Buffer, random: () => number): Buffer {
  let bytes = input;
  const edits = 1 + Math.floor(random() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(random() * (bytes.length + 1));
    const choice = random();
    if (choice < 0.4 && bytes.length > 0) {
      bytes = Buffer.from(bytes);
      bytes[at % bytes.length] = Math.floor(random() * 256);
    } else if (choice < 0.6) {
      bytes = Buffer.concat([
        bytes.subarray(0, at),
        Buffer.from([Math.floor(random() * 256)]),
        bytes.subarray(at),
      ]);
    } else if (choice < 0.8) {
      bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
    } else {
      bytes = bytes.subarray(0, at);
    }
  }
  return bytes;
}

function randomBytes(random: () => number, markerCount: number): Buffer {
  const input = Buffer.alloc(Math.floor(random() * 200));
  for (let i = 0; i < input.length; i++) input[i] = Math.floor(random() * 256);
  // Mostly start with a valid marker, so decoding gets past the first byte.
  if (input.length > 0 && random() < 0.7) input[0] = Math.floor(random() * markerCount);
  return input;
}

const formats = [
  { name: "AMF0", decode: decodeAmf0, vectors: amf0Vectors, markerCount: 0x12, seed: 1 },
  { name: "AMF3", decode: decodeAmf3, vectors: amf3Vectors, markerCount: 0x12, seed: 2 },
] as const;

describe("AMF decoders under fuzzing", () => {
  for (const format of formats) {
    it(`${format.name}: 4000 random buffers`, () => {
      const random = seededRandom(format.seed);
      for (let i = 0; i < 4000; i++) survives(format.decode, randomBytes(random, format.markerCount));
    });

    it(`${format.name}: 4000 mutations of the golden vectors`, () => {
      const random = seededRandom(format.seed + 10);
      for (let i = 0; i < 4000; i++) {
        const source = format.vectors[i % format.vectors.length].bytes;
        survives(format.decode, mutate(source, random));
        // Tight limits reach the limit checks from odd places too.
        if (i % 4 === 0) survives(format.decode, mutate(source, random), { maxDepth: 2, maxItems: 2 });
      }
    });
  }

  it("AMF0: 2000 mutated AMF3 vectors behind the avmplus switch", () => {
    const random = seededRandom(21);
    for (let i = 0; i < 2000; i++) {
      const source = amf3Vectors[i % amf3Vectors.length].bytes;
      survives(decodeAmf0, Buffer.concat([hex("11"), mutate(source, random)]));
    }
  });
});

describe("100 000-deep nesting stops at the depth limit", () => {
  const depth = 100_000;
  const nested = (level: Buffer, end: string): Buffer =>
    Buffer.concat([Buffer.alloc(depth * level.length, level), hex(end)]);

  const cases: { name: string; decode: Decode; bytes: Buffer }[] = [
    { name: "AMF0 objects", decode: decodeAmf0, bytes: nested(hex("03 0001 61"), "05") },
    { name: "AMF0 typed objects", decode: decodeAmf0, bytes: nested(hex("10 0001 43 0001 61"), "05") },
    { name: "AMF0 strict arrays", decode: decodeAmf0, bytes: nested(hex("0a 00000001"), "05") },
    { name: "AMF0 ECMA arrays", decode: decodeAmf0, bytes: nested(hex("08 00000001 0001 61"), "05") },
    {
      name: "AMF3 arrays behind an AMF0 switch",
      decode: decodeAmf0,
      bytes: Buffer.concat([hex("11"), nested(hex("09 03 01"), "01")]),
    },
    { name: "AMF3 dense arrays", decode: decodeAmf3, bytes: nested(hex("09 03 01"), "01") },
    { name: "AMF3 associative arrays", decode: decodeAmf3, bytes: nested(hex("09 01 03 61"), "01") },
    { name: "AMF3 dynamic objects", decode: decodeAmf3, bytes: nested(hex("0a 0b 01 03 61"), "01") },
    {
      name: "AMF3 objects through trait references",
      // The first object defines traits 0 (one sealed member); every other refers to them.
      decode: decodeAmf3,
      bytes: Buffer.concat([hex("0a 13 01 03 61"), nested(hex("0a 01"), "01")]),
    },
    { name: "AMF3 object vectors", decode: decodeAmf3, bytes: nested(hex("10 03 00 01"), "01") },
  ];

  for (const c of cases) {
    it(c.name, () => {
      expect(errorCode(c.decode, c.bytes)).toBe(RtmpErrorCode.amfDepth);
      // A configured limit far beyond the stack is capped, still a typed error.
      expect(errorCode(c.decode, c.bytes, { maxDepth: 1e9 })).toBe(RtmpErrorCode.amfDepth);
    });
  }
});

/** A random value tree both encoders take, and what each format's decoder gives back. */
function randomValue(random: () => number, depth: number, forAmf3: boolean): AmfValue {
  const pick = Math.floor(random() * (depth > 4 ? 7 : 11));
  const text = (): string =>
    ["", "a", "onStatus", "é€😀", "x".repeat(Math.floor(random() * 300))][Math.floor(random() * 5)];
  const key = (i: number): string => ["k", "ключ", "0", "_"][Math.floor(random() * 4)] + i;
  switch (pick) {
    case 0:
      return null;
    case 1:
      return undefined;
    case 2:
      return random() < 0.5;
    case 3:
      return [0, -1, 1.5, 2 ** 28, -(2 ** 28), 2 ** 53, -0, Number.NaN, Number.POSITIVE_INFINITY][
        Math.floor(random() * 9)
      ];
    case 4:
      return Math.floor((random() - 0.5) * 2 ** (1 + Math.floor(random() * 40)));
    case 5:
      return text();
    case 6:
      return random() < 0.5 ? new Date(Math.floor(random() * 2 ** 41)) : Buffer.from(text());
    case 7:
      return Array.from({ length: Math.floor(random() * 5) }, () => randomValue(random, depth + 1, forAmf3));
    case 8:
    case 9: {
      const object: AmfObject = {};
      const count = (pick === 9 && forAmf3 ? 1 : 0) + Math.floor(random() * 5);
      for (let i = 0; i < count; i++) object[key(i)] = randomValue(random, depth + 1, forAmf3);
      return pick === 9 ? new AmfEcmaArray(object) : object;
    }
    default:
      return {};
  }
}

/** What decoding gives for `value`: ECMA arrays come back as plain objects. */
function expectedAfterDecoding(value: AmfValue): AmfValue {
  if (value instanceof AmfEcmaArray) return expectedAfterDecoding(value.entries);
  if (Array.isArray(value)) return value.map(expectedAfterDecoding);
  if (value === null || typeof value !== "object" || value instanceof Date || Buffer.isBuffer(value)) {
    return value;
  }
  const object: AmfObject = {};
  for (const [key, member] of Object.entries(value)) object[key] = expectedAfterDecoding(member);
  return object;
}

describe("random values round-trip", () => {
  for (const [name, encode, decode, forAmf3] of [
    ["AMF0", encodeAmf0, decodeAmf0, false],
    ["AMF3", encodeAmf3, decodeAmf3, true],
  ] as const) {
    it(`${name}: 1000 random value trees`, () => {
      const random = seededRandom(forAmf3 ? 32 : 31);
      for (let i = 0; i < 1000; i++) {
        const values = Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
          randomValue(random, 0, forAmf3),
        );
        expect(decode(encode(values))).toEqual(values.map(expectedAfterDecoding));
      }
    });
  }
});
