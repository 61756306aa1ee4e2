import { RtmpErrorCode, RtmpProtocolError } from "../errors.js";

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

/** Encoders refuse input nested deeper than this (also the decoders' default), which stops cycles too. */
export const DEFAULT_MAX_DEPTH = 64;

/** Bounds on what a decoder accepts from the network. */
export interface AmfLimits {
  /** Deepest nesting of objects and arrays. Default 64; at most 1000, to stay far from the call stack's limit. */
  maxDepth?: number;
  /** Longest string, XML or ByteArray, in bytes. Default 1 MiB. */
  maxStringLength?: number;
  /** Most members of one array or object. Default 65 536. */
  maxItems?: number;
}

/** The decoders recurse once or twice per level; this keeps any configured depth well inside Node's stack. */
const MAX_DEPTH_CEILING = 1000;

export interface ResolvedAmfLimits {
  maxDepth: number;
  maxStringLength: number;
  maxItems: number;
}

export function resolveLimits(limits: AmfLimits | undefined): ResolvedAmfLimits {
  return {
    maxDepth: Math.min(limits?.maxDepth ?? DEFAULT_MAX_DEPTH, MAX_DEPTH_CEILING),
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

/**
 * Writes into a buffer that a measuring pass sized exactly, so each encoded message is one
 * allocation. No bounds checks: the measuring pass and the writing pass walk the same value.
 */
export class AmfWriter {
  offset = 0;
  constructor(readonly buffer: Buffer) {}

  u8(value: number): void {
    this.buffer[this.offset++] = value;
  }

  u16(value: number): void {
    this.offset = this.buffer.writeUInt16BE(value, this.offset);
  }

  u32(value: number): void {
    this.offset = this.buffer.writeUInt32BE(value, this.offset);
  }

  double(value: number): void {
    this.offset = this.buffer.writeDoubleBE(value, this.offset);
  }

  raw(bytes: Buffer): void {
    this.offset += bytes.copy(this.buffer, this.offset);
  }

  utf8(text: string): void {
    this.offset += this.buffer.write(text, this.offset, "utf8");
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

/** Size every value, then write them all into one buffer of exactly that size. */
export function encodeSized(
  values: readonly AmfValue[],
  sizeOf: (value: AmfValue, depth: number) => number,
  write: (writer: AmfWriter, value: AmfValue) => void,
): Buffer {
  let size = 0;
  for (const value of values) size += sizeOf(value, 0);
  const writer = new AmfWriter(Buffer.allocUnsafe(size));
  for (const value of values) write(writer, value);
  return writer.buffer;
}

/** Decode values one after another until the reader is empty. */
export function decodeAll(decoder: {
  readonly reader: AmfReader;
  value(depth: number): AmfValue;
}): AmfValue[] {
  const values: AmfValue[] = [];
  while (decoder.reader.remaining > 0) values.push(decoder.value(0));
  return values;
}
