import type { FuzzTargetFactory } from "../harness.js";
import { amf0Target, amf3Target } from "./amf.js";
import { chunkDecoderTarget } from "./chunk-decoder.js";
import { commandTarget } from "./command.js";
import { flvDemuxerTarget } from "./flv-demuxer.js";
import { flvPathTarget } from "./flv-path.js";
import { handshakeTarget } from "./handshake.js";
import { hlsMuxTarget } from "./hls-mux.js";
import { hlsPathTarget } from "./hls-path.js";
import { hlsSegmenterTarget } from "./hls-segmenter.js";
import { tagBodyTarget } from "./tag-body.js";

/** Every fuzzed parser, in the order `pnpm fuzz` runs them. */
export const fuzzTargets: readonly FuzzTargetFactory[] = [
  handshakeTarget,
  chunkDecoderTarget,
  amf0Target,
  amf3Target,
  commandTarget,
  flvDemuxerTarget,
  tagBodyTarget,
  flvPathTarget,
  hlsPathTarget,
  hlsMuxTarget,
  hlsSegmenterTarget,
];
