export { OnairError, StreamError, StreamErrorCode } from "./errors.js";
export {
  createMediaPacket,
  encodeOnce,
  FLV_TAG_TYPE,
  type MediaKind,
  type MediaPacket,
  type WireEncoder,
} from "./media-packet.js";
export {
  type Handler,
  nextStreamId,
  type PacketSink,
  type StreamInfo,
  type StreamReader,
  type StreamWriter,
} from "./stream-types.js";
