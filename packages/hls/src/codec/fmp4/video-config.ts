/**
 * What the fMP4 video sample entry needs from a sequence header: the decoder configuration record
 * itself (written byte for byte as avcC/hvcC), the picture size from the first SPS, and the RFC 6381
 * codec string.
 *
 * HEVC SPS (H.265 7.3.2.2), as far as the picture size:
 *
 *   nal_unit_header:16 sps_video_parameter_set_id:4 sps_max_sub_layers_minus1:3 temporal_id_nesting:1
 *   profile_tier_level: general_profile_space:2 tier:1 profile_idc:5 compatibility_flags:32
 *                       constraint_flags:48 level_idc:8 (the same 12 bytes as hvcC bytes 1..12)
 *                       { sub_layer_profile_present:1 sub_layer_level_present:1 }[max_sub_layers_minus1]
 *                       [reserved:2 up to 8 entries] { profile:88 }? { level:8 }? per sub-layer
 *   sps_seq_parameter_set_id:ue chroma_format_idc:ue [3 → separate_colour_plane:1]
 *   pic_width_in_luma_samples:ue pic_height_in_luma_samples:ue
 *   conformance_window_flag:1 [left:ue right:ue top:ue bottom:ue] (in chroma units)
 *   bit_depth_luma_minus8:ue bit_depth_chroma_minus8:ue
 *
 * hvc1 codec string (ISO/IEC 14496-15 E.3): hvc1.[A-C]profile_idc.reversed-compatibility-hex.(L|H)level
 * then each constraint byte in hex, trailing zero bytes left out: "hvc1.1.6.L93.B0".
 *
 * In-band parameter sets: when the sequence header's avcC has no SPS/PPS, the muxer builds one from
 * those a keyframe carries ({@link buildAvcConfigRecord}): the H.264 SPS (7.3.2.1.1) gives
 *
 *   nal_unit_header:8 profile_idc:8 constraint_flags:8 level_idc:8 seq_parameter_set_id:ue
 *   [profile_idc 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
 *    chroma_format_idc:ue [3 → separate_colour_plane_flag:1] bit_depth_luma_minus8:ue bit_depth_chroma_minus8:ue]
 *
 * and the record after the PPS ends, for profile_idc 100, 110, 122 and 144 (14496-15 5.3.3.1.2), with
 *   111111 chroma_format:2 11111 bit_depth_luma_minus8:3 11111 bit_depth_chroma_minus8:3 numOfSequenceParameterSetExt:8
 */
import { parseAvcDecoderConfig } from "@onair/flv";
import { HlsError, HlsErrorCode } from "../../errors.js";
import { HEVC_NAL_TYPE, parseAvcParameterSets, parseHevcParameterSets } from "../annex-b.js";
import { BitReader, BitstreamEnd, unescapeRbsp } from "./bit-reader.js";

export interface VideoConfig {
  codec: "avc1" | "hvc1";
  /** The AVCDecoderConfigurationRecord or HEVCDecoderConfigurationRecord, as the sequence header carried it. */
  record: Buffer;
  /** Bytes in each NAL unit length prefix of the frames (1, 2 or 4). */
  nalUnitLengthSize: number;
  /** Cropped picture size from the first SPS; 0 when it does not parse (decoders read the SPS themselves). */
  width: number;
  height: number;
  /** RFC 6381: "avc1.64001f", "hvc1.1.6.L93.B0". */
  codecString: string;
}

const hex2 = (byte: number): string => byte.toString(16).padStart(2, "0");

/** An avcC record from a sequence header; throws `HlsError` (avcConfig) when malformed. */
export function readAvcConfig(record: Buffer): VideoConfig {
  const { nalUnitLengthSize } = parseAvcParameterSets(record);
  let width = 0;
  let height = 0;
  try {
    const parsed = parseAvcDecoderConfig(record);
    width = parsed.width ?? 0;
    height = parsed.height ?? 0;
  } catch (cause) {
    throw new HlsError(HlsErrorCode.avcConfig, "AVC decoder configuration: too short", { cause });
  }
  return {
    codec: "avc1",
    record: Buffer.from(record),
    nalUnitLengthSize,
    width,
    height,
    codecString: `avc1.${hex2(record[1])}${hex2(record[2])}${hex2(record[3])}`,
  };
}

/** SPS profile_idc values whose SPS carries chroma_format_idc and the bit depths. */
const CHROMA_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);
/** profile_idc values whose avcC ends with the chroma/bit-depth fields. */
const EXTENDED_RECORD_PROFILES = new Set([100, 110, 122, 144]);

/**
 * An AVCDecoderConfigurationRecord (configurationVersion 1) for in-band parameter sets: profile,
 * compatibility and level from the first SPS, the SPS and PPS as given, and for High profiles the
 * chroma format and bit depths the SPS gives (4:2:0, 8 bits when it does not parse that far).
 * Throws `HlsError` (avcConfig) when there is no SPS or PPS, or one is too long for the record.
 */
export function buildAvcConfigRecord(sps: Buffer[], pps: Buffer[], nalUnitLengthSize: number): Buffer {
  const first = sps[0];
  if (first === undefined || first.length < 4 || pps.length === 0) {
    throw new HlsError(HlsErrorCode.avcConfig, "in-band parameter sets: no SPS or no PPS");
  }
  if (sps.length > 31 || pps.length > 255 || [...sps, ...pps].some((nal) => nal.length > 0xffff)) {
    throw new HlsError(HlsErrorCode.avcConfig, "in-band parameter sets: too many or too long for an avcC");
  }
  const profile = first[1];
  const parts: Buffer[] = [
    Buffer.from([1, profile, first[2], first[3], 0xfc | ((nalUnitLengthSize - 1) & 0x03), 0xe0 | sps.length]),
  ];
  const put = (nal: Buffer): void => {
    const length = Buffer.allocUnsafe(2);
    length.writeUInt16BE(nal.length);
    parts.push(length, nal);
  };
  for (const nal of sps) put(nal);
  parts.push(Buffer.from([pps.length]));
  for (const nal of pps) put(nal);
  if (EXTENDED_RECORD_PROFILES.has(profile)) {
    const { chromaFormat, bitDepthLuma, bitDepthChroma } = readAvcSpsFormat(first);
    parts.push(Buffer.from([0xfc | chromaFormat, 0xf8 | (bitDepthLuma - 8), 0xf8 | (bitDepthChroma - 8), 0]));
  }
  return Buffer.concat(parts);
}

/** chroma_format_idc and bit depths of an H.264 SPS; 4:2:0 at 8 bits when absent or unreadable. */
function readAvcSpsFormat(nal: Uint8Array): {
  chromaFormat: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
} {
  const format = { chromaFormat: 1, bitDepthLuma: 8, bitDepthChroma: 8 };
  const rbsp = unescapeRbsp(nal);
  if (rbsp.length < 5 || !CHROMA_PROFILES.has(rbsp[1])) return format;
  const reader = new BitReader(rbsp.subarray(4));
  try {
    reader.unsigned(); // seq_parameter_set_id
    const chromaFormat = reader.unsigned();
    if (chromaFormat === 3) reader.skip(1); // separate_colour_plane_flag
    const luma = reader.unsigned() + 8;
    const chroma = reader.unsigned() + 8;
    if (chromaFormat > 3 || luma > 15 || chroma > 15) return format;
    return { chromaFormat, bitDepthLuma: luma, bitDepthChroma: chroma };
  } catch (error) {
    if (error instanceof BitstreamEnd) return format;
    throw error;
  }
}

/** An hvcC record from a sequence header; throws `HlsError` (hevcConfig) when malformed. */
export function readHevcConfig(record: Buffer): VideoConfig {
  const { nalUnitLengthSize, sets } = parseHevcParameterSets(record);
  const sps = sets.find((nal) => ((nal[0] >> 1) & 0x3f) === HEVC_NAL_TYPE.sps);
  const parsed = sps === undefined ? undefined : readHevcSps(sps);
  // The codec string from the SPS's profile_tier_level; from the record's copy of it if the SPS does not parse.
  const profile = parsed?.profileTierLevel ?? record.subarray(1, 13);
  return {
    codec: "hvc1",
    record: Buffer.from(record),
    nalUnitLengthSize,
    width: parsed?.width ?? 0,
    height: parsed?.height ?? 0,
    codecString: hevcCodecString(profile),
  };
}

/**
 * An HEVCDecoderConfigurationRecord (14496-15 8.3.3.1.2) for in-band parameter sets: profile, tier,
 * level, chroma format, bit depths and sub-layers from the first SPS; min_spatial_segmentation,
 * parallelism and frame rates 0 (unknown); one complete array each of VPS, SPS and PPS. Throws
 * `HlsError` (hevcConfig) when one kind is missing, the SPS does not parse, or a set is too long.
 *
 *   version:8 general_profile_tier_level:96 1111 min_spatial_segmentation_idc:12 111111 parallelismType:2
 *   111111 chromaFormat:2 11111 bitDepthLumaMinus8:3 11111 bitDepthChromaMinus8:3 avgFrameRate:16
 *   constantFrameRate:2 numTemporalLayers:3 temporalIdNested:1 lengthSizeMinusOne:2 numOfArrays:8
 */
export function buildHevcConfigRecord(
  vps: Buffer[],
  sps: Buffer[],
  pps: Buffer[],
  nalUnitLengthSize: number,
): Buffer {
  const fail = (why: string): never => {
    throw new HlsError(HlsErrorCode.hevcConfig, `in-band parameter sets: ${why}`);
  };
  if (vps.length === 0 || sps.length === 0 || pps.length === 0) fail("no VPS, SPS or PPS");
  const info = readHevcSps(sps[0]) ?? fail("the SPS does not parse");
  const arrays = [
    [HEVC_NAL_TYPE.vps, vps],
    [HEVC_NAL_TYPE.sps, sps],
    [HEVC_NAL_TYPE.pps, pps],
  ] as const;
  const head = Buffer.alloc(23);
  head[0] = 1;
  head.set(info.profileTierLevel, 1);
  head.writeUInt16BE(0xf000, 13);
  head[15] = 0xfc;
  head[16] = 0xfc | info.chromaFormat;
  head[17] = 0xf8 | (info.bitDepthLuma - 8);
  head[18] = 0xf8 | (info.bitDepthChroma - 8);
  // avgFrameRate (19, 20) 0
  head[21] =
    ((info.subLayers & 0x07) << 3) | (info.temporalIdNesting ? 0x04 : 0) | ((nalUnitLengthSize - 1) & 0x03);
  head[22] = arrays.length;
  const parts: Buffer[] = [head];
  for (const [type, nals] of arrays) {
    if (nals.length > 0xffff) fail("too many parameter sets");
    const array = Buffer.alloc(3);
    array[0] = 0x80 | type; // array_completeness 1
    array.writeUInt16BE(nals.length, 1);
    parts.push(array);
    for (const nal of nals) {
      if (nal.length > 0xffff) fail("a parameter set too long for an hvcC");
      const length = Buffer.alloc(2);
      length.writeUInt16BE(nal.length);
      parts.push(length, nal);
    }
  }
  return Buffer.concat(parts);
}

/** "hvc1.…" from the 12 general profile_tier_level bytes. */
export function hevcCodecString(ptl: Uint8Array): string {
  const space = ["", "A", "B", "C"][ptl[0] >> 6];
  const tier = (ptl[0] & 0x20) !== 0 ? "H" : "L";
  const compatibility = ((ptl[1] << 24) | (ptl[2] << 16) | (ptl[3] << 8) | ptl[4]) >>> 0;
  let reversed = 0;
  for (let bit = 0; bit < 32; bit++) if ((compatibility >>> bit) & 1) reversed |= 1 << (31 - bit);
  let constraints = "";
  let last = 10;
  while (last >= 5 && ptl[last] === 0) last -= 1;
  for (let i = 5; i <= last; i++) constraints += `.${ptl[i].toString(16).toUpperCase()}`;
  return `hvc1.${space}${ptl[0] & 0x1f}.${(reversed >>> 0).toString(16).toUpperCase()}.${tier}${ptl[11]}${constraints}`;
}

export interface HevcSpsInfo {
  width: number;
  height: number;
  /** general profile_space … general_level_idc: 12 bytes. */
  profileTierLevel: Uint8Array;
  /** sps_max_sub_layers_minus1 + 1. */
  subLayers: number;
  temporalIdNesting: boolean;
  chromaFormat: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
}

/** Picture size and general profile from an HEVC SPS NAL unit; undefined when it does not parse. */
export function readHevcSps(nal: Uint8Array): HevcSpsInfo | undefined {
  const rbsp = unescapeRbsp(nal);
  if (rbsp.length < 15 || ((rbsp[0] >> 1) & 0x3f) !== HEVC_NAL_TYPE.sps) return undefined;
  const reader = new BitReader(rbsp.subarray(2));
  try {
    reader.skip(4); // sps_video_parameter_set_id
    const maxSubLayersMinus1 = reader.bits(3);
    const temporalIdNesting = reader.bits(1) === 1;
    reader.skip(96); // general profile_tier_level
    const profilePresent: boolean[] = [];
    const levelPresent: boolean[] = [];
    for (let i = 0; i < maxSubLayersMinus1; i++) {
      profilePresent.push(reader.bits(1) === 1);
      levelPresent.push(reader.bits(1) === 1);
    }
    if (maxSubLayersMinus1 > 0) reader.skip(2 * (8 - maxSubLayersMinus1));
    for (let i = 0; i < maxSubLayersMinus1; i++) {
      if (profilePresent[i]) reader.skip(88);
      if (levelPresent[i]) reader.skip(8);
    }
    reader.unsigned(); // sps_seq_parameter_set_id
    const chromaFormat = reader.unsigned();
    if (chromaFormat > 3) return undefined;
    const separateColourPlane = chromaFormat === 3 ? reader.bits(1) : 0;
    const picWidth = reader.unsigned();
    const picHeight = reader.unsigned();
    let [left, right, top, bottom] = [0, 0, 0, 0];
    if (reader.bits(1) === 1) {
      left = reader.unsigned();
      right = reader.unsigned();
      top = reader.unsigned();
      bottom = reader.unsigned();
    }
    const chromaArrayType = separateColourPlane === 1 ? 0 : chromaFormat;
    const subWidth = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
    const subHeight = chromaArrayType === 1 ? 2 : 1;
    const width = picWidth - subWidth * (left + right);
    const height = picHeight - subHeight * (top + bottom);
    if (width <= 0 || height <= 0 || width > 0xffff || height > 0xffff) return undefined;
    const bitDepthLuma = reader.unsigned() + 8;
    const bitDepthChroma = reader.unsigned() + 8;
    if (bitDepthLuma > 16 || bitDepthChroma > 16) return undefined;
    return {
      width,
      height,
      profileTierLevel: rbsp.slice(3, 15),
      subLayers: maxSubLayersMinus1 + 1,
      temporalIdNesting,
      chromaFormat,
      bitDepthLuma,
      bitDepthChroma,
    };
  } catch (error) {
    if (error instanceof BitstreamEnd) return undefined;
    throw error;
  }
}
