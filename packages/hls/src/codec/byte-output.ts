/**
 * A growable byte output: what the TS writer and the fMP4 fragment encoder write into, so a
 * segment can be made in one Buffer (sized by the caller) instead of chunks joined at the end.
 */
const EMPTY = Buffer.alloc(0);

/**
 * A growable byte output: the bytes written are `buffer[0, length)`. Growing doubles the capacity
 * (one copy of what was written); an empty output grows to exactly what is asked.
 */
export class ByteOutput {
  buffer: Buffer;
  length = 0;

  constructor(capacity = 0) {
    this.buffer = capacity > 0 ? Buffer.allocUnsafe(capacity) : EMPTY;
  }

  /** Room for `n` more bytes; returns the offset they go at (the length is already counted). */
  reserve(n: number): number {
    const at = this.length;
    const need = at + n;
    if (need > this.buffer.length) {
      const grown = Buffer.allocUnsafe(at === 0 ? need : Math.max(need, 2 * this.buffer.length));
      if (at > 0) this.buffer.copy(grown, 0, 0, at);
      this.buffer = grown;
    }
    this.length = need;
    return at;
  }

  /** Appends a Buffer. */
  append(bytes: Uint8Array): void {
    const at = this.reserve(bytes.length);
    this.buffer.set(bytes, at);
  }

  /** The bytes written (a view of `buffer`). */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}
