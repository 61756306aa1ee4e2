// Our public types use Buffer and node:net; this reference (kept in dist/index.d.ts) loads Node's
// types for consumers whose tsconfig does not auto-include them ("types": [], the TypeScript 7 default).
/// <reference types="node" preserve="true" />

export {
  type Authorize,
  type AuthorizeRequest,
  type AuthorizeResult,
  type AuthorizeVerdict,
  runAuthorize,
} from "./authorize.js";
export { BatchingWriter, type ByteOutput } from "./batching-writer.js";
export { ByteBudget } from "./byte-budget.js";
export { ConnectionLimiter, type ConnectionLimits, type ConnectionRefusal } from "./connection-limiter.js";
export { OnairError, StreamError, StreamErrorCode } from "./errors.js";
export { GopCache, type GopCacheLimits, isMetadata } from "./gop-cache.js";
export { LOOPBACK_ADDRESSES } from "./loopback.js";
export {
  createMediaPacket,
  encodeOnce,
  FLV_TAG_TYPE,
  type MediaKind,
  type MediaPacket,
  type WireEncoder,
} from "./media-packet.js";
export { SafeEventEmitter } from "./safe-event-emitter.js";
export { DEFAULT_SLOW_PLAYER_POLICY, type SlowPlayerPolicy } from "./slow-player-policy.js";
export {
  type MediaCounts,
  type PlayerStats,
  type PublisherStats,
  Stream,
  type StreamHeaders,
  type StreamStats,
} from "./stream.js";
export {
  DEFAULT_BATCH_WINDOW_MS,
  DEFAULT_HUB_LIMITS,
  StreamHub,
  type StreamHubCounters,
  type StreamHubEvents,
  type StreamHubOptions,
} from "./stream-hub.js";
export { StreamSource } from "./stream-source.js";
export {
  type Handler,
  nextStreamId,
  type PacketSink,
  type StreamInfo,
  type StreamReader,
  type StreamWriter,
} from "./stream-types.js";
