/**
 * FlvDemuxer: random bytes (with and without a valid file header), files muxed from the golden
 * tag bodies (odd data offsets, sizes near maxTagSize) and their mutations; every input decoded
 * whole and in random pieces. Unmutated files must give back exactly the tags muxed into them.
 *
 * Oracle: only FlvError with an ERR_FLV_ code, and after one every later push throws the same
 * error; no tag body over maxTagSize; `bufferedBytes` (the memory held) never over maxTagSize + 11
 * nor over twice the bytes pushed (or 4 KiB); whole and split give the same tags and the same error; createPacketFromTagBody
 * takes every tag.
 */
import type { MediaKind } from "@onair/core";
import {
  createPacketFromTagBody,
  encodeFlvHeader,
  encodeFlvTag,
  FlvDemuxer,
  FlvError,
  type FlvTag,
} from "@onair/flv";
import type { FuzzRandom, RandomPool } from "../fuzz-random.js";
import { expectThat, type FuzzTarget, type FuzzTargetFactory, hexOf, typedErrorCode } from "../harness.js";
import { InputBuilder, OutcomeHash, Splitter } from "../input-builder.js";
import { seedBodies, seedBodiesOnly } from "./flv-seeds.js";

const TAG_HEADER_LENGTH = 11;
const MAX_TAG_SIZES = [0, 1, 16, 300, 4096, 70_000] as const;
const KIND_CODE: Record<MediaKind, number> = { audio: 8, video: 9, script: 18 };
const isFlvCode = (code: string): boolean => code.startsWith("ERR_FLV_");

class FlvDemuxerTarget implements FuzzTarget {
  readonly #pool: RandomPool;
  readonly #input = new InputBuilder(1 << 18);
  readonly #splitter = new Splitter();
  readonly #hash = new OutcomeHash();
  readonly #expected = new OutcomeHash();
  readonly #wholePrefixes: number[] = [];
  readonly #splitPrefixes: number[] = [];
  #prefixes: number[] = [];
  readonly #header = encodeFlvHeader({ audio: true, video: true });
  readonly #donors: Buffer[];
  #maxTagSize: number | undefined;
  #checkPreviousTagSize = false;
  #numbers: number[] = [];
  #roundTrip = false;
  /** Whether the demuxer held an unfinished field or tag when the input ended. */
  #pendingAtEnd = false;
  readonly #onTag = (tag: FlvTag): void => this.#check(tag);

  constructor(pool: RandomPool) {
    this.#pool = pool;
    this.#donors = [
      this.#header,
      ...seedBodies.map((seed) => encodeFlvTag(seed.kind, 40, seed.body)),
      ...seedBodiesOnly,
    ];
  }

  describeInput(): string {
    const options = `maxTagSize ${this.#maxTagSize ?? "default"}, checkPreviousTagSize ${this.#checkPreviousTagSize}`;
    return `${options}${this.#roundTrip ? ", round trip" : ""}: ${hexOf(this.#input.bytes)}`;
  }

  run(random: FuzzRandom): string | undefined {
    this.#roundTrip = false;
    this.#maxTagSize = random.chance(0.7) ? random.pick(MAX_TAG_SIZES) : undefined;
    this.#checkPreviousTagSize = random.chance(0.5);
    const limit = this.#maxTagSize ?? 0xffffff;
    this.#numbers = [limit - 1, limit, limit + 1, 9, 8, 0, 13, 0xffffff, 0xffffffff];
    const input = this.#input.clear();
    const roll = random.next();
    if (roll < 0.2) {
      if (random.chance(0.7)) input.append(this.#header);
      input.random(random, this.#pool, random.length(4000));
    } else {
      this.#validFile(random);
      if (roll < 0.45) this.#roundTrip = true;
      else input.mutate(random, this.#pool, this.#numbers, this.#donors);
    }

    const bytes = input.bytes;
    const whole = this.#decode(random, bytes, true, this.#wholePrefixes);
    const split = this.#decode(random, bytes, false, this.#splitPrefixes);
    const wholeCount = this.#wholePrefixes.length - 1;
    const splitCount = this.#splitPrefixes.length - 1;
    expectThat(
      whole === split &&
        wholeCount === splitCount &&
        this.#wholePrefixes[wholeCount] === this.#splitPrefixes[splitCount],
      () =>
        `whole: ${wholeCount} tags then ${whole ?? "no error"}; in pieces: ${splitCount} tags then ${split ?? "no error"}`,
    );
    if (this.#roundTrip) {
      expectThat(whole === undefined, `a muxed file failed with ${whole}`);
      expectThat(
        wholeCount === this.#expected.count && this.#wholePrefixes[wholeCount] === this.#expected.value,
        `a muxed file gave other tags (${wholeCount} read, ${this.#expected.count} muxed)`,
      );
      expectThat(!this.#pendingAtEnd, "a whole muxed file left the demuxer pending");
    }
    return whole;
  }

  #decode(random: FuzzRandom, bytes: Buffer, whole: boolean, prefixes: number[]): string | undefined {
    const demuxer = new FlvDemuxer({
      maxTagSize: this.#maxTagSize,
      checkPreviousTagSize: this.#checkPreviousTagSize,
    });
    const bound = (this.#maxTagSize ?? 16 * 1024 * 1024) + TAG_HEADER_LENGTH;
    this.#hash.reset();
    this.#prefixes = prefixes;
    prefixes.length = 0;
    prefixes.push(this.#hash.value);
    let pushed = 0;
    this.#splitter.start(random, bytes, whole);
    try {
      for (let piece = this.#splitter.next(); piece !== undefined; piece = this.#splitter.next()) {
        demuxer.push(piece, this.#onTag);
        pushed += piece.length;
        const buffered = demuxer.bufferedBytes;
        // Memory follows the bytes that came, never a size the input announced: the partial
        // body's Buffer is at most twice the bytes pushed (or its 4 KiB first step).
        expectThat(
          buffered <= bound && buffered <= Math.max(2 * pushed, 4096 + 11),
          () =>
            `bufferedBytes ${buffered} after ${pushed} bytes pushed, over twice them (or 4 KiB) or maxTagSize + 11`,
        );
      }
    } catch (error) {
      const code = typedErrorCode(error, FlvError, isFlvCode);
      // Documented: after an error every push throws it again.
      let again: unknown;
      try {
        demuxer.push(bytes.subarray(0, 1), this.#onTag);
      } catch (repeated) {
        again = repeated;
      }
      expectThat(again === error, "a push after an error did not throw the same error");
      return code;
    }
    this.#pendingAtEnd = demuxer.pending;
    return undefined;
  }

  #check(tag: FlvTag): void {
    const length = tag.body.length;
    expectThat(
      length <= (this.#maxTagSize ?? 0xffffff),
      () => `a tag body of ${length} bytes, limit ${this.#maxTagSize}`,
    );
    const packet = createPacketFromTagBody(tag.kind, tag.timestamp, tag.body);
    expectThat(packet.payload === tag.body, "createPacketFromTagBody changed the payload");
    this.#hashTag(this.#hash, KIND_CODE[tag.kind], tag.timestamp, tag.body);
    this.#prefixes.push(this.#hash.value);
  }

  #hashTag(hash: OutcomeHash, kind: number, timestamp: number, body: Buffer): void {
    hash.count += 1;
    hash.number(kind);
    hash.number(timestamp);
    hash.bytes(body);
  }

  /** A file muxed from golden and random bodies, sometimes with a data offset past 9; its tags into `#expected`. */
  #validFile(random: FuzzRandom): void {
    const input = this.#input;
    const expected = this.#expected;
    expected.reset();
    if (random.chance(0.1)) {
      // A header with a data offset past 9 and bytes to skip.
      const skip = random.below(40);
      input
        .append(this.#header, 0, 5)
        .uintBE(9 + skip, 4)
        .random(random, this.#pool, skip)
        .uintBE(0, 4);
    } else {
      input.append(this.#header);
    }
    const limit = this.#maxTagSize ?? 0xffffff;
    const count = random.below(random.chance(0.05) ? 100 : 12);
    let timestamp = random.chance(0.2) ? 0xffff00 + random.below(0x200) : 0;
    for (let i = 0; i < count; i++) {
      const seed = random.pick(seedBodies);
      let body = seed.body;
      if (random.chance(0.3)) {
        const from = random.below(this.#pool.bytes.length - 3000);
        body = this.#pool.bytes.subarray(from, from + random.length(3000));
      }
      if (body.length > limit) body = body.subarray(0, limit);
      timestamp += random.chance(0.05) ? 0x1000000 : random.below(50);
      const tag = encodeFlvTag(seed.kind, timestamp, body);
      if (input.room(tag.length) < tag.length) break;
      input.append(tag);
      this.#hashTag(expected, KIND_CODE[seed.kind], timestamp >>> 0, body);
    }
  }
}

export const flvDemuxerTarget: FuzzTargetFactory = {
  name: "flv",
  description: "FlvDemuxer (and FLV mux → demux round trips)",
  create: (pool) => new FlvDemuxerTarget(pool),
};
