/**
 * H.264 and HEVC from FLV/RTMP (the ISO/IEC 14496-15 sample format: each NAL unit behind a
 * big-endian length of 1, 2 or 4 bytes, as the avcC/hvcC says) to the Annex B byte stream MPEG-TS
 * carries (each NAL unit behind a 00 00 00 01 start code), one access unit at a time:
 *
 *   H.264: AUD (type 9, primary_pic_type 7: any slice) | SPS, PPS from the avcC on IDR access units | the frame's NAL units
 *   HEVC:  AUD (type 35, pic_type 2: any slice)         | VPS, SPS, PPS from the hvcC on IRAP access units | the frame's NAL units
 *
 * The frame's own AUDs are dropped (one AUD per access unit, first), and so are parameter sets that
 * are byte for byte the ones from the configuration record (they are written before every IDR/IRAP
 * anyway). An in-band parameter set that differs is kept where it was.
 *
 * In-band parameter sets: a configuration record with no parameter sets at all (ffmpeg's FLV muxer
 * without `-flags:v +global_header`, as with `-f tee`, sends an empty avcC) gives `sets: []`, and
 * the SPS/PPS the keyframes carry are written where they come (nothing to drop as a copy). Such
 * streams may also carry their frames as Annex B (start codes: ffmpeg writes them that way when it
 * has no extradata); {@link isAnnexBFrame} tells which, and both framings are read.
 *
 * AVCDecoderConfigurationRecord (14496-15 5.3.3.1):
 *   configurationVersion:8 profile:8 compatibility:8 level:8 111111 lengthSizeMinusOne:2
 *   111 numOfSequenceParameterSets:5 { length:16 SPS }* numOfPictureParameterSets:8 { length:16 PPS }*
 */
import { HlsError, HlsErrorCode } from "../errors.js";

const START_CODE_LENGTH = 4;
const AVC_AUD = Buffer.from([0, 0, 0, 1, 0x09, 0xf0]);
/** nal_unit_type 35, nuh_layer_id 0, nuh_temporal_id_plus1 1 | pic_type 2, rbsp_stop_one_bit. */
const HEVC_AUD = Buffer.from([0, 0, 0, 1, 0x46, 0x01, 0x50]);
export const NAL_TYPE = { idr: 5, sps: 7, pps: 8, aud: 9 } as const;
export const HEVC_NAL_TYPE = { irapFirst: 16, irapLast: 23, vps: 32, sps: 33, pps: 34, aud: 35 } as const;

export interface ParameterSets {
  codec: "avc" | "hevc";
  /** Bytes in each NAL unit length prefix (1, 2 or 4). */
  nalUnitLengthSize: number;
  /**
   * The parameter sets to write before each random access point, in order (VPS, SPS, PPS); empty
   * when the record carried none (they come in-band, in the keyframes).
   */
  sets: Buffer[];
}

/** What a record with no parameter sets gives: the sets come in-band. */
function inBand(codec: "avc" | "hevc", nalUnitLengthSize: number): ParameterSets {
  return { codec, nalUnitLengthSize, sets: [] };
}

/**
 * The NAL length size and parameter sets of an AVCDecoderConfigurationRecord; throws `HlsError`
 * (avcConfig) if malformed. A record with no SPS and no PPS (counts of 0, or a record that ends
 * before them) gives no sets: they come in-band.
 */
export function parseAvcParameterSets(record: Buffer): ParameterSets {
  const fail = (why: string): never => {
    throw new HlsError(HlsErrorCode.avcConfig, `AVC decoder configuration: ${why}`);
  };
  // Too short to hold lengthSizeMinusOne (ffmpeg sends 0 bytes without a global header): 4, the
  // size every encoder we know of uses, and the only one Annex B frames are rewritten to.
  if (record.length < 5) return inBand("avc", 4);
  const nalUnitLengthSize = (record[4] & 0x03) + 1;
  if (nalUnitLengthSize === 3) fail("a NAL unit length size of 3 is not allowed");
  if ((record.length === 5 || (record[5] & 0x1f) === 0) && (record.length <= 6 || record[6] === 0)) {
    return inBand("avc", nalUnitLengthSize);
  }
  if (record.length < 7) fail(`${record.length} bytes is too short`);
  let at = 5;
  const readSets = (count: number): Buffer[] => {
    const sets: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      if (at + 2 > record.length) fail("truncated parameter set length");
      const length = record.readUInt16BE(at);
      at += 2;
      if (length === 0 || at + length > record.length) fail("truncated parameter set");
      sets.push(Buffer.from(record.subarray(at, at + length)));
      at += length;
    }
    return sets;
  };
  const sps = readSets(record[at++] & 0x1f);
  if (at >= record.length) fail("no picture parameter set count");
  const pps = readSets(record[at++]);
  if (sps.length === 0 || pps.length === 0) fail("no SPS or no PPS");
  return { codec: "avc", nalUnitLengthSize, sets: [...sps, ...pps] };
}

/**
 * The NAL length size and VPS, SPS and PPS of an HEVCDecoderConfigurationRecord (14496-15 8.3.3.1.2);
 * throws `HlsError` (hevcConfig) if malformed.
 *
 *   22 bytes (version, profile, tier, level, ...; byte 21: ... lengthSizeMinusOne:2) numOfArrays:8
 *   { completeness:1 reserved:1 NAL_unit_type:6 numNalus:16 { nalUnitLength:16 NAL }* }*
 */
export function parseHevcParameterSets(record: Buffer): ParameterSets {
  const fail = (why: string): never => {
    throw new HlsError(HlsErrorCode.hevcConfig, `HEVC decoder configuration: ${why}`);
  };
  if (record.length < 22) return inBand("hevc", 4); // as for AVC: no lengthSizeMinusOne, 4
  const nalUnitLengthSize = (record[21] & 0x03) + 1;
  if (record.length === 22) return inBand("hevc", nalUnitLengthSize);
  if (nalUnitLengthSize === 3) fail("a NAL unit length size of 3 is not allowed");
  const byType = new Map<number, Buffer[]>();
  let at = 23;
  for (let array = 0; array < record[22]; array++) {
    if (at + 3 > record.length) fail("truncated NAL unit array");
    const type = record[at] & 0x3f;
    const count = record.readUInt16BE(at + 1);
    at += 3;
    for (let i = 0; i < count; i++) {
      if (at + 2 > record.length) fail("truncated NAL unit length");
      const length = record.readUInt16BE(at);
      at += 2;
      if (length === 0 || at + length > record.length) fail("truncated NAL unit");
      const list = byType.get(type) ?? [];
      list.push(Buffer.from(record.subarray(at, at + length)));
      byType.set(type, list);
      at += length;
    }
  }
  const vps = byType.get(HEVC_NAL_TYPE.vps) ?? [];
  const sps = byType.get(HEVC_NAL_TYPE.sps) ?? [];
  const pps = byType.get(HEVC_NAL_TYPE.pps) ?? [];
  if (vps.length + sps.length + pps.length === 0) return inBand("hevc", nalUnitLengthSize);
  if (vps.length === 0 || sps.length === 0 || pps.length === 0) fail("no VPS, SPS or PPS");
  return { codec: "hevc", nalUnitLengthSize, sets: [...vps, ...sps, ...pps] };
}

function readLength(frame: Uint8Array, at: number, size: number): number {
  switch (size) {
    case 1:
      return frame[at];
    case 2:
      return (frame[at] << 8) | frame[at + 1];
    default:
      return ((frame[at] << 24) | (frame[at + 1] << 16) | (frame[at + 2] << 8) | frame[at + 3]) >>> 0;
  }
}

/**
 * Whether a frame of a stream with in-band parameter sets is Annex B (starts with a 00 00 01 or
 * 00 00 00 01 start code) rather than length-prefixed: a start code that does not also read as a
 * whole chain of `lengthSize` NAL unit lengths, each to a NAL unit with forbidden_zero_bit 0.
 */
export function isAnnexBFrame(frame: Uint8Array, lengthSize: number): boolean {
  if (frame.length < 4 || frame[0] !== 0 || frame[1] !== 0) return false;
  if (frame[2] !== 1 && (frame[2] !== 0 || frame[3] !== 1)) return false;
  let at = 0;
  while (at + lengthSize <= frame.length) {
    const length = readLength(frame, at, lengthSize);
    at += lengthSize;
    if (length === 0 || at + length > frame.length || (frame[at] & 0x80) !== 0) return true;
    at += length;
  }
  return at !== frame.length;
}

/**
 * Appends the [start, end) byte range of each NAL unit of a frame to `starts` and `ends`: behind
 * `lengthSize`-byte lengths (empty units skipped; throws `HlsError` (truncated) when a length runs
 * past the end), or, when `annexB`, between start codes (trailing zero bytes left out; bytes before
 * the first start code ignored).
 */
export function findNalUnits(
  frame: Uint8Array,
  lengthSize: number,
  annexB: boolean,
  starts: number[],
  ends: number[],
): void {
  if (annexB) {
    let start = -1;
    const last = frame.length - 2;
    for (let at = 0; at < last; at++) {
      if (frame[at + 2] > 1) {
        at += 2; // no start code can begin at at, at + 1 or at + 2
        continue;
      }
      if (frame[at] !== 0 || frame[at + 1] !== 0 || frame[at + 2] !== 1) continue;
      if (start >= 0) pushTrimmed(frame, start, at, starts, ends);
      start = at + 3;
      at += 2;
    }
    if (start >= 0) pushTrimmed(frame, start, frame.length, starts, ends);
    return;
  }
  for (let at = 0; at < frame.length; ) {
    if (at + lengthSize > frame.length) {
      throw new HlsError(HlsErrorCode.truncated, `a NAL unit length at byte ${at} runs past the frame`);
    }
    const length = readLength(frame, at, lengthSize);
    const start = at + lengthSize;
    const end = start + length;
    if (end > frame.length) {
      throw new HlsError(
        HlsErrorCode.truncated,
        `a NAL unit of ${length} bytes at byte ${at} runs past the frame`,
      );
    }
    at = end;
    if (length === 0) continue;
    starts.push(start);
    ends.push(end);
  }
}

function pushTrimmed(frame: Uint8Array, start: number, end: number, starts: number[], ends: number[]): void {
  while (end > start && frame[end - 1] === 0) end -= 1;
  if (end === start) return;
  starts.push(start);
  ends.push(end);
}

function isCopyOf(frame: Uint8Array, start: number, end: number, sets: Buffer[]): boolean {
  for (const set of sets)
    if (set.length === end - start && set.equals(frame.subarray(start, end))) return true;
  return false;
}

export interface AnnexBAccessUnit {
  /** Annex B bytes: AUD, parameter sets when `idr`, then the frame's NAL units. */
  bytes: Buffer;
  /** The access unit holds an IDR slice (H.264 NAL type 5) or an IRAP picture (HEVC NAL types 16 to 23). */
  idr: boolean;
}

/**
 * One access unit in Annex B form, written after `reserve` bytes left free at the front of the result
 * (room for a PES header). Parameter sets go in when the frame has an IDR/IRAP picture or `keyframe` is set.
 * Throws `HlsError` (truncated) when a NAL unit length runs past the end of the frame.
 */
export function toAnnexB(
  frame: Uint8Array,
  params: ParameterSets,
  keyframe: boolean,
  reserve = 0,
): AnnexBAccessUnit {
  const size = params.nalUnitLengthSize;
  const hevc = params.codec === "hevc";
  // First pass: find the NAL units, which to keep, and whether there is an IDR.
  const starts: number[] = [];
  const ends: number[] = [];
  // Only streams whose record had no parameter sets are checked for Annex B frames.
  findNalUnits(frame, size, params.sets.length === 0 && isAnnexBFrame(frame, size), starts, ends);
  let idr = false;
  let kept = 0;
  let keep = 0;
  for (let i = 0; i < starts.length; i++) {
    const start = starts[i];
    const end = ends[i];
    const length = end - start;
    if (hevc) {
      const type = (frame[start] >> 1) & 0x3f;
      if (type >= HEVC_NAL_TYPE.irapFirst && type <= HEVC_NAL_TYPE.irapLast) idr = true;
      if (type === HEVC_NAL_TYPE.aud) continue;
      if (type >= HEVC_NAL_TYPE.vps && type <= HEVC_NAL_TYPE.pps && isCopyOf(frame, start, end, params.sets))
        continue;
    } else {
      const type = frame[start] & 0x1f;
      if (type === NAL_TYPE.idr) idr = true;
      if (type === NAL_TYPE.aud) continue;
      if ((type === NAL_TYPE.sps || type === NAL_TYPE.pps) && isCopyOf(frame, start, end, params.sets))
        continue;
    }
    starts[keep] = start;
    ends[keep] = end;
    keep += 1;
    kept += START_CODE_LENGTH + length;
  }
  starts.length = keep;
  ends.length = keep;
  const withSets = idr || keyframe;
  const aud = hevc ? HEVC_AUD : AVC_AUD;
  let total = reserve + aud.length + kept;
  if (withSets) for (const set of params.sets) total += START_CODE_LENGTH + set.length;
  const bytes = Buffer.allocUnsafe(total);
  let out = reserve;
  out += aud.copy(bytes, out);
  const put = (source: Uint8Array, start: number, end: number): void => {
    bytes[out] = 0;
    bytes[out + 1] = 0;
    bytes[out + 2] = 0;
    bytes[out + 3] = 1;
    bytes.set(source.subarray(start, end), out + 4);
    out += 4 + end - start;
  };
  if (withSets) for (const set of params.sets) put(set, 0, set.length);
  for (let i = 0; i < starts.length; i++) put(frame, starts[i], ends[i]);
  return { bytes, idr };
}
