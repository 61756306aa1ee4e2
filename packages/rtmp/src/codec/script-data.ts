/**
 * The FLV script tag a data message carries (onMetaData, onTextData, onCuePoint, ...), byte-exact.
 *
 * Publishers send metadata as `"@setDataFrame", "onMetaData", {...}` (type 18, AMF0), the first
 * value telling the server to store the rest. The rest is passed on as it came, so an ECMA array
 * stays an ECMA array and whatever the encoder wrote reaches players untouched; the body is not
 * decoded, and only its start is checked: an AMF0 string (marker 0x02, length:16, bytes), the
 * script tag's name. A type 15 (AMF3) data message starts with a 0x00 format byte, which is
 * dropped; the AMF0 values after it are passed on as they are.
 */
import { RtmpErrorCode, RtmpProtocolError } from "../errors.js";
import { MessageType, type RtmpMessage } from "./rtmp-message.js";

const AMF0_STRING = 0x02;
const AMF3_FORMAT_BYTE = 0x00;
/** "@setDataFrame" as an AMF0 string. */
const SET_DATA_FRAME = Buffer.from([AMF0_STRING, 0x00, 0x0d, ...Buffer.from("@setDataFrame", "latin1")]);

/** Where the AMF0 string at `offset` ends; throws unless a whole one is there. */
function amf0StringEnd(body: Buffer, offset: number): number {
  if (body.length - offset < 3) {
    throw new RtmpProtocolError(RtmpErrorCode.amfTruncated, "data message too short for its name");
  }
  if (body[offset] !== AMF0_STRING) {
    throw new RtmpProtocolError(
      RtmpErrorCode.amfType,
      `data message name has AMF0 marker 0x${body[offset].toString(16)}, not a string`,
    );
  }
  const end = offset + 3 + body.readUInt16BE(offset + 1);
  if (end > body.length) {
    throw new RtmpProtocolError(RtmpErrorCode.amfTruncated, "data message name cut short");
  }
  return end;
}

/**
 * The script tag body of a data message (type 18 or 15): its bytes without an AMF3 format byte
 * and without a leading "@setDataFrame". A view of the payload, no copy. Throws RtmpProtocolError
 * (`ERR_RTMP_AMF_TYPE`, `ERR_RTMP_AMF_TRUNCATED`) when the body does not start with a whole AMF0
 * string, then that message should be dropped.
 */
export function scriptTagBody(message: RtmpMessage): Buffer {
  let body = message.payload;
  if (message.typeId === MessageType.dataAmf3 && body[0] === AMF3_FORMAT_BYTE) body = body.subarray(1);
  const nameEnd = amf0StringEnd(body, 0);
  if (nameEnd === SET_DATA_FRAME.length && body.compare(SET_DATA_FRAME, 0, nameEnd, 0, nameEnd) === 0) {
    body = body.subarray(nameEnd);
    amf0StringEnd(body, 0);
  }
  return body;
}
