/** A most-significant-bit-first reader over bytes, with Exp-Golomb codes (H.264/H.265 9.2). */

/** Thrown by {@link BitReader} on a read past the end; callers turn it into their own error. */
export class BitstreamEnd extends Error {}

export class BitReader {
  #bit = 0;
  readonly #bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** Bits left to read. */
  get remaining(): number {
    return this.#bytes.length * 8 - this.#bit;
  }

  /** `count` (≤ 32) bits as an unsigned number. */
  bits(count: number): number {
    if (count > this.remaining) throw new BitstreamEnd(`read of ${count} bits past the end`);
    let value = 0;
    for (let i = 0; i < count; i++, this.#bit++) {
      value = value * 2 + ((this.#bytes[this.#bit >> 3] >> (7 - (this.#bit & 7))) & 1);
    }
    return value;
  }

  skip(count: number): void {
    if (count > this.remaining) throw new BitstreamEnd(`skip of ${count} bits past the end`);
    this.#bit += count;
  }

  /** ue(v). */
  unsigned(): number {
    let zeros = 0;
    while (this.bits(1) === 0) {
      zeros += 1;
      if (zeros > 31) throw new BitstreamEnd("an Exp-Golomb code longer than 32 bits");
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }
}

/** A NAL unit's bytes with the emulation prevention bytes (the 03 of 00 00 03) removed. */
export function unescapeRbsp(nal: Uint8Array): Uint8Array {
  const out = new Uint8Array(nal.length);
  let length = 0;
  let zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const byte = nal[i];
    if (zeros >= 2 && byte === 0x03) {
      zeros = 0;
      continue;
    }
    zeros = byte === 0 ? zeros + 1 : 0;
    out[length++] = byte;
  }
  return out.subarray(0, length);
}
