// Our public types use Buffer and node:net; this reference (kept in dist/index.d.ts) loads Node's
// types for consumers whose tsconfig does not auto-include them ("types": [], the TypeScript 7 default).
/// <reference types="node" preserve="true" />

export { FlvError, FlvErrorCode, FlvRefusalCode } from "./errors.js";
export { FlvDemuxer, type FlvDemuxerOptions, type FlvFileHeader, type FlvTag } from "./flv-demuxer.js";
export { FlvFileSource, type FlvFileSourceOptions } from "./flv-file-source.js";
export {
  encodeFlvHeader,
  encodeFlvTag,
  FLV_HEADER_LENGTH,
  FLV_MAX_TAG_BODY_SIZE,
  FLV_PREVIOUS_TAG_SIZE_LENGTH,
  FLV_TAG_HEADER_LENGTH,
  FlvTagEncoder,
  flvTagEncoder,
} from "./flv-muxer.js";
export {
  FlvRecorder,
  type FlvRecordingOptions,
  recordingPath,
  recordStreams,
} from "./flv-recorder.js";
export { FlvWriter } from "./flv-writer.js";
export {
  createHttpFlvServer,
  FlvCloseCode,
  type FlvHandlerOptions,
  type FlvHub,
  flvHandler,
  type HttpFlvRefusalCounts,
  HttpFlvServer,
  type HttpFlvServerOptions,
  type HttpFlvServerStats,
  type ListedStream,
  type ListStreamsOptions,
  listStreams,
  parseFlvPath,
} from "./http-flv.js";
export { isSafePathPart } from "./safe-path.js";
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
} from "./tag-body.js";
