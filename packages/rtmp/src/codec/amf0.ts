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
import { Amf3Decoder, amf3ValueSize, writeAmf3Value } from "./amf3.js";

/** AMF0 type markers (AMF0 specification, section 2.1). */
const Marker = {
  number: 0x00,
  boolean: 0x01,
  string: 0x02,
  object: 0x03,
  movieClip: 0x04,
  null: 0x05,
  undefined: 0x06,
  reference: 0x07,
  ecmaArray: 0x08,
  objectEnd: 0x09,
  strictArray: 0x0a,
  date: 0x0b,
  longString: 0x0c,
  unsupported: 0x0d,
  recordSet: 0x0e,
  xmlDocument: 0x0f,
  typedObject: 0x10,
  avmPlus: 0x11,
} as const;

/**
 * Encode each value in sequence as AMF0, into one buffer of exactly the right size. Strings over
 * 65535 UTF-8 bytes become long strings, `AmfEcmaArray` an ECMA array, `undefined` (also as a
 * member) the undefined marker, a `Buffer` an AMF3 ByteArray behind the avmplus switch. Throws
 * RtmpProtocolError amfDepth for nesting deeper than 64 (or a cycle) and amfLength for an object
 * key over 65535 bytes.
 */
export function encodeAmf0(values: readonly AmfValue[]): Buffer {
  return encodeSized(values, valueSize, writeValue);
}

/**
 * Decode every AMF0 value in `buf`. ECMA arrays and typed objects become plain objects (the class
 * name is dropped), dates `Date`s (time zone ignored), XML documents strings, the "unsupported"
 * marker `undefined`, references the earlier decoded object itself, and an avmplus switch one AMF3
 * value (with fresh AMF3 reference tables). Throws RtmpProtocolError: amfTruncated, amfType
 * (movie clip, record set, a stray object end, unknown markers), amfDepth, amfLength, amfReference.
 */
export function decodeAmf0(buf: Buffer, limits?: AmfLimits): AmfValue[] {
  return decodeAll(new Amf0Decoder(new AmfReader(buf), resolveLimits(limits)));
}

class Amf0Decoder {
  /** Objects and arrays in the order they began, for reference markers. */
  readonly #references: AmfValue[] = [];

  constructor(
    readonly reader: AmfReader,
    readonly limits: ResolvedAmfLimits,
  ) {}

  value(depth: number): AmfValue {
    const reader = this.reader;
    const marker = reader.u8();
    switch (marker) {
      case Marker.number:
        return reader.double();
      case Marker.boolean:
        return reader.u8() !== 0;
      case Marker.string:
        return reader.utf8(reader.u16(), this.limits);
      case Marker.longString:
      case Marker.xmlDocument:
        return reader.utf8(reader.u32(), this.limits);
      case Marker.null:
        return null;
      case Marker.undefined:
      case Marker.unsupported:
        return undefined;
      case Marker.object:
        return this.#object(depth);
      case Marker.typedObject:
        reader.utf8(reader.u16(), this.limits); // the class name is not kept
        return this.#object(depth);
      case Marker.ecmaArray:
        reader.u32(); // the count is a hint some encoders get wrong; the end marker is what counts
        return this.#object(depth);
      case Marker.strictArray:
        return this.#strictArray(depth);
      case Marker.date: {
        const time = reader.double();
        reader.u16(); // time zone: reserved, ignored
        return new Date(time);
      }
      case Marker.reference: {
        const index = reader.u16();
        if (index >= this.#references.length) {
          throw new RtmpProtocolError(
            RtmpErrorCode.amfReference,
            `AMF0 reference ${index} to an object not seen`,
          );
        }
        return this.#references[index];
      }
      case Marker.avmPlus:
        return new Amf3Decoder(reader, this.limits).value(depth);
      default:
        throw new RtmpProtocolError(
          RtmpErrorCode.amfType,
          `unsupported AMF0 type marker 0x${marker.toString(16)}`,
        );
    }
  }

  #enter(depth: number): void {
    if (depth >= this.limits.maxDepth) throw depthError(this.limits.maxDepth);
  }

  #object(depth: number): AmfObject {
    this.#enter(depth);
    const reader = this.reader;
    const object: AmfObject = {};
    this.#references.push(object);
    let members = 0;
    for (;;) {
      const key = reader.utf8(reader.u16(), this.limits);
      if (key === "") {
        // An empty key before the object-end marker closes the object.
        reader.need(1);
        if (reader.buffer[reader.offset] === Marker.objectEnd) {
          reader.offset += 1;
          return object;
        }
      }
      if (++members > this.limits.maxItems) throw itemsError(members);
      setMember(object, key, this.value(depth + 1));
    }
  }

  #strictArray(depth: number): AmfValue[] {
    this.#enter(depth);
    const count = this.reader.u32();
    if (count > this.limits.maxItems) throw itemsError(count);
    // Every value takes at least one byte.
    this.reader.need(count);
    const array: AmfValue[] = [];
    this.#references.push(array);
    for (let i = 0; i < count; i++) array.push(this.value(depth + 1));
    return array;
  }
}

/** Bytes `text` takes as an AMF0 string or long string, marker included. */
function stringSize(text: string): number {
  const length = Buffer.byteLength(text);
  return (length > 0xffff ? 5 : 3) + length;
}

/** Bytes the members of an object or ECMA array take, the end marker included. */
function membersSize(object: AmfObject, depth: number): number {
  let size = 3;
  for (const key of Object.keys(object)) {
    const keyLength = Buffer.byteLength(key);
    if (keyLength > 0xffff) {
      throw new RtmpProtocolError(RtmpErrorCode.amfLength, "AMF0 object key longer than 65535 bytes");
    }
    size += 2 + keyLength + valueSize(object[key], depth + 1);
  }
  return size;
}

/** The measuring pass: bytes `value` takes in AMF0. Refuses nesting beyond the default depth. */
function valueSize(value: AmfValue, depth: number): number {
  if (value === null || value === undefined) return 1;
  if (typeof value === "number") return 9;
  if (typeof value === "boolean") return 2;
  if (typeof value === "string") return stringSize(value);
  if (value instanceof Date) return 11;
  if (Buffer.isBuffer(value)) return 1 + amf3ValueSize(value, depth);
  if (depth >= DEFAULT_MAX_DEPTH) throw depthError(DEFAULT_MAX_DEPTH);
  if (Array.isArray(value)) {
    let size = 5;
    for (const item of value) size += valueSize(item, depth + 1);
    return size;
  }
  if (value instanceof AmfEcmaArray) return 5 + membersSize(value.entries, depth);
  return 1 + membersSize(value, depth);
}

function writeMembers(writer: AmfWriter, object: AmfObject): void {
  for (const key of Object.keys(object)) {
    writer.u16(Buffer.byteLength(key));
    writer.utf8(key);
    writeValue(writer, object[key]);
  }
  writer.u16(0);
  writer.u8(Marker.objectEnd);
}

/** The writing pass, into a buffer the measuring pass sized. */
function writeValue(writer: AmfWriter, value: AmfValue): void {
  if (value === null) {
    writer.u8(Marker.null);
  } else if (value === undefined) {
    writer.u8(Marker.undefined);
  } else if (typeof value === "number") {
    writer.u8(Marker.number);
    writer.double(value);
  } else if (typeof value === "boolean") {
    writer.u8(Marker.boolean);
    writer.u8(value ? 1 : 0);
  } else if (typeof value === "string") {
    const length = Buffer.byteLength(value);
    if (length > 0xffff) {
      writer.u8(Marker.longString);
      writer.u32(length);
    } else {
      writer.u8(Marker.string);
      writer.u16(length);
    }
    writer.utf8(value);
  } else if (value instanceof Date) {
    writer.u8(Marker.date);
    writer.double(value.getTime());
    writer.u16(0); // time zone: reserved
  } else if (Buffer.isBuffer(value)) {
    // AMF0 has no byte array: switch to AMF3 for this one value.
    writer.u8(Marker.avmPlus);
    writeAmf3Value(writer, value);
  } else if (Array.isArray(value)) {
    writer.u8(Marker.strictArray);
    writer.u32(value.length);
    for (const item of value) writeValue(writer, item);
  } else if (value instanceof AmfEcmaArray) {
    writer.u8(Marker.ecmaArray);
    writer.u32(Object.keys(value.entries).length);
    writeMembers(writer, value.entries);
  } else {
    writer.u8(Marker.object);
    writeMembers(writer, value);
  }
}
