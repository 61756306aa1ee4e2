/**
 * The fuzzer's randomness: mulberry32 (as in test-support/seeded-random.ts), but reseedable per
 * case, so case N of seed S replays alone without running cases 0..N-1, and a pool of random
 * bytes built once per seed, so a case's random bytes are a copy, not a PRNG call per byte.
 */

/** A reseedable mulberry32 stream. */
export class FuzzRandom {
  #state = 0;

  /** Start the stream of case `caseIndex` of run `seed`; neighbouring cases get unrelated streams. */
  reseed(seed: number, caseIndex: number): void {
    let h = (seed ^ Math.imul(caseIndex + 1, 0x9e3779b1)) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    this.#state = (h ^ (h >>> 16)) >>> 0;
  }

  uint32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** In [0, 1). */
  next(): number {
    return this.uint32() / 2 ** 32;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [low, high]. */
  between(low: number, high: number): number {
    return low + this.below(high - low + 1);
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }

  /** A length that is mostly small and sometimes large: the shape bugs like. */
  length(max: number): number {
    const roll = this.next();
    if (roll < 0.5) return this.below(Math.min(max, 16) + 1);
    if (roll < 0.85) return this.below(Math.min(max, 512) + 1);
    return this.below(max + 1);
  }
}

/** Random bytes made once per seed; cases copy slices of it from random offsets. */
export class RandomPool {
  static readonly SIZE = 1 << 18;
  readonly bytes = Buffer.allocUnsafe(RandomPool.SIZE);

  constructor(seed: number) {
    const random = new FuzzRandom();
    random.reseed(seed, -1);
    for (let i = 0; i < RandomPool.SIZE; i += 4) this.bytes.writeUInt32LE(random.uint32(), i);
  }

  /** Copy `count` random bytes into `target` at `at` (count may exceed the pool; it repeats). */
  fill(random: FuzzRandom, target: Buffer, at: number, count: number): void {
    let written = 0;
    while (written < count) {
      const from = random.below(RandomPool.SIZE);
      const take = Math.min(count - written, RandomPool.SIZE - from);
      this.bytes.copy(target, at + written, from, from + take);
      written += take;
    }
  }
}
