/**
 * A count of bytes held against a limit, shared by everything that draws on one pool (say every
 * connection of a server holding partial messages). `take` is all-or-nothing; whoever took bytes
 * gives them back with `release` when it lets them go.
 */
export class ByteBudget {
  readonly limit: number;
  #used = 0;

  constructor(limit: number) {
    if (!(limit >= 0)) throw new RangeError(`ByteBudget limit must be >= 0, got ${limit}`);
    this.limit = limit;
  }

  get used(): number {
    return this.#used;
  }

  get available(): number {
    return this.limit - this.#used;
  }

  /** Take `bytes` if they fit under the limit; returns false (and takes nothing) if not. */
  take(bytes: number): boolean {
    if (this.#used + bytes > this.limit) return false;
    this.#used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }
}
