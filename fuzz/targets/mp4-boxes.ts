/**
 * A tiny ISO BMFF box walker for the HLS fuzz targets, written from ISO/IEC 14496-12 (not from the
 * muxer): every box's size is at least its header and fits its parent, the children of container
 * boxes fill them exactly, and a fragment is moof then mdat whose trun sample sizes add up to the
 * mdat and whose data offsets point into it.
 */

/** Boxes that hold only boxes (the ones our init segments and fragments use, and a few more). */
const CONTAINERS = new Set([
  "moov",
  "trak",
  "mdia",
  "minf",
  "stbl",
  "mvex",
  "moof",
  "traf",
  "dinf",
  "edts",
  "udta",
]);

export interface Box {
  type: string;
  start: number;
  /** Where the payload starts (after size and type). */
  body: number;
  end: number;
  /** 0 for a top-level box. */
  depth: number;
}

/**
 * The boxes of `bytes[start, end)`, depth-first (containers before their children); a string
 * saying what is wrong instead when a size does not add up.
 */
export function walkBoxes(
  bytes: Buffer,
  start = 0,
  end = bytes.length,
  out: Box[] = [],
  depth = 0,
): Box[] | string {
  if (depth > 8) return "boxes nested deeper than 8";
  let at = start;
  while (at < end) {
    if (end - at < 8) return `${end - at} bytes left at ${at}: too few for a box header`;
    let size = bytes.readUInt32BE(at);
    let body = at + 8;
    if (size === 1) {
      if (end - at < 16) return `a 64-bit size at ${at} without room for it`;
      size = Number(bytes.readBigUInt64BE(at + 8));
      body = at + 16;
    } else if (size === 0) {
      return `a box of size 0 (to the end) at ${at}`;
    }
    if (size < body - at || at + size > end)
      return `a box of ${size} bytes at ${at} does not fit [${at}, ${end})`;
    const type = bytes.toString("latin1", at + 4, at + 8);
    if (!/^[a-z0-9 ]{4}$/i.test(type)) return `a box type ${JSON.stringify(type)} at ${at}`;
    out.push({ type, start: at, body, end: at + size, depth });
    if (CONTAINERS.has(type)) {
      const children = walkBoxes(bytes, body, at + size, out, depth + 1);
      if (typeof children === "string") return `in ${type}: ${children}`;
    }
    at += size;
  }
  return out;
}

/** An init segment: ftyp then moov, every box fitting. Undefined when it is well formed, else why not. */
export function checkInitSegment(bytes: Buffer): string | undefined {
  const boxes = walkBoxes(bytes);
  if (typeof boxes === "string") return boxes;
  const top = boxes.filter((box) => box.depth === 0);
  if (top.length !== 2 || top[0].type !== "ftyp" || top[1].type !== "moov") {
    return `top-level boxes ${top.map((box) => box.type).join(",")}, not ftyp,moov`;
  }
  if (!boxes.some((box) => box.type === "trak")) return "a moov without a trak";
  return undefined;
}

/**
 * A fragment: one moof (mfhd, then trafs of tfhd, tfdt, trun) and one mdat; the sample sizes of
 * every trun add up to the mdat's payload and each trun's data_offset (from the moof's first byte)
 * is where its samples start. Returns the sample count, or why it is not well formed.
 */
export function checkFragment(bytes: Buffer, start = 0, end = bytes.length): number | string {
  const boxes = walkBoxes(bytes, start, end);
  if (typeof boxes === "string") return boxes;
  const top = boxes.filter((box) => box.depth === 0);
  const [moof, mdat] = top;
  if (top.length !== 2 || moof.type !== "moof" || mdat.type !== "mdat") {
    return `boxes ${boxes.map((box) => box.type).join(",")}: not one moof and one mdat`;
  }
  let expectedOffset = mdat.body - moof.start;
  let samples = 0;
  for (const trun of boxes.filter((box) => box.type === "trun")) {
    if (trun.end - trun.body < 8) return "a trun too short for its fields";
    const flags = bytes.readUInt32BE(trun.body) & 0xffffff;
    const count = bytes.readUInt32BE(trun.body + 4);
    let at = trun.body + 8;
    if (flags & 0x1) {
      if (at + 4 > trun.end) return "a trun too short for its data_offset";
      const offset = bytes.readInt32BE(at);
      if (offset !== expectedOffset)
        return `trun data_offset ${offset}, its samples start at ${expectedOffset}`;
      at += 4;
    }
    if (flags & 0x4) at += 4;
    const perSample = [0x100, 0x200, 0x400, 0x800].filter((bit) => flags & bit).length * 4;
    if (at + count * perSample !== trun.end)
      return `a trun of ${count} samples is ${trun.end - trun.body} bytes`;
    for (let i = 0; i < count; i++, at += perSample) {
      const sizeAt = at + (flags & 0x100 ? 4 : 0);
      if (flags & 0x200) expectedOffset += bytes.readUInt32BE(sizeAt);
    }
    samples += count;
  }
  if (expectedOffset !== mdat.end - moof.start) {
    return `the samples end at ${expectedOffset}, the mdat at ${mdat.end - moof.start}`;
  }
  return samples;
}
