/**
 * Building, mutating and splitting inputs in buffers allocated once per run: a case costs the
 * parser's own allocations, not the fuzzer's.
 */
import type { FuzzRandom, RandomPool } from "./fuzz-random.js";

/** Bytes that break parsers: zero, all ones, sign boundaries, ones. */
const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe, 0x81, 0x3f, 0x40, 0xc0] as const;

/** Integers near the limits of 8, 16, 24, 29 and 32 bits, for length and size fields. */
export const INTERESTING_NUMBERS: readonly number[] = [
  0, 1, 2, 3, 4, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffff, 0x800000, 0xffffff,
  0x1000000, 0x0fffffff, 0x10000000, 0x1fffffff, 0x7fffffff, 0x80000000, 0xffffffff,
];

/** A growable-up-to-capacity byte buffer, reused from case to case. */
export class InputBuilder {
  readonly buffer: Buffer;
  /** A second buffer for moves that would overlap themselves. */
  readonly #spare: Buffer;
  length = 0;

  constructor(readonly capacity: number) {
    this.buffer = Buffer.alloc(capacity);
    this.#spare = Buffer.alloc(capacity);
  }

  /** The bytes built so far (a view: valid until the builder is changed). */
  get bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  clear(): this {
    this.length = 0;
    return this;
  }

  /** How many of `count` more bytes fit. */
  room(count: number): number {
    return Math.max(0, Math.min(count, this.capacity - this.length));
  }

  byte(value: number): this {
    if (this.length < this.capacity) this.buffer[this.length++] = value & 0xff;
    return this;
  }

  /** An unsigned big-endian integer of `size` bytes (1..6). */
  uintBE(value: number, size: number): this {
    if (this.room(size) === size) {
      this.buffer.writeUIntBE(value % 2 ** (8 * size), this.length, size);
      this.length += size;
    }
    return this;
  }

  uint32LE(value: number): this {
    if (this.room(4) === 4) {
      this.buffer.writeUInt32LE(value >>> 0, this.length);
      this.length += 4;
    }
    return this;
  }

  append(source: Uint8Array, start = 0, end = source.length): this {
    const count = this.room(end - start);
    this.buffer.set(source.subarray(start, start + count), this.length);
    this.length += count;
    return this;
  }

  random(random: FuzzRandom, pool: RandomPool, count: number): this {
    const fitting = this.room(count);
    pool.fill(random, this.buffer, this.length, fitting);
    this.length += fitting;
    return this;
  }

  /** Open a gap of `count` bytes at `at` (contents undefined); returns how many were opened. */
  #openGap(at: number, count: number): number {
    const opened = this.room(count);
    this.buffer.copyWithin(at + opened, at, this.length);
    this.length += opened;
    return opened;
  }

  #remove(at: number, count: number): void {
    const removed = Math.min(count, this.length - at);
    this.buffer.copyWithin(at, at + removed, this.length);
    this.length -= removed;
  }

  /**
   * One to a few edits, the classic mutations: bit flips, interesting bytes and integers (the
   * caller's first: lengths near its limits), random insertions, deletions, truncation,
   * duplicated slices, and splices with `donors` (other golden vectors).
   */
  mutate(
    random: FuzzRandom,
    pool: RandomPool,
    numbers: readonly number[],
    donors: readonly Uint8Array[],
    edits = 1 + random.below(random.chance(0.2) ? 12 : 3),
  ): this {
    for (let e = 0; e < edits; e++) {
      const at = random.below(this.length + 1);
      const inside = at < this.length;
      switch (random.below(11)) {
        case 0:
          if (inside) this.buffer[at] ^= 1 << random.below(8);
          break;
        case 1:
          if (inside) this.buffer[at] = random.pick(INTERESTING_BYTES);
          break;
        case 2:
        case 3: {
          // A length-like field, big- or little-endian, 1 to 4 bytes.
          const size = 1 + random.below(4);
          if (at + size > this.length) break;
          let value = random.chance(0.6) ? random.pick(numbers) : random.pick(INTERESTING_NUMBERS);
          if (random.chance(0.2)) value += random.between(-2, 2);
          value = (value >>> 0) % 2 ** (8 * size);
          if (random.chance(0.8)) this.buffer.writeUIntBE(value, at, size);
          else this.buffer.writeUIntLE(value, at, size);
          break;
        }
        case 4: {
          const opened = this.#openGap(at, 1 + random.below(random.chance(0.9) ? 16 : 512));
          pool.fill(random, this.buffer, at, opened);
          break;
        }
        case 5:
          this.#remove(at, 1 + random.below(random.chance(0.9) ? 16 : 512));
          break;
        case 6:
          this.length = at;
          break;
        case 7: {
          // Duplicate a slice of itself at `at`.
          const from = random.below(this.length + 1);
          const count = Math.min(this.length - from, 1 + random.below(64));
          this.buffer.copy(this.#spare, 0, from, from + count);
          const opened = this.#openGap(at, count);
          this.#spare.copy(this.buffer, at, 0, opened);
          break;
        }
        case 8: {
          // Splice: keep [0, at), then a donor from a random offset.
          if (donors.length === 0) break;
          const donor = random.pick(donors);
          const from = random.below(donor.length + 1);
          this.length = at;
          this.append(donor, from);
          break;
        }
        case 9: {
          // Insert a slice of a donor.
          if (donors.length === 0) break;
          const donor = random.pick(donors);
          const from = random.below(donor.length + 1);
          const count = Math.min(donor.length - from, 1 + random.below(128));
          const opened = this.#openGap(at, count);
          this.buffer.set(donor.subarray(from, from + opened), at);
          break;
        }
        default: {
          // A run of one byte.
          const count = Math.min(this.length - at, 1 + random.below(32));
          this.buffer.fill(
            random.chance(0.5) ? random.pick(INTERESTING_BYTES) : random.below(256),
            at,
            at + count,
          );
        }
      }
    }
    return this;
  }
}

/**
 * Cuts an input into the pieces one case pushes: one piece, bytes one at a time, small or large
 * random pieces, or two halves, with the odd empty push.
 */
export class Splitter {
  #input: Buffer = Buffer.alloc(0);
  #at = 0;
  #style = 0;
  #cut = 0;
  #random: FuzzRandom | undefined;
  #emptyPushes = false;
  #lastWasEmpty = false;

  /**
   * `whole`: one piece (and then nothing). `fineShare`: how often pieces of a few bytes (or one)
   * may be chosen, for parsers whose every push costs a lot.
   */
  start(random: FuzzRandom, input: Buffer, whole = false, fineShare = 1): this {
    this.#input = input;
    this.#at = 0;
    this.#random = random;
    // A push per byte or per few bytes: only on short inputs.
    const fine = random.next() < fineShare;
    if (whole) this.#style = -1;
    else if (fine && input.length <= 256) this.#style = random.below(5);
    else if (fine && input.length <= 4096) this.#style = random.below(4);
    else this.#style = 1 + random.below(3);
    this.#cut = random.below(input.length + 1);
    this.#emptyPushes = !whole && random.chance(0.05);
    this.#lastWasEmpty = false;
    return this;
  }

  /** The next piece, or undefined at the end. */
  next(): Buffer | undefined {
    const input = this.#input;
    const random = this.#random as FuzzRandom;
    if (this.#emptyPushes && !this.#lastWasEmpty && random.chance(0.2)) {
      this.#lastWasEmpty = true;
      return input.subarray(this.#at, this.#at);
    }
    this.#lastWasEmpty = false;
    if (this.#at >= input.length) return undefined;
    let size: number;
    switch (this.#style) {
      case -1:
        size = input.length;
        break;
      case 0:
        size = 1 + random.below(4);
        break;
      case 1:
        size = 1 + random.below(300);
        break;
      case 2:
        size = 1 + random.below(4096);
        break;
      case 3:
        size = this.#at < this.#cut ? this.#cut - this.#at : input.length - this.#at;
        break;
      default:
        size = 1;
    }
    const piece = input.subarray(this.#at, this.#at + size);
    this.#at += size;
    return piece;
  }
}

/** FNV-1a over what a parser produced, so two runs over the same bytes compare in O(1) memory. */
export class OutcomeHash {
  value = 0x811c9dc5;
  count = 0;

  reset(): void {
    this.value = 0x811c9dc5;
    this.count = 0;
  }

  number(n: number): void {
    // Numbers here are integers below 2^32 (plus the odd float): mix both halves.
    this.#mix(n >>> 0);
    this.#mix(Math.floor(n / 2 ** 32) >>> 0);
  }

  #mix(word: number): void {
    this.value = Math.imul(this.value ^ word, 0x01000193) >>> 0;
  }

  bytes(bytes: Uint8Array): void {
    this.number(bytes.length);
    let h = this.value;
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
    this.value = h >>> 0;
  }

  text(text: string): void {
    this.number(text.length);
    for (let i = 0; i < text.length; i++) this.#mix(text.charCodeAt(i));
  }
}
