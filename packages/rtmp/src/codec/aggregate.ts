/**
 * Aggregate messages (type 22, Adobe RTMP spec 7.1.6), which Wowza, FMS and relays built like them
 * send to carry several audio, video and data messages in one. The body is a run of FLV tags:
 *
 *   type:8  size:24  timestamp:24  timestamp-extended:8  stream id:24   (11-byte header)
 *   body (size bytes)
 *   back pointer:32                                                     (11 + size; not checked)
 *
 * The sub-messages' timestamps are rebased so that the first one gets the aggregate's own
 * timestamp and the others keep their distance from it (offset = aggregate timestamp - first
 * sub-message timestamp, mod 2^32), as the spec says and nginx-rtmp does. Each takes the
 * aggregate's chunk stream and message stream id (the tags' stream ids are 0 in practice).
 */
import { RtmpErrorCode, RtmpProtocolError } from "../errors.js";
import type { RtmpMessage } from "./rtmp-message.js";

const TAG_HEADER_LENGTH = 11;
const BACK_POINTER_LENGTH = 4;

/**
 * The sub-messages of an aggregate message, in order; their payloads are views of the aggregate's.
 * Throws RtmpProtocolError `ERR_RTMP_AGGREGATE` when a header or body does not fit, so that a
 * malformed aggregate is dropped whole. The last back pointer may be missing.
 */
export function splitAggregate(aggregate: RtmpMessage): RtmpMessage[] {
  const body = aggregate.payload;
  const end = body.length;
  const parts: RtmpMessage[] = [];
  let offset = 0;
  let rebase = 0;
  while (offset < end) {
    if (end - offset < TAG_HEADER_LENGTH) {
      throw new RtmpProtocolError(
        RtmpErrorCode.aggregate,
        `aggregate of ${end} bytes: ${end - offset} bytes at ${offset} are too few for a sub-message header`,
      );
    }
    const typeId = body[offset];
    const size = body.readUIntBE(offset + 1, 3);
    // FLV order: the 8 extended bits are the top ones.
    const timestamp = (body.readUIntBE(offset + 4, 3) | (body[offset + 7] << 24)) >>> 0;
    const bodyStart = offset + TAG_HEADER_LENGTH;
    if (size > end - bodyStart) {
      throw new RtmpProtocolError(
        RtmpErrorCode.aggregate,
        `aggregate of ${end} bytes: sub-message at ${offset} announces ${size} bytes, ${end - bodyStart} left`,
      );
    }
    if (parts.length === 0) rebase = (aggregate.timestamp - timestamp) >>> 0;
    parts.push({
      chunkStreamId: aggregate.chunkStreamId,
      typeId,
      messageStreamId: aggregate.messageStreamId,
      timestamp: (timestamp + rebase) >>> 0,
      payload: body.subarray(bodyStart, bodyStart + size),
    });
    offset = bodyStart + size;
    const left = end - offset;
    if (left >= BACK_POINTER_LENGTH) offset += BACK_POINTER_LENGTH;
    else if (left > 0) {
      throw new RtmpProtocolError(
        RtmpErrorCode.aggregate,
        `aggregate of ${end} bytes ends in ${left} stray bytes after its last sub-message`,
      );
    }
  }
  return parts;
}
