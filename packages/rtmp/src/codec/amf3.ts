import { RtmpErrorCode, RtmpProtocolError } from "../errors.js";
import {
  AmfEcmaArray,
  type AmfLimits,
  type AmfObject,
  AmfReader,
  type AmfValue,
  type AmfWriter,
  DEFAULT_MAX_DEPTH,
  decodeAll,
  depthError,
  encodeSized,
  itemsError,
  type ResolvedAmfLimits,
  resolveLimits,
  setMember,
} from "./amf.js";

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
/** The largest length or count a U29 header carries (its low bit is the inline flag). */
const MAX_U28 = 0x0fffffff;

/**
 * Encode each value in sequence as AMF3, into one buffer of exactly the right size. Integers in
 * the signed 29-bit range become AMF3 integers, other numbers doubles; strings, dates and objects
 * are written inline, never as references (valid AMF3, only less compact). Objects become
 * anonymous dynamic objects, `AmfEcmaArray` an array with only an associative part (so an empty
 * one decodes as `[]`), a `Buffer` a ByteArray. Throws RtmpProtocolError amfDepth for nesting
 * deeper than 64 (or a cycle) and amfLength for a length over 2^28 - 1.
 */
export function encodeAmf3(values: readonly AmfValue[]): Buffer {
  return encodeSized(values, amf3ValueSize, writeAmf3Value);
}

/**
 * Decode every AMF3 value in `buf`, resolving string, object and trait references. Integers and
 * doubles become numbers, XML and XMLDocument strings. Arrays with only a dense part become JS
 * arrays; arrays with an associative part become one object holding both (the dense members
 * under "0", "1", ...). Typed objects become plain objects (class name dropped). ByteArrays
 * become Buffers that are copies, so a kept value does not pin the whole network buffer. Vectors
 * of int, uint, double and object become arrays. Dictionaries and externalizable objects throw
 * amfType. Other failures: amfTruncated, amfDepth, amfLength, amfReference.
 */
export function decodeAmf3(buf: Buffer, limits?: AmfLimits): AmfValue[] {
  return decodeAll(new Amf3Decoder(new AmfReader(buf), resolveLimits(limits)));
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
    // The first key says which shape this array takes; the array is registered before any of
    // its values is read, so a value that refers back to it gets the array itself.
    let key = this.#string();
    if (key === "") {
      const dense: AmfValue[] = [];
      this.#objects.push(dense);
      for (let i = 0; i < denseCount; i++) dense.push(this.value(depth + 1));
      return dense;
    }
    const associative: AmfObject = {};
    this.#objects.push(associative);
    let members = 0;
    do {
      if (++members > this.limits.maxItems) throw itemsError(members);
      setMember(associative, key, this.value(depth + 1));
      key = this.#string();
    } while (key !== "");
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

function u29Size(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : 4;
}

/** Bytes of an inline U29 length-or-reference header, refusing lengths it cannot carry. */
function inlineHeaderSize(length: number): number {
  if (length > MAX_U28) {
    throw new RtmpProtocolError(RtmpErrorCode.amfLength, `${length} is too long for an AMF3 length`);
  }
  return u29Size((length << 1) | 1);
}

function inlineStringSize(text: string): number {
  const length = Buffer.byteLength(text);
  return inlineHeaderSize(length) + length;
}

/** Bytes of dynamic members and the empty string that ends them. */
function dynamicMembersSize(object: AmfObject, depth: number): number {
  let size = 1;
  for (const key of Object.keys(object)) {
    if (key !== "") size += inlineStringSize(key) + amf3ValueSize(object[key], depth + 1);
  }
  return size;
}

/**
 * The measuring pass: bytes `value` takes in AMF3, marker included. Refuses nesting beyond the
 * default depth and lengths a U29 cannot carry. Used by the AMF0 encoder's switch to AMF3 too.
 */
export function amf3ValueSize(value: AmfValue, depth: number): number {
  if (value === null || value === undefined || typeof value === "boolean") return 1;
  if (typeof value === "number") return isInt29(value) ? 1 + u29Size(value & 0x1fffffff) : 9;
  if (typeof value === "string") return 1 + inlineStringSize(value);
  if (value instanceof Date) return 10;
  if (Buffer.isBuffer(value)) return 1 + inlineHeaderSize(value.length) + value.length;
  if (depth >= DEFAULT_MAX_DEPTH) throw depthError(DEFAULT_MAX_DEPTH);
  if (Array.isArray(value)) {
    let size = 2 + inlineHeaderSize(value.length);
    for (const item of value) size += amf3ValueSize(item, depth + 1);
    return size;
  }
  if (value instanceof AmfEcmaArray) return 2 + dynamicMembersSize(value.entries, depth);
  return 3 + dynamicMembersSize(value, depth);
}

function isInt29(value: number): boolean {
  return Number.isInteger(value) && value >= INT29_MIN && value <= INT29_MAX && !Object.is(value, -0);
}

function writeU29(writer: AmfWriter, value: number): void {
  const v = value & 0x1fffffff;
  if (v < 0x80) {
    writer.u8(v);
  } else if (v < 0x4000) {
    writer.u8((v >>> 7) | 0x80);
    writer.u8(v & 0x7f);
  } else if (v < 0x200000) {
    writer.u8((v >>> 14) | 0x80);
    writer.u8(((v >>> 7) & 0x7f) | 0x80);
    writer.u8(v & 0x7f);
  } else {
    // The fourth byte carries 8 bits.
    writer.u8((v >>> 22) | 0x80);
    writer.u8(((v >>> 15) & 0x7f) | 0x80);
    writer.u8(((v >>> 8) & 0x7f) | 0x80);
    writer.u8(v & 0xff);
  }
}

function writeInlineString(writer: AmfWriter, text: string): void {
  writeU29(writer, (Buffer.byteLength(text) << 1) | 1);
  writer.utf8(text);
}

function writeDynamicMembers(writer: AmfWriter, object: AmfObject): void {
  for (const key of Object.keys(object)) {
    if (key === "") continue; // an empty key would end the member list
    writeInlineString(writer, key);
    writeAmf3Value(writer, object[key]);
  }
  writer.u8(0x01); // the empty string ends the members
}

/** The writing pass for one AMF3 value, into a buffer {@link amf3ValueSize} sized. */
export function writeAmf3Value(writer: AmfWriter, value: AmfValue): void {
  if (value === undefined) {
    writer.u8(Marker.undefined);
  } else if (value === null) {
    writer.u8(Marker.null);
  } else if (value === false) {
    writer.u8(Marker.false);
  } else if (value === true) {
    writer.u8(Marker.true);
  } else if (typeof value === "number") {
    if (isInt29(value)) {
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
    writer.u8(0x01); // inline, not a reference
    writer.double(value.getTime());
  } else if (Buffer.isBuffer(value)) {
    writer.u8(Marker.byteArray);
    writeU29(writer, (value.length << 1) | 1);
    writer.raw(value);
  } else if (Array.isArray(value)) {
    writer.u8(Marker.array);
    writeU29(writer, (value.length << 1) | 1);
    writer.u8(0x01); // no associative part
    for (const item of value) writeAmf3Value(writer, item);
  } else if (value instanceof AmfEcmaArray) {
    writer.u8(Marker.array);
    writer.u8(0x01); // no dense part
    writeDynamicMembers(writer, value.entries);
  } else {
    writer.u8(Marker.object);
    writer.u8(0x0b); // inline traits, dynamic, no sealed members
    writer.u8(0x01); // anonymous class
    writeDynamicMembers(writer, value);
  }
}
