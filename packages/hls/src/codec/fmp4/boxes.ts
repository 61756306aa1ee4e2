/**
 * ISO BMFF (ISO/IEC 14496-12) box primitives for the init segment, where a few dozen boxes are built
 * once per configuration: each box is a Buffer made from its children.
 *
 *   Box:     size:32 type:32 payload            (size counts the 8-byte header)
 *   FullBox: size:32 type:32 version:8 flags:24 payload
 *
 * The fragment writer (fragment.ts) does not use these: it writes moof + mdat into one Buffer.
 */

export const BOX_HEADER_LENGTH = 8;
export const FULL_BOX_HEADER_LENGTH = 12;

/** Writes a box header (size, four-character type) at `offset`; returns the offset after it. */
export function writeBoxHeader(target: Buffer, offset: number, size: number, type: string): number {
  target.writeUInt32BE(size, offset);
  target.write(type, offset + 4, 4, "latin1");
  return offset + BOX_HEADER_LENGTH;
}

/** Writes a full box header (size, type, version, flags) at `offset`; returns the offset after it. */
export function writeFullBoxHeader(
  target: Buffer,
  offset: number,
  size: number,
  type: string,
  version: number,
  flags: number,
): number {
  writeBoxHeader(target, offset, size, type);
  target.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff), offset + 4 + 4);
  return offset + FULL_BOX_HEADER_LENGTH;
}

function checkType(type: string): void {
  if (type.length !== 4) throw new RangeError(`box type "${type}" is not four characters`);
}

/** A box of `type` holding `children` (payload bytes and other boxes) in order. */
export function box(type: string, ...children: readonly Uint8Array[]): Buffer {
  checkType(type);
  let size = BOX_HEADER_LENGTH;
  for (const child of children) size += child.length;
  const out = Buffer.allocUnsafe(size);
  let at = writeBoxHeader(out, 0, size, type);
  for (const child of children) {
    out.set(child, at);
    at += child.length;
  }
  return out;
}

/** A full box of `type` with `version` and 24-bit `flags`, holding `children` in order. */
export function fullBox(
  type: string,
  version: number,
  flags: number,
  ...children: readonly Uint8Array[]
): Buffer {
  checkType(type);
  let size = FULL_BOX_HEADER_LENGTH;
  for (const child of children) size += child.length;
  const out = Buffer.allocUnsafe(size);
  let at = writeFullBoxHeader(out, 0, size, type, version, flags);
  for (const child of children) {
    out.set(child, at);
    at += child.length;
  }
  return out;
}

/** Big-endian unsigned integers, for box payloads. */
export function u8(value: number): Buffer {
  return Buffer.from([value & 0xff]);
}

export function u16(value: number): Buffer {
  const out = Buffer.allocUnsafe(2);
  out.writeUInt16BE(value & 0xffff, 0);
  return out;
}

export function u24(value: number): Buffer {
  const out = Buffer.allocUnsafe(3);
  out.writeUIntBE(value & 0xffffff, 0, 3);
  return out;
}

export function u32(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(value >>> 0, 0);
  return out;
}

/** An unsigned 64-bit integer from a safe JS integer (≥ 0). */
export function u64(value: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeBigUInt64BE(BigInt(value), 0);
  return out;
}

/** `count` zero bytes. */
export function zeros(count: number): Buffer {
  return Buffer.alloc(count);
}

/** A four-character code as 4 bytes. */
export function fourCc(code: string): Buffer {
  checkType(code);
  return Buffer.from(code, "latin1");
}
