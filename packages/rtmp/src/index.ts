// Our public types use Buffer and node:net; this reference (kept in dist/index.d.ts) loads Node's
// types for consumers whose tsconfig does not auto-include them ("types": [], the TypeScript 7 default).
/// <reference types="node" preserve="true" />

export { AmfEcmaArray, type AmfLimits, type AmfObject, type AmfValue } from "./codec/amf.js";
export { decodeAmf0, encodeAmf0 } from "./codec/amf0.js";
export { decodeAmf3, encodeAmf3 } from "./codec/amf3.js";
export { ChunkDecoder, type ChunkDecoderOptions } from "./codec/chunk-decoder.js";
export { ChunkEncoder, encodeChunks } from "./codec/chunk-encoder.js";
export {
  ChunkStream,
  commandMessage,
  dataMessage,
  decodeCommand,
  decodeData,
  type RtmpCommand,
  type StatusInfo,
  statusMessage,
} from "./codec/command.js";
export {
  abortMessage,
  acknowledgementMessage,
  type ControlMessage,
  decodeControlMessage,
  setChunkSizeMessage,
  setPeerBandwidthMessage,
  userControlMessage,
  windowAckSizeMessage,
} from "./codec/control-messages.js";
export { HandshakeClient, HandshakeServer, type HandshakeStep } from "./codec/handshake.js";
export { RtmpMediaEncoder, rtmpMediaEncoder } from "./codec/media-encoder.js";
export { MAX_CHUNK_SIZE, MessageType, type RtmpMessage, UserControlEvent } from "./codec/rtmp-message.js";
export { RtmpErrorCode, type RtmpErrorCodeValue, RtmpProtocolError, RtmpStatusError } from "./errors.js";
export {
  ClientSession,
  type ClientSessionEvents,
  type ClientSessionOptions,
  type ClientTransport,
} from "./session/client-session.js";
export { RtmpPlayReader } from "./session/rtmp-play-reader.js";
export { RtmpPlayerWriter } from "./session/rtmp-player-writer.js";
export { type PublishChannel, RtmpPublishWriter } from "./session/rtmp-publish-writer.js";
export {
  type Authorize,
  type AuthorizeRequest,
  type AuthorizeResult,
  ServerSession,
  type ServerSessionOptions,
  type SessionRefusalReason,
  type SessionTransport,
} from "./session/server-session.js";
export { RtmpClient, type RtmpClientEvents, type RtmpClientOptions } from "./transport/rtmp-client.js";
export { RtmpConnection, type RtmpConnectionOptions } from "./transport/rtmp-connection.js";
export {
  createRtmpServer,
  type RtmpRefusalReason,
  RtmpServer,
  type RtmpServerEvents,
  type RtmpServerOptions,
  type RtmpServerStats,
} from "./transport/rtmp-server.js";
