/**
 * PES packets written straight into 188-byte TS packets from the pieces of their payload
 * (scatter-gather): the PES header, an AUD, start codes, parameter sets and the frame's own NAL
 * units (or the ADTS header and the raw AAC frame) are copied once, each into the packets' payload,
 * with no Annex B or PES buffer in between. The bytes are those of `toAnnexB` + `writePesHeader`
 * + `packetizePes` (tests compare both paths).
 *
 * Output goes to a {@link ByteOutput}: one growable Buffer, so a whole segment can be written into
 * one allocation (the segmenter sizes it from the previous segment) and kept as is.
 */
import { findNalUnits, HEVC_NAL_TYPE, isAnnexBFrame, NAL_TYPE, type ParameterSets } from "./annex-b.js";
import type { ByteOutput } from "./byte-output.js";
import { TS_PACKET_SIZE, TS_SYNC_BYTE, writePcr } from "./ts-packet.js";

const TS_HEADER_LENGTH = 4;
const TS_PAYLOAD_SIZE = TS_PACKET_SIZE - TS_HEADER_LENGTH;
/** Pieces up to this long are copied byte by byte (cheaper than a view and a memcpy call). */
const SMALL_COPY = 24;
const START_CODE = Buffer.from([0, 0, 0, 1]);
const AVC_AUD = Buffer.from([0, 0, 0, 1, 0x09, 0xf0]);
/** nal_unit_type 35, nuh_layer_id 0, nuh_temporal_id_plus1 1 | pic_type 2, rbsp_stop_one_bit. */
const HEVC_AUD = Buffer.from([0, 0, 0, 1, 0x46, 0x01, 0x50]);

const EMPTY = Buffer.alloc(0);

/**
 * The payload of one PES packet as a list of byte ranges of Buffers, in order. Reused from frame to
 * frame (its arrays only grow).
 */
export class PesPieces {
  readonly sources: Buffer[] = [];
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  count = 0;
  /** Bytes of all pieces. */
  total = 0;

  clear(): void {
    this.count = 0;
    this.total = 0;
  }

  add(source: Buffer, start: number, end: number): void {
    const i = this.count;
    this.sources[i] = source;
    this.starts[i] = start;
    this.ends[i] = end;
    this.count = i + 1;
    this.total += end - start;
  }

  /** Drops the references to the sources (so frames are not kept alive by the muxer). */
  release(): void {
    for (let i = 0; i < this.count; i++) this.sources[i] = EMPTY;
    this.count = 0;
    this.total = 0;
  }
}

const nalStarts: number[] = [];
const nalEnds: number[] = [];

/**
 * Adds one access unit in Annex B form to `pieces`, as `toAnnexB` writes it: the AUD, the
 * parameter sets when the frame has an IDR/IRAP picture or `keyframe` is set, then the frame's NAL
 * units behind start codes (its own AUDs and copies of the record's parameter sets dropped).
 * Returns whether the access unit holds an IDR/IRAP picture. Throws `HlsError` (truncated) when a
 * NAL unit length runs past the end of the frame, before adding anything.
 */
export function addAnnexBAccessUnit(
  pieces: PesPieces,
  frame: Buffer,
  params: ParameterSets,
  keyframe: boolean,
): boolean {
  const size = params.nalUnitLengthSize;
  const hevc = params.codec === "hevc";
  const sets = params.sets;
  nalStarts.length = 0;
  nalEnds.length = 0;
  // Only streams whose record had no parameter sets are checked for Annex B frames.
  findNalUnits(frame, size, sets.length === 0 && isAnnexBFrame(frame, size), nalStarts, nalEnds);
  let idr = false;
  let keep = 0;
  for (let i = 0; i < nalStarts.length; i++) {
    const start = nalStarts[i];
    const end = nalEnds[i];
    if (hevc) {
      const type = (frame[start] >> 1) & 0x3f;
      if (type >= HEVC_NAL_TYPE.irapFirst && type <= HEVC_NAL_TYPE.irapLast) idr = true;
      if (type === HEVC_NAL_TYPE.aud) continue;
      if (type >= HEVC_NAL_TYPE.vps && type <= HEVC_NAL_TYPE.pps && isCopyOf(frame, start, end, sets))
        continue;
    } else {
      const type = frame[start] & 0x1f;
      if (type === NAL_TYPE.idr) idr = true;
      if (type === NAL_TYPE.aud) continue;
      if ((type === NAL_TYPE.sps || type === NAL_TYPE.pps) && isCopyOf(frame, start, end, sets)) continue;
    }
    nalStarts[keep] = start;
    nalEnds[keep] = end;
    keep += 1;
  }
  const aud = hevc ? HEVC_AUD : AVC_AUD;
  pieces.add(aud, 0, aud.length);
  if (idr || keyframe) {
    for (const set of sets) {
      pieces.add(START_CODE, 0, START_CODE.length);
      pieces.add(set, 0, set.length);
    }
  }
  for (let i = 0; i < keep; i++) {
    pieces.add(START_CODE, 0, START_CODE.length);
    pieces.add(frame, nalStarts[i], nalEnds[i]);
  }
  return idr;
}

function isCopyOf(frame: Buffer, start: number, end: number, sets: Buffer[]): boolean {
  const length = end - start;
  for (const set of sets) {
    if (set.length === length && frame.compare(set, 0, length, start, end) === 0) return true;
  }
  return false;
}

/** Copies the pieces back to back into `target` from `offset`. */
function gather(pieces: PesPieces, target: Buffer, offset: number): void {
  const { sources, starts, ends } = pieces;
  let at = offset;
  for (let i = 0; i < pieces.count; i++) {
    const source = sources[i];
    const start = starts[i];
    const n = ends[i] - start;
    if (n > SMALL_COPY) source.copy(target, at, start, start + n);
    else for (let k = 0; k < n; k++) target[at + k] = source[start + k];
    at += n;
  }
}

export interface PesPacketOptions {
  pid: number;
  /** The PID's continuity counter for the first packet. */
  continuityCounter: number;
  /** A PCR base (90 kHz) for the first packet's adaptation field (-1: none). */
  pcr: number;
  /** Set random_access_indicator in the first packet. */
  randomAccess: boolean;
}

/** Bytes of the TS packets {@link writePesPackets} writes for a PES packet of `pesLength` bytes. */
export function pesPacketsLength(pesLength: number, pcr: boolean, randomAccess: boolean): number {
  const firstAdaptation = pcr || randomAccess ? 2 + (pcr ? 6 : 0) : 0;
  const firstCapacity = TS_PAYLOAD_SIZE - firstAdaptation;
  const count = pesLength <= firstCapacity ? 1 : 1 + Math.ceil((pesLength - firstCapacity) / TS_PAYLOAD_SIZE);
  return count * TS_PACKET_SIZE;
}

/**
 * Writes the PES packet made of `pieces` as TS packets at the end of `out` (the packets of
 * `packetizePes`: PUSI on the first, its adaptation field with the flags and PCR, stuffing in the
 * last one's adaptation field). Returns the continuity counter after the last packet.
 */
export function writePesPackets(out: ByteOutput, pieces: PesPieces, options: PesPacketOptions): number {
  const { pid, pcr, randomAccess } = options;
  const withPcr = pcr >= 0;
  const pesLength = pieces.total;
  const firstFlags = withPcr || randomAccess;
  const firstAdaptation = firstFlags ? 2 + (withPcr ? 6 : 0) : 0;
  const size = pesPacketsLength(pesLength, withPcr, randomAccess);
  const count = size / TS_PACKET_SIZE;
  const origin = out.reserve(size);
  const bytes = out.buffer;
  // The payload is first gathered at the end of the packets' room (one copy per piece), then each
  // packet's share is moved forward into place (copyWithin: no view per packet; a packet's payload
  // never lies after what is still to be moved, so nothing unread is overwritten).
  const tail = origin + size - pesLength;
  gather(pieces, bytes, tail);
  let cc = options.continuityCounter & 0x0f;
  let read = 0;
  for (let index = 0; index < count; index++) {
    const p = origin + index * TS_PACKET_SIZE;
    const first = index === 0;
    const remaining = pesLength - read;
    let adaptation = first && firstFlags ? firstAdaptation - 1 : -1; // -1: none
    const room = TS_PAYLOAD_SIZE - (adaptation >= 0 ? adaptation + 1 : 0);
    if (remaining < room) adaptation += room - remaining;
    bytes[p] = TS_SYNC_BYTE;
    bytes[p + 1] = (first ? 0x40 : 0) | (pid >> 8);
    bytes[p + 2] = pid & 0xff;
    bytes[p + 3] = (adaptation >= 0 ? 0x30 : 0x10) | cc;
    cc = (cc + 1) & 0x0f;
    let at = p + TS_HEADER_LENGTH;
    if (adaptation >= 0) {
      const end = at + 1 + adaptation;
      bytes[at++] = adaptation;
      if (adaptation > 0) {
        let flags = 0;
        if (first && randomAccess) flags |= 0x40;
        if (first && withPcr) flags |= 0x10;
        bytes[at++] = flags;
        if (first && withPcr) {
          writePcr(bytes, at, pcr);
          at += 6;
        }
        bytes.fill(0xff, at, end);
      }
      at = end;
    }
    const take = p + TS_PACKET_SIZE - at;
    if (at !== tail + read) bytes.copyWithin(at, tail + read, tail + read + take);
    read += take;
  }
  return cc;
}
