/**
 * H.264 from FLV/RTMP (AVC sample format, ISO/IEC 14496-15: each NAL unit behind a big-endian
 * length of 1, 2 or 4 bytes, as the avcC says) to the Annex B byte stream MPEG-TS carries
 * (ITU-T H.264 annex B: each NAL unit behind a 00 00 00 01 start code), one access unit at a time:
 *
 *   AUD (type 9, primary_pic_type 7: any slice) | SPS and PPS from the avcC, on IDR access units | the frame's NAL units
 *
 * The frame's own AUDs are dropped (one AUD per access unit, first), and so are SPS and PPS that are
 * byte for byte the ones from the avcC (they are written before every IDR anyway). An in-band SPS or
 * PPS that differs is kept where it was.
 *
 * AVCDecoderConfigurationRecord (14496-15 5.3.3.1):
 *   configurationVersion:8 profile:8 compatibility:8 level:8 111111 lengthSizeMinusOne:2
 *   111 numOfSequenceParameterSets:5 { length:16 SPS }* numOfPictureParameterSets:8 { length:16 PPS }*
 */
import { HlsError, HlsErrorCode } from "../errors.js";

const START_CODE = [0, 0, 0, 1] as const;
const AUD = Buffer.from([0, 0, 0, 1, 0x09, 0xf0]);
export const NAL_TYPE = { idr: 5, sps: 7, pps: 8, aud: 9 } as const;

export interface AvcParameterSets {
  /** Bytes in each NAL unit length prefix (1, 2 or 4). */
  nalUnitLengthSize: number;
  sps: Buffer[];
  pps: Buffer[];
}

/** The NAL length size and parameter sets of an AVCDecoderConfigurationRecord; throws `HlsError` (avcConfig) if malformed. */
export function parseAvcParameterSets(record: Buffer): AvcParameterSets {
  const fail = (why: string): never => {
    throw new HlsError(HlsErrorCode.avcConfig, `AVC decoder configuration: ${why}`);
  };
  if (record.length < 7) fail(`${record.length} bytes is too short`);
  const nalUnitLengthSize = (record[4] & 0x03) + 1;
  if (nalUnitLengthSize === 3) fail("a NAL unit length size of 3 is not allowed");
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
  return { nalUnitLengthSize, sps, pps };
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

function isCopyOf(frame: Uint8Array, start: number, end: number, sets: Buffer[]): boolean {
  for (const set of sets)
    if (set.length === end - start && set.equals(frame.subarray(start, end))) return true;
  return false;
}

export interface AnnexBAccessUnit {
  /** Annex B bytes: AUD, parameter sets when `idr`, then the frame's NAL units. */
  bytes: Buffer;
  /** The access unit holds an IDR slice (NAL type 5). */
  idr: boolean;
}

/**
 * One access unit in Annex B form, written after `reserve` bytes left free at the front of the result
 * (room for a PES header). Parameter sets go in when the frame has an IDR slice or `keyframe` is set.
 * Throws `HlsError` (truncated) when a NAL unit length runs past the end of the frame.
 */
export function toAnnexB(
  frame: Uint8Array,
  params: AvcParameterSets,
  keyframe: boolean,
  reserve = 0,
): AnnexBAccessUnit {
  const size = params.nalUnitLengthSize;
  // First pass: find the NAL units, which to keep, and whether there is an IDR.
  const starts: number[] = [];
  const ends: number[] = [];
  let idr = false;
  let kept = 0;
  for (let at = 0; at < frame.length; ) {
    if (at + size > frame.length) {
      throw new HlsError(HlsErrorCode.truncated, `a NAL unit length at byte ${at} runs past the frame`);
    }
    const length = readLength(frame, at, size);
    const start = at + size;
    const end = start + length;
    if (end > frame.length) {
      throw new HlsError(
        HlsErrorCode.truncated,
        `a NAL unit of ${length} bytes at byte ${at} runs past the frame`,
      );
    }
    at = end;
    if (length === 0) continue;
    const type = frame[start] & 0x1f;
    if (type === NAL_TYPE.idr) idr = true;
    if (type === NAL_TYPE.aud) continue;
    if (type === NAL_TYPE.sps && isCopyOf(frame, start, end, params.sps)) continue;
    if (type === NAL_TYPE.pps && isCopyOf(frame, start, end, params.pps)) continue;
    starts.push(start);
    ends.push(end);
    kept += START_CODE.length + length;
  }
  const withSets = idr || keyframe;
  let total = reserve + AUD.length + kept;
  if (withSets) for (const set of [...params.sps, ...params.pps]) total += START_CODE.length + set.length;
  const bytes = Buffer.allocUnsafe(total);
  let out = reserve;
  out += AUD.copy(bytes, out);
  const put = (source: Uint8Array, start: number, end: number): void => {
    bytes[out] = 0;
    bytes[out + 1] = 0;
    bytes[out + 2] = 0;
    bytes[out + 3] = 1;
    bytes.set(source.subarray(start, end), out + 4);
    out += 4 + end - start;
  };
  if (withSets) {
    for (const set of params.sps) put(set, 0, set.length);
    for (const set of params.pps) put(set, 0, set.length);
  }
  for (let i = 0; i < starts.length; i++) put(frame, starts[i], ends[i]);
  return { bytes, idr };
}
