// Our public types use Buffer; this reference (kept in dist/index.d.ts) loads Node's types for
// consumers whose tsconfig does not auto-include them ("types": [], the TypeScript 7 default).
/// <reference types="node" preserve="true" />

export {
  FMP4_TRACK_ID,
  FMP4_VIDEO_TIMESCALE,
  Fmp4Muxer,
  type Fmp4MuxerOptions,
  type Fmp4Tracks,
} from "./codec/fmp4/fmp4-muxer.js";
export { TS_PID, TsMuxer, type TsMuxerOptions, TsStreamType, type TsTracks } from "./codec/ts-muxer.js";
export { TS_PACKET_SIZE } from "./codec/ts-packet.js";
export { HlsError, HlsErrorCode, HlsRefusalCode } from "./errors.js";
export type {
  HlsPlaylistSource,
  HlsResource,
  HlsSourceDirectory,
  HlsVariant,
} from "./hls-source.js";
export {
  HLS_SEGMENTER_DEFAULTS,
  HlsSegmenter,
  type HlsSegmenterOptions,
  type HlsSegmenterStats,
} from "./segment/hls-segmenter.js";
export {
  HLS_STREAMS_DEFAULTS,
  HlsStreams,
  type HlsStreamsOptions,
  type HlsStreamsStats,
} from "./segment/hls-streams.js";
export {
  type LowLatencyPlaylist,
  type MediaPlaylistModel,
  type PlaylistPart,
  type PlaylistSegment,
  renderMediaPlaylist,
} from "./segment/media-playlist.js";
export { HlsSegmentBudget } from "./segment/segment-budget.js";
export {
  type HlsHandlerOptions,
  type HlsHandlerStats,
  type HlsRequestHandler,
  hlsHandler,
} from "./transport/hls-handler.js";
export { HLS_FILE_EXTENSIONS, type HlsTarget, parseHlsPath } from "./transport/hls-path.js";
export type { HlsRequest, HlsResponse } from "./transport/hls-response.js";
export {
  createHlsServer,
  HlsServer,
  type HlsServerOptions,
  type HlsServerStats,
} from "./transport/hls-server.js";
