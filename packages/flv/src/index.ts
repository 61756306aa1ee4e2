// Our public types use Buffer and node:net; this reference (kept in dist/index.d.ts) loads Node's
// types for consumers whose tsconfig does not auto-include them ("types": [], the TypeScript 7 default).
/// <reference types="node" preserve="true" />

export { FlvDemuxer, type FlvDemuxerOptions, type FlvFileHeader, type FlvTag } from "./codec/flv-demuxer.js";
export {
  encodeFlvHeader,
  encodeFlvTag,
  FLV_HEADER_LENGTH,
  FLV_MAX_TAG_BODY_SIZE,
  FLV_PREVIOUS_TAG_SIZE_LENGTH,
  FLV_TAG_HEADER_LENGTH,
  FlvTagEncoder,
  flvTagEncoder,
} from "./codec/flv-muxer.js";
export {
  type AudioCodec,
  type AudioTagHeader,
  type AvcDecoderConfig,
  createPacketFromTagBody,
  parseAudioTagHeader,
  parseAvcDecoderConfig,
  parseVideoTagHeader,
  type VideoCodec,
  type VideoTagHeader,
} from "./codec/tag-body.js";
export { FlvError, FlvErrorCode, FlvRefusalCode } from "./errors.js";
export { isSafePathPart } from "./safe-path.js";
export { FlvFileSource, type FlvFileSourceOptions } from "./stream/flv-file-source.js";
export {
  FlvRecorder,
  type FlvRecordingOptions,
  recordingPath,
  recordStreams,
} from "./stream/flv-recorder.js";
export { FlvWriter } from "./stream/flv-writer.js";
export { type FlvHandlerOptions, type FlvHub, flvHandler } from "./transport/flv-handler.js";
export { parseFlvPath } from "./transport/flv-path.js";
export {
  createHttpFlvServer,
  HttpFlvServer,
  type HttpFlvServerOptions,
  type HttpFlvServerStats,
} from "./transport/http-flv-server.js";
export { type ListedStream, type ListStreamsOptions, listStreams } from "./transport/list-streams.js";
export { FlvCloseCode, type HttpFlvRefusalCounts } from "./transport/refusals.js";
