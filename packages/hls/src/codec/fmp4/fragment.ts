/**
 * A media fragment: one moof and one mdat (ISO/IEC 14496-12 8.8), written into one Buffer.
 *
 *   moof
 *     mfhd   sequence_number
 *     traf (one per track with samples, in the order given; their sample data follows in the same order in the mdat)
 *       tfhd   flags 0x020000 default-base-is-moof (+ 0x20 default_sample_flags for tracks without per-sample flags)
 *       tfdt   version 1: baseMediaDecodeTime:64
 *       trun   version 1 (signed composition offsets), flags data_offset 0x1 | duration 0x100 | size 0x200
 *              [| flags 0x400 | composition_time_offset 0x800 for video]; data_offset counts from the moof's first byte
 *   mdat   the samples of every traf, back to back
 *
 * Sample flags (8.8.3.1): sync = sample_depends_on 2 (0x02000000); others sample_depends_on 1 and
 * sample_is_non_sync_sample 1 (0x01010000).
 */
import { ByteOutput } from "../byte-output.js";
import { BOX_HEADER_LENGTH, FULL_BOX_HEADER_LENGTH, writeBoxHeader, writeFullBoxHeader } from "./boxes.js";

export const SAMPLE_FLAGS = { sync: 0x02000000, nonSync: 0x01010000 } as const;

const TFHD_DEFAULT_BASE_IS_MOOF = 0x020000;
const TFHD_DEFAULT_SAMPLE_FLAGS = 0x000020;
const TRUN_DATA_OFFSET = 0x000001;
const TRUN_DURATION = 0x000100;
const TRUN_SIZE = 0x000200;
const TRUN_FLAGS = 0x000400;
const TRUN_COMPOSITION_OFFSET = 0x000800;

export interface Fmp4Sample {
  /** The sample's bytes (for H.264/HEVC, length-prefixed NAL units). */
  data: Uint8Array;
  /** In the track's timescale, ≥ 0. */
  duration: number;
  /** PTS − DTS in the track's timescale (may be negative). */
  compositionOffset: number;
  /** A sync sample (keyframe). */
  sync: boolean;
}

export interface TrackFragment {
  trackId: number;
  /** tfdt: the decode time of the first sample, in the track's timescale (a safe integer ≥ 0). */
  baseMediaDecodeTime: number;
  /**
   * Per-sample flags and composition offsets (video). Without them (audio), every sample is a
   * sync sample by tfhd's default_sample_flags and its composition offset is 0.
   */
  perSampleFlags: boolean;
  samples: readonly Fmp4Sample[];
}

const MFHD_LENGTH = FULL_BOX_HEADER_LENGTH + 4;
const TFDT_LENGTH = FULL_BOX_HEADER_LENGTH + 8;

function tfhdLength(fragment: TrackFragment): number {
  return FULL_BOX_HEADER_LENGTH + 4 + (fragment.perSampleFlags ? 0 : 4);
}

function trunLength(fragment: TrackFragment): number {
  return FULL_BOX_HEADER_LENGTH + 8 + fragment.samples.length * (fragment.perSampleFlags ? 16 : 8);
}

function trafLength(fragment: TrackFragment): number {
  return BOX_HEADER_LENGTH + tfhdLength(fragment) + TFDT_LENGTH + trunLength(fragment);
}

/**
 * moof + mdat for the given track fragments (those without samples are left out). Throws
 * `RangeError` if a duration or the mdat does not fit in 32 bits.
 */
export function encodeFragment(sequenceNumber: number, fragments: readonly TrackFragment[]): Buffer {
  const output = new ByteOutput();
  encodeFragmentInto(output, sequenceNumber, fragments);
  return output.buffer; // an empty output grows to exactly the fragment
}

/**
 * {@link encodeFragment}, written at the end of `output` (the sample data copied once, into the
 * mdat); returns its length. Throws `RangeError` as encodeFragment does, leaving `output` as it was.
 */
export function encodeFragmentInto(
  output: ByteOutput,
  sequenceNumber: number,
  fragments: readonly TrackFragment[],
): number {
  const trafs = fragments.filter((f) => f.samples.length > 0);
  let moofLength = BOX_HEADER_LENGTH + MFHD_LENGTH;
  let dataLength = 0;
  for (const traf of trafs) {
    moofLength += trafLength(traf);
    for (const sample of traf.samples) dataLength += sample.data.length;
  }
  const mdatLength = BOX_HEADER_LENGTH + dataLength;
  if (mdatLength > 0xffffffff) throw new RangeError(`an mdat of ${mdatLength} bytes`);
  const length = moofLength + mdatLength;
  const origin = output.reserve(length);
  const out = output.buffer;

  try {
    let at = writeBoxHeader(out, origin, moofLength, "moof");
    at = writeFullBoxHeader(out, at, MFHD_LENGTH, "mfhd", 0, 0);
    out.writeUInt32BE(sequenceNumber >>> 0, at);
    at += 4;
    let dataOffset = moofLength + BOX_HEADER_LENGTH; // the first sample byte, counted from the moof
    for (const traf of trafs) {
      at = writeBoxHeader(out, at, trafLength(traf), "traf");
      const flags = traf.perSampleFlags ? 0 : TFHD_DEFAULT_SAMPLE_FLAGS;
      at = writeFullBoxHeader(out, at, tfhdLength(traf), "tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF | flags);
      out.writeUInt32BE(traf.trackId, at);
      at += 4;
      if (!traf.perSampleFlags) {
        out.writeUInt32BE(SAMPLE_FLAGS.sync, at);
        at += 4;
      }
      at = writeFullBoxHeader(out, at, TFDT_LENGTH, "tfdt", 1, 0);
      out.writeBigUInt64BE(BigInt(traf.baseMediaDecodeTime), at);
      at += 8;
      const trunFlags =
        TRUN_DATA_OFFSET |
        TRUN_DURATION |
        TRUN_SIZE |
        (traf.perSampleFlags ? TRUN_FLAGS | TRUN_COMPOSITION_OFFSET : 0);
      at = writeFullBoxHeader(out, at, trunLength(traf), "trun", 1, trunFlags);
      out.writeUInt32BE(traf.samples.length, at);
      out.writeInt32BE(dataOffset, at + 4);
      at += 8;
      for (const sample of traf.samples) {
        out.writeUInt32BE(sample.duration, at);
        out.writeUInt32BE(sample.data.length, at + 4);
        at += 8;
        if (traf.perSampleFlags) {
          out.writeUInt32BE(sample.sync ? SAMPLE_FLAGS.sync : SAMPLE_FLAGS.nonSync, at);
          out.writeInt32BE(sample.compositionOffset, at + 4);
          at += 8;
        }
        dataOffset += sample.data.length;
      }
    }
    at = writeBoxHeader(out, at, mdatLength, "mdat");
    for (const traf of trafs) {
      for (const sample of traf.samples) {
        out.set(sample.data, at);
        at += sample.data.length;
      }
    }
  } catch (error) {
    output.length = origin; // a value that does not fit its field: nothing is kept
    throw error;
  }
  return length;
}
