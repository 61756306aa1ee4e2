import { RtmpErrorCode, RtmpProtocolError } from "./errors.js";

/** An AMF object (or a decoded ECMA array / AMF3 associative array): string keys to values. */
export interface AmfObject {
  [key: string]: AmfValue;
}

/** Every value AMF0 and AMF3 carry, as JavaScript values. `Buffer` is an AMF3 ByteArray. */
export type AmfValue =
  | null
  | undefined
  | boolean
  | number
  | string
  | Date
  | Buffer
  | AmfValue[]
  | AmfObject
  | AmfEcmaArray;

/**
 * Marks a record to be encoded as an AMF0 ECMA array (as onMetaData often is), or an AMF3 array
 * with an associative part. Decoding an ECMA array gives a plain {@link AmfObject}.
 */
export class AmfEcmaArray {
  constructor(readonly entries: AmfObject) {}
}

/** Bounds on what a decoder accepts from the network. */
export interface AmfLimits {
  /** Deepest nesting of objects and arrays. Default 64. */
  maxDepth?: number;
  /** Longest string, XML or ByteArray, in bytes. Default 1 MiB. */
  maxStringLength?: number;
  /** Most members of one array or object. Default 65 536. */
  maxItems?: number;
}

export interface ResolvedAmfLimits {
  maxDepth: number;
  maxStringLength: number;
  maxItems: number;
}

export function resolveLimits(limits: AmfLimits | undefined): ResolvedAmfLimits {
  return {
    maxDepth: limits?.maxDepth ?? 64,
    maxStringLength: limits?.maxStringLength ?? 1024 * 1024,
    maxItems: limits?.maxItems ?? 65_536,
  };
}

/** A bounds-checked cursor over an untrusted buffer; every read fails with amfTruncated, never RangeError. */
export class AmfReader {
  offset: number;
  constructor(
    readonly buffer: Buffer,
    offset = 0,
  ) {
    this.offset = offset;
  }

  get remaining(): number {
    return this.buffer.length - this.offset;
  }

  need(bytes: number): void {
    if (bytes > this.buffer.length - this.offset) {
      throw new RtmpProtocolError(
        RtmpErrorCode.amfTruncated,
        `AMF value cut short: ${bytes} bytes needed, ${this.remaining} left`,
      );
    }
  }

  u8(): number {
    this.need(1);
    return this.buffer[this.offset++];
  }

  u16(): number {
    this.need(2);
    const value = this.buffer.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  s16(): number {
    this.need(2);
    const value = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  u32(): number {
    this.need(4);
    const value = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  double(): number {
    this.need(8);
    const value = this.buffer.readDoubleBE(this.offset);
    this.offset += 8;
    return value;
  }

  utf8(length: number, limits: ResolvedAmfLimits): string {
    if (length > limits.maxStringLength) {
      throw new RtmpProtocolError(RtmpErrorCode.amfLength, `AMF string of ${length} bytes is over the limit`);
    }
    this.need(length);
    const value = this.buffer.toString("utf8", this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  bytes(length: number, limits: ResolvedAmfLimits): Buffer {
    if (length > limits.maxStringLength) {
      throw new RtmpProtocolError(
        RtmpErrorCode.amfLength,
        `AMF byte array of ${length} bytes is over the limit`,
      );
    }
    this.need(length);
    // A copy, so a small value does not keep a large network buffer alive.
    const value = Buffer.from(this.buffer.subarray(this.offset, this.offset + length));
    this.offset += length;
    return value;
  }
}

/** A growable output buffer for the encoders (commands and metadata, not the media hot path). */
export class AmfWriter {
  #buffer = Buffer.allocUnsafe(256);
  #length = 0;

  ensure(bytes: number): Buffer {
    if (this.#length + bytes > this.#buffer.length) {
      const next = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#length + bytes));
      this.#buffer.copy(next, 0, 0, this.#length);
      this.#buffer = next;
    }
    return this.#buffer;
  }

  u8(value: number): void {
    this.ensure(1)[this.#length++] = value;
  }

  u16(value: number): void {
    this.ensure(2).writeUInt16BE(value, this.#length);
    this.#length += 2;
  }

  s16(value: number): void {
    this.ensure(2).writeInt16BE(value, this.#length);
    this.#length += 2;
  }

  u32(value: number): void {
    this.ensure(4).writeUInt32BE(value, this.#length);
    this.#length += 4;
  }

  double(value: number): void {
    this.ensure(8).writeDoubleBE(value, this.#length);
    this.#length += 8;
  }

  raw(bytes: Buffer): void {
    bytes.copy(this.ensure(bytes.length), this.#length);
    this.#length += bytes.length;
  }

  /** Writes `text` as UTF-8 and returns its byte length. */
  utf8(text: string): number {
    const length = Buffer.byteLength(text);
    this.ensure(length).write(text, this.#length, "utf8");
    this.#length += length;
    return length;
  }

  /** The bytes written, in a buffer of exactly that size. */
  finish(): Buffer {
    return Buffer.from(this.#buffer.subarray(0, this.#length));
  }
}

export function depthError(limit: number): RtmpProtocolError {
  return new RtmpProtocolError(RtmpErrorCode.amfDepth, `AMF nesting deeper than ${limit}`);
}

export function itemsError(count: number): RtmpProtocolError {
  return new RtmpProtocolError(
    RtmpErrorCode.amfLength,
    `AMF array or object of ${count} members is over the limit`,
  );
}

/** Sets a decoded member without letting a "__proto__" key change the object's prototype. */
export function setMember(target: AmfObject, key: string, value: AmfValue): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

export function isPlainAmfObject(value: AmfValue): value is AmfObject {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Date) &&
    !Buffer.isBuffer(value) &&
    !(value instanceof AmfEcmaArray)
  );
}
