import type { FuzzTargetFactory } from "../harness.js";
import { chunkDecoderTarget } from "./chunk-decoder.js";

/** Every fuzzed parser, in the order `pnpm fuzz` runs them. */
export const fuzzTargets: readonly FuzzTargetFactory[] = [chunkDecoderTarget];
