/** Test helpers: an HEVCDecoderConfigurationRecord and Enhanced RTMP hvc1 tag bodies. */

/** An hvcC with the given parameter sets (the profile fields are zeros: the muxer does not read them). */
export function hvcC(sets: { vps: Buffer; sps: Buffer; pps: Buffer }, lengthSize: 1 | 2 | 4 = 4): Buffer {
  const fixed = Buffer.alloc(23);
  fixed[0] = 1; // configurationVersion
  fixed[21] = 0x0c | (lengthSize - 1); // constantFrameRate 0, numTemporalLayers 1, temporalIdNested 1
  fixed[22] = 3; // numOfArrays
  const array = (type: number, nal: Buffer): Buffer =>
    Buffer.concat([Buffer.from([0x80 | type, 0, 1, nal.length >> 8, nal.length & 0xff]), nal]);
  return Buffer.concat([fixed, array(32, sets.vps), array(33, sets.sps), array(34, sets.pps)]);
}

/** An Enhanced RTMP video body: 1 frameType:3 packetType:4 | "hvc1" | [CTS:24 for CodedFrames] | data. */
export function hvc1Tag(frameType: 1 | 2, packetType: 0 | 1 | 3, data: Buffer, cts = 0): Buffer {
  const head = Buffer.from([0x80 | (frameType << 4) | packetType, 0x68, 0x76, 0x63, 0x31]);
  if (packetType !== 1) return Buffer.concat([head, data]);
  const time = Buffer.alloc(3);
  time.writeIntBE(cts, 0, 3);
  return Buffer.concat([head, time, data]);
}

/** Splits an Annex B byte stream into NAL units (without start codes). */
export function splitAnnexB(data: Buffer): Buffer[] {
  const units: Buffer[] = [];
  let start = -1;
  for (let i = 0; i + 3 <= data.length; ) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      if (start >= 0) units.push(data.subarray(start, i > 0 && data[i - 1] === 0 ? i - 1 : i));
      start = i + 3;
      i += 3;
    } else i += 1;
  }
  if (start >= 0) units.push(data.subarray(start));
  return units;
}

const nalType = (nal: Buffer): number => (nal[0] >> 1) & 0x3f;

/**
 * An hvcC whose profile, tier and level fields come from the SPS (general_profile_tier_level: the
 * 12 bytes after the SPS's NAL header and first byte), as an encoder writes it; parsers that
 * build codec strings (fMP4's hvc1.x.x.Lx.x) read them.
 */
export function hvcCFromSps(sets: { vps: Buffer; sps: Buffer; pps: Buffer }): Buffer {
  const record = hvcC(sets);
  sets.sps.copy(record, 1, 3, 15);
  record[13] = 0xf0; // reserved, min_spatial_segmentation_idc 0
  record[15] = 0xfc; // reserved, parallelismType 0
  record[16] = 0xfd; // reserved, chroma_format_idc 1 (4:2:0)
  record[17] = 0xf8; // reserved, bit_depth_luma_minus8 0
  record[18] = 0xf8; // reserved, bit_depth_chroma_minus8 0
  return record;
}

/** A libx265 Annex B stream (with AUDs) as access units: an hvcC and length-prefixed frames. */
export function hevcAccessUnits(raw: Buffer): { record: Buffer; units: { irap: boolean; data: Buffer }[] } {
  const units: Buffer[][] = [];
  for (const nal of splitAnnexB(raw)) {
    if (nalType(nal) === 35 || units.length === 0) units.push([]);
    units[units.length - 1].push(nal);
  }
  const first = (type: number): Buffer => units.flat().find((n) => nalType(n) === type) as Buffer;
  return {
    record: hvcCFromSps({ vps: first(32), sps: first(33), pps: first(34) }),
    units: units.map((unit) => ({
      irap: unit.some((n) => nalType(n) >= 16 && nalType(n) <= 23),
      data: Buffer.concat(unit.flatMap((n) => [Buffer.from([0, 0, n.length >> 8, n.length & 0xff]), n])),
    })),
  };
}
