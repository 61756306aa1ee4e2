/**
 * FLV file writing (Adobe FLV spec v10.1, annex E.2 and E.3):
 *
 *   header      "FLV" version:8 flags:8 (0x04 audio, 0x01 video) dataOffset:32 (= 9)
 *               then PreviousTagSize0:32 = 0
 *   each tag    reserved:2 filter:1 tagType:5 | dataSize:24 | timestamp:24 | timestampExtended:8
 *               | streamId:24 (= 0) | body (dataSize bytes) | PreviousTagSize:32 (= 11 + dataSize)
 *
 * The timestamp is 32 bits: the low 24 in `timestamp`, the high 8 in `timestampExtended`.
 */
import { FLV_TAG_TYPE, type MediaKind, type MediaPacket, type WireEncoder } from "@onair/core";
import { FlvError, FlvErrorCode } from "../errors.js";

export const FLV_HEADER_LENGTH = 9;
export const FLV_TAG_HEADER_LENGTH = 11;
export const FLV_PREVIOUS_TAG_SIZE_LENGTH = 4;
/** The largest body a tag's 24-bit DataSize can announce. */
export const FLV_MAX_TAG_BODY_SIZE = 0xffffff;

const FLAG_AUDIO = 0x04;
const FLAG_VIDEO = 0x01;

/** The 9-byte FLV header followed by PreviousTagSize0: 13 bytes. */
export function encodeFlvHeader(flags: { audio: boolean; video: boolean }): Buffer {
  const bytes = Buffer.alloc(FLV_HEADER_LENGTH + FLV_PREVIOUS_TAG_SIZE_LENGTH);
  bytes.write("FLV", 0, "latin1");
  bytes[3] = 1;
  bytes[4] = (flags.audio ? FLAG_AUDIO : 0) | (flags.video ? FLAG_VIDEO : 0);
  bytes.writeUInt32BE(FLV_HEADER_LENGTH, 5);
  // PreviousTagSize0 stays 0.
  return bytes;
}

/**
 * One FLV tag: the 11-byte tag header, `body`, and the PreviousTagSize, in one allocation.
 * `timestamp` is taken mod 2^32. Throws `FlvError` (tagSize) for a body over 16 MiB - 1.
 */
export function encodeFlvTag(kind: MediaKind, timestamp: number, body: Buffer): Buffer {
  if (body.length > FLV_MAX_TAG_BODY_SIZE) {
    throw new FlvError(
      FlvErrorCode.tagSize,
      `FLV tag body of ${body.length} bytes exceeds ${FLV_MAX_TAG_BODY_SIZE}`,
    );
  }
  const tagSize = FLV_TAG_HEADER_LENGTH + body.length;
  const bytes = Buffer.allocUnsafe(tagSize + FLV_PREVIOUS_TAG_SIZE_LENGTH);
  const time = timestamp >>> 0;
  bytes[0] = FLV_TAG_TYPE[kind];
  bytes.writeUIntBE(body.length, 1, 3);
  bytes.writeUIntBE(time & 0xffffff, 4, 3);
  bytes[7] = time >>> 24;
  bytes.writeUIntBE(0, 8, 3);
  body.copy(bytes, FLV_TAG_HEADER_LENGTH);
  bytes.writeUInt32BE(tagSize, tagSize);
  return bytes;
}

/**
 * A `WireEncoder` that turns a packet into one FLV tag. Writers share {@link flvTagEncoder} so
 * that `encodeOnce` encodes each packet once and hands every FLV writer the same Buffer.
 */
export class FlvTagEncoder implements WireEncoder {
  encode(packet: MediaPacket): Buffer {
    return encodeFlvTag(packet.kind, packet.timestamp, packet.payload);
  }
}

/** The shared FLV tag encoder. */
export const flvTagEncoder: FlvTagEncoder = new FlvTagEncoder();
