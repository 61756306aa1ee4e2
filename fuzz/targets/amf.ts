/**
 * decodeAmf0 and decodeAmf3: random bytes (mostly behind a valid marker), mutated and spliced
 * golden vectors, deep nesting, tight and default limits; and random value trees that must come
 * back from encode → decode as they went in.
 *
 * Oracle: only RtmpProtocolError with an AMF code; what decodes respects the limits: no container
 * deeper than maxDepth (counted from the top, through references by the shortest path; AMF3
 * number vectors, and so empty arrays, do not nest and are not counted), no
 * string, key or ByteArray longer than maxStringLength (in UTF-16 units, each at most a byte),
 * no container with more than 2 × maxItems members (AMF3 arrays and objects have two parts,
 * each bounded by maxItems).
 */
import { isDeepStrictEqual } from "node:util";
import {
  AmfEcmaArray,
  type AmfLimits,
  type AmfObject,
  type AmfValue,
  decodeAmf0,
  decodeAmf3,
  encodeAmf0,
  encodeAmf3,
  RtmpErrorCode,
  RtmpProtocolError,
} from "@onair/rtmp";
import { type AmfVector, amf0Vectors, amf3Vectors } from "../../packages/rtmp/test/amf-vectors.js";
import type { FuzzRandom, RandomPool } from "../fuzz-random.js";
import { expectThat, type FuzzTarget, type FuzzTargetFactory, hexOf, typedErrorCode } from "../harness.js";
import { InputBuilder } from "../input-builder.js";

const AMF_CODES = new Set<string>([
  RtmpErrorCode.amfTruncated,
  RtmpErrorCode.amfType,
  RtmpErrorCode.amfDepth,
  RtmpErrorCode.amfLength,
  RtmpErrorCode.amfReference,
]);
export const isAmfCode = (code: string): boolean => AMF_CODES.has(code);

/** The decoders' defaults and ceiling (amf.ts). */
const DEFAULT_MAX_DEPTH = 64;
const MAX_DEPTH_CEILING = 1000;
const DEFAULT_MAX_STRING_LENGTH = 1024 * 1024;
const DEFAULT_MAX_ITEMS = 65_536;

interface ResolvedLimits {
  maxDepth: number;
  maxStringLength: number;
  maxItems: number;
}

/** Limits for one case: mostly the defaults, often tight ones that the mutated vectors run into. */
export function chooseLimits(random: FuzzRandom): AmfLimits | undefined {
  if (random.chance(0.5)) return undefined;
  const limits: AmfLimits = {};
  if (random.chance(0.6))
    limits.maxDepth = random.chance(0.9) ? random.below(6) : random.pick([1e9, 2000, 64]);
  if (random.chance(0.5)) limits.maxStringLength = random.below(40);
  if (random.chance(0.5)) limits.maxItems = random.below(6);
  return limits;
}

function resolve(limits: AmfLimits | undefined): ResolvedLimits {
  return {
    maxDepth: Math.min(limits?.maxDepth ?? DEFAULT_MAX_DEPTH, MAX_DEPTH_CEILING),
    maxStringLength: limits?.maxStringLength ?? DEFAULT_MAX_STRING_LENGTH,
    maxItems: limits?.maxItems ?? DEFAULT_MAX_ITEMS,
  };
}

/**
 * Walks decoded values breadth first (references may share or cycle, so each container once, at
 * its shortest distance from the top) and checks the limits. Buffers are reused between cases.
 */
export class LimitChecker {
  readonly #queue: AmfValue[] = [];
  readonly #depths: number[] = [];
  readonly #seen = new Set<object>();

  check(values: readonly AmfValue[], limits: AmfLimits | undefined): void {
    const resolved = resolve(limits);
    const queue = this.#queue;
    const depths = this.#depths;
    queue.length = 0;
    depths.length = 0;
    this.#seen.clear();
    for (const value of values) this.#visit(value, 0, resolved);
    for (let i = 0; i < queue.length; i++) {
      const container = queue[i];
      const depth = depths[i];
      if (Array.isArray(container)) {
        expectThat(container.length <= 2 * resolved.maxItems, () => `an array of ${container.length} items`);
        for (const item of container) this.#visit(item, depth, resolved);
      } else {
        const object = container as AmfObject;
        let members = 0;
        for (const key in object) {
          members += 1;
          expectThat(key.length <= resolved.maxStringLength, () => `a key of ${key.length} characters`);
          this.#visit(object[key], depth, resolved);
        }
        expectThat(members <= 2 * resolved.maxItems, () => `an object of ${members} members`);
      }
    }
    queue.length = 0;
    this.#seen.clear();
  }

  /** `value` found inside a container at `parentDepth` (0: at the top). */
  #visit(value: AmfValue, parentDepth: number, limits: ResolvedLimits): void {
    if (typeof value === "string") {
      expectThat(value.length <= limits.maxStringLength, () => `a string of ${value.length} characters`);
      return;
    }
    if (Buffer.isBuffer(value)) {
      expectThat(value.length <= limits.maxStringLength, () => `a ByteArray of ${value.length} bytes`);
      return;
    }
    if (value === null || typeof value !== "object" || value instanceof Date) return;
    if (this.#seen.has(value)) return;
    // AMF3 int/uint/double vectors hold numbers only and are not counted as nesting.
    // (An empty array cannot be told from an empty vector: it is not counted either.)
    if (Array.isArray(value) && value.every((item) => typeof item === "number")) {
      expectThat(value.length <= limits.maxItems, () => `a number vector of ${value.length} items`);
      return;
    }
    this.#seen.add(value);
    const depth = parentDepth + 1;
    expectThat(depth <= limits.maxDepth, () => `a container at depth ${depth}, limit ${limits.maxDepth}`);
    this.#queue.push(value);
    this.#depths.push(depth);
  }
}

/** A random value tree both encoders take. */
export function randomValue(random: FuzzRandom, depth: number, forAmf3: boolean): AmfValue {
  const pick = random.below(depth > 4 ? 7 : 11);
  switch (pick) {
    case 0:
      return null;
    case 1:
      return undefined;
    case 2:
      return random.chance(0.5);
    case 3:
      return random.pick([
        0,
        -1,
        1.5,
        2 ** 28,
        2 ** 28 - 1,
        -(2 ** 28),
        -(2 ** 28) - 1,
        2 ** 53,
        -0,
        Number.NaN,
        Number.POSITIVE_INFINITY,
      ]);
    case 4:
      return Math.floor((random.next() - 0.5) * 2 ** (1 + random.below(40)));
    case 5:
      return randomText(random);
    case 6:
      return random.chance(0.5) ? new Date(random.below(2 ** 41)) : Buffer.from(randomText(random));
    case 7:
      return Array.from({ length: random.below(5) }, () => randomValue(random, depth + 1, forAmf3));
    case 8:
    case 9: {
      const object: AmfObject = {};
      // An AMF3 array with an empty associative part is a dense array: give it a member.
      const count = (pick === 9 && forAmf3 ? 1 : 0) + random.below(5);
      for (let i = 0; i < count; i++) object[randomKey(random, i)] = randomValue(random, depth + 1, forAmf3);
      return pick === 9 ? new AmfEcmaArray(object) : object;
    }
    default:
      return {};
  }
}

function randomText(random: FuzzRandom): string {
  return random.pick([
    "",
    "a",
    "onStatus",
    "é€😀",
    "\u0000",
    "x".repeat(random.below(300)),
    "y".repeat(65_536),
  ]);
}

function randomKey(random: FuzzRandom, i: number): string {
  return random.pick(["k", "ключ", "0", "_", "1"]) + i;
}

/** What decoding gives for `value`: ECMA arrays come back as plain objects. */
export function expectedAfterDecoding(value: AmfValue): AmfValue {
  if (value instanceof AmfEcmaArray) return expectedAfterDecoding(value.entries);
  if (Array.isArray(value)) return value.map(expectedAfterDecoding);
  if (value === null || typeof value !== "object" || value instanceof Date || Buffer.isBuffer(value)) {
    return value;
  }
  const object: AmfObject = {};
  for (const [key, member] of Object.entries(value)) object[key] = expectedAfterDecoding(member);
  return object;
}

/** AMF0 and AMF3 markers worth starting random bytes with. */
const MARKER_COUNT = { amf0: 0x12, amf3: 0x12 } as const;

/** Nested containers, n levels: the shapes the depth limit must stop. */
const NESTING = {
  amf0: ["03 0001 61", "10 0001 43 0001 61", "0a 00000001", "08 00000001 0001 61"],
  amf3: ["09 03 01", "09 01 03 61", "0a 0b 01 03 61", "10 03 00 01"],
} as const;

class AmfTarget implements FuzzTarget {
  readonly #format: "amf0" | "amf3";
  readonly #decode: (bytes: Buffer, limits?: AmfLimits) => AmfValue[];
  readonly #encode: (values: readonly AmfValue[]) => Buffer;
  readonly #pool: RandomPool;
  readonly #input = new InputBuilder(1 << 17);
  readonly #vectors: Buffer[];
  readonly #nesting: Buffer[];
  readonly #checker = new LimitChecker();
  readonly #numbers: number[];
  #limits: AmfLimits | undefined;
  #roundTrip: AmfValue[] | undefined;
  /** A round trip's encoder output, decoded as it is (it may not fit the input buffer). */
  #encoded: Buffer = Buffer.alloc(0);

  constructor(format: "amf0" | "amf3", pool: RandomPool) {
    this.#format = format;
    this.#decode = format === "amf0" ? decodeAmf0 : decodeAmf3;
    this.#encode = format === "amf0" ? encodeAmf0 : encodeAmf3;
    this.#pool = pool;
    const vectors: AmfVector[] = format === "amf0" ? amf0Vectors : amf3Vectors;
    this.#vectors = vectors.map((vector) => vector.bytes);
    // AMF0 reaches the AMF3 decoder through the avmplus switch (0x11).
    if (format === "amf0")
      this.#vectors.push(...amf3Vectors.map((v) => Buffer.concat([Buffer.of(0x11), v.bytes])));
    this.#nesting = NESTING[format].map((hex) => Buffer.from(hex.replaceAll(" ", ""), "hex"));
    // U29 extremes for AMF3, 16- and 32-bit lengths for AMF0.
    this.#numbers =
      format === "amf0"
        ? [0xffff, 0xfffe, 0x10000, 0xffffffff, 0x7fffffff, 65_536, 65_537, 1024 * 1024 + 1]
        : [0x7f, 0xff, 0x3fff, 0xbfffffff, 0xffffffff, 0x80808080, 0x81ffffff, 0xc0808000];
  }

  describeInput(): string {
    const limits = this.#limits === undefined ? "default limits" : `limits ${JSON.stringify(this.#limits)}`;
    const bytes = this.#roundTrip === undefined ? this.#input.bytes : this.#encoded;
    return `${limits}${this.#roundTrip === undefined ? "" : ", round trip"}: ${hexOf(bytes)}`;
  }

  run(random: FuzzRandom): string | undefined {
    this.#roundTrip = undefined;
    this.#limits = chooseLimits(random);
    const input = this.#input.clear();
    const roll = random.next();
    if (roll < 0.25) {
      if (random.chance(0.7)) input.byte(random.below(MARKER_COUNT[this.#format]));
      input.random(random, this.#pool, random.length(400));
    } else if (roll < 0.75) {
      const parts = 1 + random.below(random.chance(0.8) ? 1 : 4);
      for (let i = 0; i < parts; i++) input.append(random.pick(this.#vectors));
      input.mutate(random, this.#pool, this.#numbers, this.#vectors);
    } else if (roll < 0.85) {
      // Deep nesting, maybe around the limit, maybe far past it, maybe cut short.
      const level = random.pick(this.#nesting);
      const depth = random.chance(0.5) ? random.below(8) : random.below(3000);
      for (let i = 0; i < depth && input.room(level.length) === level.length; i++) input.append(level);
      input.byte(this.#format === "amf0" ? 0x05 : 0x01);
      if (random.chance(0.3)) input.mutate(random, this.#pool, this.#numbers, this.#vectors);
    } else {
      this.#limits = undefined;
      const values = Array.from({ length: 1 + random.below(3) }, () =>
        randomValue(random, 0, this.#format === "amf3"),
      );
      const encoded = this.#encode(values);
      if (random.chance(0.3) && encoded.length <= input.capacity) {
        input.append(encoded).mutate(random, this.#pool, this.#numbers, this.#vectors);
      } else {
        this.#roundTrip = values.map(expectedAfterDecoding);
        this.#encoded = encoded;
      }
    }

    const bytes = this.#roundTrip === undefined ? input.bytes : this.#encoded;
    let decoded: AmfValue[];
    try {
      decoded = this.#decode(bytes, this.#limits);
    } catch (error) {
      return typedErrorCode(error, RtmpProtocolError, isAmfCode);
    }
    this.#checker.check(decoded, this.#limits);
    const expected = this.#roundTrip;
    if (expected !== undefined) {
      expectThat(isDeepStrictEqual(decoded, expected), () => "encode → decode did not give the values back");
    }
    return undefined;
  }
}

export const amf0Target: FuzzTargetFactory = {
  name: "amf0",
  description: "decodeAmf0 with limits (and encodeAmf0 round trips)",
  create: (pool) => new AmfTarget("amf0", pool),
};

export const amf3Target: FuzzTargetFactory = {
  name: "amf3",
  description: "decodeAmf3 with limits (and encodeAmf3 round trips)",
  create: (pool) => new AmfTarget("amf3", pool),
};
