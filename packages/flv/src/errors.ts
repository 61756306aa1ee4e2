import { OnairError } from "@onair/core";

/** Bad FLV bytes: a header, tag or tag body that does not parse or breaks a limit. */
export class FlvError extends OnairError {}

export const FlvErrorCode = {
  /** A tag body too short for the header its first byte announces. */
  truncated: "ERR_FLV_TRUNCATED",
  /** The file does not start with "FLV" version 1. */
  signature: "ERR_FLV_SIGNATURE",
  /** A tag type that is not audio (8), video (9) or script data (18). */
  tagType: "ERR_FLV_TAG_TYPE",
  /** A tag larger than the configured maximum. */
  tagSize: "ERR_FLV_TAG_SIZE",
  /** A previous-tag-size field that does not match the tag before it. */
  previousTagSize: "ERR_FLV_PREVIOUS_TAG_SIZE",
  /** A stream key that cannot become a file path (traversal, separators, control characters). */
  path: "ERR_FLV_PATH",
} as const;
