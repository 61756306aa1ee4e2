/**
 * MPEG-TS building blocks (ISO/IEC 13818-1 / ITU-T H.222.0): 188-byte transport packets, PSI
 * sections (PAT, PMT), PES headers, 33-bit 90 kHz timestamps and the PCR.
 *
 *   TS packet: sync 0x47 | TEI:1 PUSI:1 priority:1 PID:13 | scrambling:2 adaptationFieldControl:2 continuityCounter:4
 *              [adaptation field: length:8 | discontinuity:1 randomAccess:1 esPriority:1 PCR:1 OPCR:1 splice:1
 *               private:1 extension:1 | PCR base:33 reserved:6 extension:9 | stuffing 0xFF*] | payload
 *
 * A PES packet is cut into TS packets; the last one is filled up to 188 bytes by stuffing in its
 * adaptation field (never by padding the payload, which would corrupt the elementary stream).
 */
import { crc32Mpeg2 } from "./crc32.js";

export const TS_PACKET_SIZE = 188;
export const TS_SYNC_BYTE = 0x47;
const TS_HEADER_LENGTH = 4;
const TS_PAYLOAD_SIZE = TS_PACKET_SIZE - TS_HEADER_LENGTH;
/** 2^33: PTS, DTS and the PCR base wrap here (26.5 hours at 90 kHz). */
export const TIMESTAMP_WRAP = 2 ** 33;
const TWO_30 = 2 ** 30;

/** A value of the 90 kHz clock, wrapped to 33 bits (negative values wrap too). */
export function wrap33(value: number): number {
  const wrapped = value % TIMESTAMP_WRAP;
  return wrapped < 0 ? wrapped + TIMESTAMP_WRAP : wrapped;
}

/**
 * Writes a 33-bit PTS or DTS in the PES header's 5-byte form at `target[offset]`:
 *   prefix:4 ts[32..30]:3 marker:1 | ts[29..15]:15 marker:1 | ts[14..0]:15 marker:1
 * `prefix` is 0b0010 for a PTS alone, 0b0011 for a PTS followed by a DTS, 0b0001 for that DTS.
 */
export function writePesTimestamp(target: Uint8Array, offset: number, prefix: number, value: number): void {
  const ts = wrap33(value);
  const high = Math.floor(ts / TWO_30); // bits 32..30
  const low = ts - high * TWO_30; // bits 29..0
  target[offset] = (prefix << 4) | (high << 1) | 1;
  target[offset + 1] = low >>> 22;
  target[offset + 2] = ((low >>> 14) & 0xfe) | 1;
  target[offset + 3] = (low >>> 7) & 0xff;
  target[offset + 4] = ((low << 1) & 0xfe) | 1;
}

/** Reads a timestamp written by {@link writePesTimestamp}. */
export function readPesTimestamp(source: Uint8Array, offset: number): number {
  const high = (source[offset] >> 1) & 0x07;
  const low =
    source[offset + 1] * 2 ** 22 +
    (source[offset + 2] >> 1) * 2 ** 15 +
    source[offset + 3] * 2 ** 7 +
    (source[offset + 4] >> 1);
  return high * TWO_30 + low;
}

/** Writes a PCR (base:33, reserved 111111, extension:9 = 0) in its 6-byte form. */
export function writePcr(target: Uint8Array, offset: number, base: number): void {
  const pcr = wrap33(base);
  const top = Math.floor(pcr / 2); // bits 32..1, fits 32 bits
  target[offset] = top >>> 24;
  target[offset + 1] = (top >>> 16) & 0xff;
  target[offset + 2] = (top >>> 8) & 0xff;
  target[offset + 3] = top & 0xff;
  target[offset + 4] = ((pcr % 2) << 7) | 0x7e;
  target[offset + 5] = 0;
}

/** Reads the PCR base of a 6-byte PCR field. */
export function readPcrBase(source: Uint8Array, offset: number): number {
  return (
    (source[offset] * 2 ** 24 + (source[offset + 1] << 16) + (source[offset + 2] << 8) + source[offset + 3]) *
      2 +
    (source[offset + 4] >> 7)
  );
}

/** One PSI section in one TS packet: pointer_field 0, the section, its CRC, 0xFF to the end. */
function psiPacket(pid: number, continuityCounter: number, section: number[]): Buffer {
  const packet = Buffer.alloc(TS_PACKET_SIZE, 0xff);
  packet[0] = TS_SYNC_BYTE;
  packet[1] = 0x40 | (pid >> 8); // PUSI
  packet[2] = pid & 0xff;
  packet[3] = 0x10 | (continuityCounter & 0x0f); // payload only
  packet[4] = 0; // pointer_field
  packet.set(section, 5);
  packet.writeUInt32BE(crc32Mpeg2(packet, 5, 5 + section.length), 5 + section.length);
  return packet;
}

/** The syntax fields common to PAT and PMT after section_length: id:16, reserved:2 version:5 current:1, section 0 of 0. */
function sectionHeader(tableId: number, bodyLength: number, id: number, version: number): number[] {
  const sectionLength = 5 + bodyLength + 4; // after section_length: header rest, body, CRC
  return [
    tableId,
    0xb0 | (sectionLength >> 8), // section_syntax_indicator 1, '0', reserved 11
    sectionLength & 0xff,
    id >> 8,
    id & 0xff,
    0xc1 | ((version & 0x1f) << 1), // reserved 11, version, current_next_indicator 1
    0, // section_number
    0, // last_section_number
  ];
}

/** PAT (table 0 on PID 0): transport_stream_id 1, program 1 on `pmtPid`. */
export function encodePat(pmtPid: number, version: number, continuityCounter: number): Buffer {
  const body = [0x00, 0x01, 0xe0 | (pmtPid >> 8), pmtPid & 0xff];
  return psiPacket(0, continuityCounter, [...sectionHeader(0x00, body.length, 1, version), ...body]);
}

export interface PmtStream {
  streamType: number;
  pid: number;
}

/** PMT (table 2) of program 1: the PCR PID, no program descriptors, the streams without descriptors. */
export function encodePmt(
  pmtPid: number,
  pcrPid: number,
  streams: readonly PmtStream[],
  version: number,
  continuityCounter: number,
): Buffer {
  const body = [0xe0 | (pcrPid >> 8), pcrPid & 0xff, 0xf0, 0x00];
  for (const { streamType, pid } of streams) body.push(streamType, 0xe0 | (pid >> 8), pid & 0xff, 0xf0, 0x00);
  return psiPacket(pmtPid, continuityCounter, [...sectionHeader(0x02, body.length, 1, version), ...body]);
}

export interface PesTimestamps {
  /** 90 kHz, wrapped to 33 bits when written. */
  pts: number;
  /** Written only when it differs from `pts`. */
  dts: number;
}

/** Bytes of the PES header {@link writePesHeader} writes. */
export function pesHeaderLength(timestamps: PesTimestamps): number {
  return 9 + (wrap33(timestamps.pts) === wrap33(timestamps.dts) ? 5 : 10);
}

/**
 * Writes a PES header at the front of `pes` (whose payload follows it):
 *   00 00 01 stream_id:8 PES_packet_length:16 | '10' scrambling:2 priority:1 dataAlignment:1 copyright:1 original:1
 *   PTS_DTS_flags:2 ESCR:1 ES_rate:1 DSM:1 copyInfo:1 CRC:1 extension:1 | header_data_length:8 | PTS [DTS]
 * `boundedLength`: write the PES_packet_length (audio); otherwise 0, unbounded (video, and anything over 65535).
 */
export function writePesHeader(
  pes: Buffer,
  streamId: number,
  timestamps: PesTimestamps,
  boundedLength: boolean,
): number {
  const headerLength = pesHeaderLength(timestamps);
  const withDts = headerLength === 19;
  const packetLength = pes.length - 6;
  pes[0] = 0;
  pes[1] = 0;
  pes[2] = 1;
  pes[3] = streamId;
  pes.writeUInt16BE(boundedLength && packetLength <= 0xffff ? packetLength : 0, 4);
  pes[6] = 0x84; // '10', data_alignment_indicator
  pes[7] = withDts ? 0xc0 : 0x80;
  pes[8] = headerLength - 9;
  writePesTimestamp(pes, 9, withDts ? 0b0011 : 0b0010, timestamps.pts);
  if (withDts) writePesTimestamp(pes, 14, 0b0001, timestamps.dts);
  return headerLength;
}

export interface PacketizeOptions {
  pid: number;
  /** The PID's continuity counter for the first packet; the counter after the last one is returned. */
  continuityCounter: number;
  /** A PCR base (90 kHz) for the first packet's adaptation field. */
  pcr?: number;
  /** Set random_access_indicator in the first packet (an IDR, or any audio frame). */
  randomAccess?: boolean;
}

/** Cuts a whole PES packet into 188-byte TS packets (one Buffer); returns them and the next continuity counter. */
export function packetizePes(
  pes: Uint8Array,
  options: PacketizeOptions,
): { bytes: Buffer; continuityCounter: number } {
  const { pid } = options;
  const pcr = options.pcr;
  const firstFlags = pcr !== undefined || options.randomAccess === true;
  // The first packet's adaptation field (length byte, flags, PCR) before any stuffing.
  const firstAdaptation = firstFlags ? 2 + (pcr !== undefined ? 6 : 0) : 0;
  const firstCapacity = TS_PAYLOAD_SIZE - firstAdaptation;
  const count =
    pes.length <= firstCapacity ? 1 : 1 + Math.ceil((pes.length - firstCapacity) / TS_PAYLOAD_SIZE);
  const bytes = Buffer.allocUnsafe(count * TS_PACKET_SIZE);
  let cc = options.continuityCounter & 0x0f;
  let read = 0;
  for (let index = 0; index < count; index++) {
    const p = index * TS_PACKET_SIZE;
    const first = index === 0;
    const remaining = pes.length - read;
    // Adaptation field content length (after its length byte), and whether there is one at all.
    let adaptation = first && firstFlags ? firstAdaptation - 1 : -1; // -1: none
    const room = TS_PAYLOAD_SIZE - (adaptation >= 0 ? adaptation + 1 : 0);
    if (remaining < room) adaptation += room - remaining; // stuffing (none → length byte alone when 1 short)
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
        if (first && options.randomAccess === true) flags |= 0x40;
        if (first && pcr !== undefined) flags |= 0x10;
        bytes[at++] = flags;
        if (first && pcr !== undefined) {
          writePcr(bytes, at, pcr);
          at += 6;
        }
        bytes.fill(0xff, at, end);
      }
      at = end;
    }
    const take = p + TS_PACKET_SIZE - at;
    bytes.set(pes.subarray(read, read + take), at);
    read += take;
  }
  return { bytes, continuityCounter: cc };
}
