export { AmfEcmaArray, type AmfLimits, type AmfObject, type AmfValue } from "./amf.js";
export { decodeAmf0, encodeAmf0 } from "./amf0.js";
export { decodeAmf3, encodeAmf3 } from "./amf3.js";
export { ChunkDecoder, type ChunkDecoderOptions } from "./chunk-decoder.js";
export { ChunkEncoder, encodeChunks } from "./chunk-encoder.js";
export {
  ChunkStream,
  commandMessage,
  dataMessage,
  decodeCommand,
  decodeData,
  type RtmpCommand,
  type StatusInfo,
  statusMessage,
} from "./command.js";
export {
  abortMessage,
  acknowledgementMessage,
  type ControlMessage,
  decodeControlMessage,
  setChunkSizeMessage,
  setPeerBandwidthMessage,
  userControlMessage,
  windowAckSizeMessage,
} from "./control-messages.js";
export { RtmpErrorCode, type RtmpErrorCodeValue, RtmpProtocolError, RtmpStatusError } from "./errors.js";
export { HandshakeClient, HandshakeServer, type HandshakeStep } from "./handshake.js";
export { RtmpMediaEncoder, rtmpMediaEncoder } from "./media-encoder.js";
export {
  RtmpClient,
  type RtmpClientEvents,
  type RtmpClientOptions,
  RtmpPlayReader,
  RtmpPublishWriter,
} from "./rtmp-client.js";
export { RtmpConnection, type RtmpConnectionOptions } from "./rtmp-connection.js";
export { MAX_CHUNK_SIZE, MessageType, type RtmpMessage, UserControlEvent } from "./rtmp-message.js";
export { RtmpPlayerWriter } from "./rtmp-player-writer.js";
export {
  createRtmpServer,
  RtmpServer,
  type RtmpServerEvents,
  type RtmpServerOptions,
} from "./rtmp-server.js";
export {
  type Authorize,
  type AuthorizeRequest,
  type AuthorizeResult,
  ServerSession,
  type ServerSessionOptions,
  type SessionTransport,
} from "./server-session.js";
