import {
  AmfEcmaArray,
  type AmfLimits,
  type AmfObject,
  AmfReader,
  type AmfValue,
  AmfWriter,
  depthError,
  itemsError,
  type ResolvedAmfLimits,
  resolveLimits,
  setMember,
} from "./amf.js";
import { RtmpErrorCode, RtmpProtocolError } from "./errors.js";

/** AMF3 type markers (AMF3 specification, section 3.1). */
const Marker = {
  undefined: 0x00,
  null: 0x01,
  false: 0x02,
  true: 0x03,
  integer: 0x04,
  double: 0x05,
  string: 0x06,
  xmlDocument: 0x07,
  date: 0x08,
  array: 0x09,
  object: 0x0a,
  xml: 0x0b,
  byteArray: 0x0c,
  vectorInt: 0x0d,
  vectorUint: 0x0e,
  vectorDouble: 0x0f,
  vectorObject: 0x10,
  dictionary: 0x11,
} as const;

const INT29_MIN = -0x10000000;
const INT29_MAX = 0x0fffffff;

/** Encode each value in sequence as AMF3 (strings and objects are written inline, without references). */
export function encodeAmf3(values: readonly AmfValue[]): Buffer {
  const writer = new AmfWriter();
  for (const value of values) writeAmf3Value(writer, value, 0);
  return writer.finish();
}

/**
 * Decode every AMF3 value in `buf`. Arrays with only a dense part become JS arrays; arrays with
 * an associative part become objects holding both (dense members under "0", "1", ...).
 * ByteArrays become Buffers (copies). Vectors become arrays. Dictionaries and externalizable
 * objects are refused with amfType.
 */
export function decodeAmf3(buf: Buffer, limits?: AmfLimits): AmfValue[] {
  const decoder = new Amf3Decoder(new AmfReader(buf), resolveLimits(limits));
  const values: AmfValue[] = [];
  while (decoder.reader.remaining > 0) values.push(decoder.value(0));
  return values;
}

interface Traits {
  dynamic: boolean;
  members: string[];
}

/** One AMF3 decoding context with its string, object and trait reference tables. */
export class Amf3Decoder {
  readonly #strings: string[] = [];
  readonly #objects: AmfValue[] = [];
  readonly #traits: Traits[] = [];

  constructor(
    readonly reader: AmfReader,
    readonly limits: ResolvedAmfLimits,
  ) {}

  value(depth: number): AmfValue {
    const reader = this.reader;
    const marker = reader.u8();
    switch (marker) {
      case Marker.undefined:
        return undefined;
      case Marker.null:
        return null;
      case Marker.false:
        return false;
      case Marker.true:
        return true;
      case Marker.integer: {
        const u29 = this.#u29();
        // Sign-extend the 29-bit integer.
        return u29 & 0x10000000 ? u29 - 0x20000000 : u29;
      }
      case Marker.double:
        return reader.double();
      case Marker.string:
        return this.#string();
      case Marker.xmlDocument:
      case Marker.xml:
        return this.#referenceOr((length) => reader.utf8(length, this.limits));
      case Marker.date:
        return this.#referenceOr(() => new Date(reader.double()));
      case Marker.byteArray:
        return this.#referenceOr((length) => reader.bytes(length, this.limits));
      case Marker.array:
        return this.#array(depth);
      case Marker.object:
        return this.#object(depth);
      case Marker.vectorInt:
      case Marker.vectorUint:
      case Marker.vectorDouble:
        return this.#numberVector(marker);
      case Marker.vectorObject:
        return this.#objectVector(depth);
      default:
        throw new RtmpProtocolError(
          RtmpErrorCode.amfType,
          `unsupported AMF3 type marker 0x${marker.toString(16)}`,
        );
    }
  }

  #u29(): number {
    const reader = this.reader;
    let value = 0;
    for (let i = 0; i < 3; i++) {
      const byte = reader.u8();
      value = (value << 7) | (byte & 0x7f);
      if ((byte & 0x80) === 0) return value;
    }
    return ((value << 8) | reader.u8()) >>> 0;
  }

  #enter(depth: number): void {
    if (depth >= this.limits.maxDepth) throw depthError(this.limits.maxDepth);
  }

  #reference<T>(table: T[], index: number, what: string): T {
    if (index >= table.length) {
      throw new RtmpProtocolError(
        RtmpErrorCode.amfReference,
        `AMF3 ${what} reference ${index} to something not seen`,
      );
    }
    return table[index];
  }

  /** U29 header: low bit 0 is an object reference, else the rest is a length for `read`. */
  #referenceOr(read: (length: number) => AmfValue): AmfValue {
    const header = this.#u29();
    if ((header & 1) === 0) return this.#reference(this.#objects, header >>> 1, "object");
    const value = read(header >>> 1);
    this.#objects.push(value);
    return value;
  }

  #string(): string {
    const header = this.#u29();
    if ((header & 1) === 0) return this.#reference(this.#strings, header >>> 1, "string");
    const text = this.reader.utf8(header >>> 1, this.limits);
    // The empty string is never sent by reference.
    if (text !== "") this.#strings.push(text);
    return text;
  }

  #count(count: number, minBytesEach: number): void {
    if (count > this.limits.maxItems) throw itemsError(count);
    this.reader.need(count * minBytesEach);
  }

  #array(depth: number): AmfValue {
    const header = this.#u29();
    if ((header & 1) === 0) return this.#reference(this.#objects, header >>> 1, "object");
    this.#enter(depth);
    const denseCount = header >>> 1;
    this.#count(denseCount, 1);
    const index = this.#objects.length;
    this.#objects.push(null);
    let associative: AmfObject | undefined;
    let members = 0;
    for (;;) {
      const key = this.#string();
      if (key === "") break;
      if (++members > this.limits.maxItems) throw itemsError(members);
      associative ??= {};
      setMember(associative, key, this.value(depth + 1));
    }
    if (associative === undefined) {
      const dense: AmfValue[] = [];
      this.#objects[index] = dense;
      for (let i = 0; i < denseCount; i++) dense.push(this.value(depth + 1));
      return dense;
    }
    this.#objects[index] = associative;
    for (let i = 0; i < denseCount; i++) setMember(associative, String(i), this.value(depth + 1));
    return associative;
  }

  #object(depth: number): AmfValue {
    const header = this.#u29();
    if ((header & 1) === 0) return this.#reference(this.#objects, header >>> 1, "object");
    this.#enter(depth);
    let traits: Traits;
    if ((header & 2) === 0) {
      traits = this.#reference(this.#traits, header >>> 2, "traits");
    } else if ((header & 4) !== 0) {
      throw new RtmpProtocolError(RtmpErrorCode.amfType, "externalizable AMF3 objects are not supported");
    } else {
      const memberCount = header >>> 4;
      this.#count(memberCount, 1);
      this.#string(); // class name, not kept
      const members: string[] = [];
      for (let i = 0; i < memberCount; i++) members.push(this.#string());
      traits = { dynamic: (header & 8) !== 0, members };
      this.#traits.push(traits);
    }
    const object: AmfObject = {};
    this.#objects.push(object);
    for (const member of traits.members) setMember(object, member, this.value(depth + 1));
    if (traits.dynamic) {
      let members = 0;
      for (;;) {
        const key = this.#string();
        if (key === "") break;
        if (++members > this.limits.maxItems) throw itemsError(members);
        setMember(object, key, this.value(depth + 1));
      }
    }
    return object;
  }

  #numberVector(marker: number): AmfValue {
    const header = this.#u29();
    if ((header & 1) === 0) return this.#reference(this.#objects, header >>> 1, "object");
    const count = header >>> 1;
    const reader = this.reader;
    reader.u8(); // fixed-length flag
    const size = marker === Marker.vectorDouble ? 8 : 4;
    this.#count(count, size);
    const vector: number[] = [];
    for (let i = 0; i < count; i++) {
      vector.push(
        marker === Marker.vectorDouble
          ? reader.double()
          : marker === Marker.vectorInt
            ? reader.u32() | 0
            : reader.u32(),
      );
    }
    this.#objects.push(vector);
    return vector;
  }

  #objectVector(depth: number): AmfValue {
    const header = this.#u29();
    if ((header & 1) === 0) return this.#reference(this.#objects, header >>> 1, "object");
    this.#enter(depth);
    const count = header >>> 1;
    this.reader.u8(); // fixed-length flag
    this.#string(); // element type name
    this.#count(count, 1);
    const vector: AmfValue[] = [];
    this.#objects.push(vector);
    for (let i = 0; i < count; i++) vector.push(this.value(depth + 1));
    return vector;
  }
}

const MAX_ENCODE_DEPTH = 64;

function writeU29(writer: AmfWriter, value: number): void {
  const v = value & 0x1fffffff;
  if (v < 0x80) {
    writer.u8(v);
  } else if (v < 0x4000) {
    writer.u8(((v >>> 7) & 0x7f) | 0x80);
    writer.u8(v & 0x7f);
  } else if (v < 0x200000) {
    writer.u8(((v >>> 14) & 0x7f) | 0x80);
    writer.u8(((v >>> 7) & 0x7f) | 0x80);
    writer.u8(v & 0x7f);
  } else {
    writer.u8(((v >>> 22) & 0x7f) | 0x80);
    writer.u8(((v >>> 15) & 0x7f) | 0x80);
    writer.u8(((v >>> 8) & 0x7f) | 0x80);
    writer.u8(v & 0xff);
  }
}

function writeInlineString(writer: AmfWriter, text: string): void {
  const length = Buffer.byteLength(text);
  if (length > 0x0fffffff) throw new RtmpProtocolError(RtmpErrorCode.amfLength, "AMF3 string too long");
  writeU29(writer, (length << 1) | 1);
  writer.utf8(text);
}

function writeDynamicMembers(writer: AmfWriter, object: AmfObject, depth: number): void {
  for (const key of Object.keys(object)) {
    if (key === "") continue; // an empty key would end the member list
    writeInlineString(writer, key);
    writeAmf3Value(writer, object[key], depth + 1);
  }
  writer.u8(0x01); // the empty string ends the members
}

/** Write one AMF3 value (marker included). Used by the AMF0 encoder's switch to AMF3 too. */
export function writeAmf3Value(writer: AmfWriter, value: AmfValue, depth: number): void {
  if (depth > MAX_ENCODE_DEPTH) throw depthError(MAX_ENCODE_DEPTH);
  if (value === undefined) {
    writer.u8(Marker.undefined);
  } else if (value === null) {
    writer.u8(Marker.null);
  } else if (value === false) {
    writer.u8(Marker.false);
  } else if (value === true) {
    writer.u8(Marker.true);
  } else if (typeof value === "number") {
    if (Number.isInteger(value) && value >= INT29_MIN && value <= INT29_MAX && !Object.is(value, -0)) {
      writer.u8(Marker.integer);
      writeU29(writer, value);
    } else {
      writer.u8(Marker.double);
      writer.double(value);
    }
  } else if (typeof value === "string") {
    writer.u8(Marker.string);
    writeInlineString(writer, value);
  } else if (value instanceof Date) {
    writer.u8(Marker.date);
    writer.u8(0x01);
    writer.double(value.getTime());
  } else if (Buffer.isBuffer(value)) {
    writer.u8(Marker.byteArray);
    writeU29(writer, (value.length << 1) | 1);
    writer.raw(value);
  } else if (Array.isArray(value)) {
    writer.u8(Marker.array);
    writeU29(writer, (value.length << 1) | 1);
    writer.u8(0x01); // no associative part
    for (const item of value) writeAmf3Value(writer, item, depth + 1);
  } else if (value instanceof AmfEcmaArray) {
    writer.u8(Marker.array);
    writer.u8(0x01); // no dense part
    writeDynamicMembers(writer, value.entries, depth);
  } else {
    writer.u8(Marker.object);
    writer.u8(0x0b); // inline traits, dynamic, no sealed members
    writer.u8(0x01); // anonymous class
    writeDynamicMembers(writer, value, depth);
  }
}
