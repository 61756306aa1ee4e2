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

/**
 * Why the HTTP-FLV / WS-FLV server refused a request or connection: the `code` of the JSON body
 * `{ error, code, reason }` of a refusal (a WebSocket refusal carries the reason in its close frame,
 * the code in its close code). Documented, with statuses and close codes, in the README.
 */
export const FlvRefusalCode = {
  /** The authorize hook refused with status 401. HTTP 401, WS close 4401. */
  unauthorized: "ERR_FLV_UNAUTHORIZED",
  /** The authorize hook refused (status 403, `false`, or it threw). HTTP 403, WS close 4403. */
  forbidden: "ERR_FLV_FORBIDDEN",
  /** The authorize hook did not answer within `authorizeTimeoutMs`. HTTP 503, WS close 1013. */
  authorizeTimeout: "ERR_FLV_AUTHORIZE_TIMEOUT",
  /** `maxConnections` connections were open. HTTP 503, WS close 1013. */
  tooManyConnections: "ERR_FLV_TOO_MANY_CONNECTIONS",
  /** `maxConnectionsPerIp` connections were open from the client's address. HTTP 429, WS close 4429. */
  tooManyConnectionsFromIp: "ERR_FLV_TOO_MANY_CONNECTIONS_FROM_IP",
  /** The request target was longer than `maxUrlLength`. HTTP 414. */
  urlTooLong: "ERR_FLV_URL_TOO_LONG",
  /** The request line and headers were larger than `maxHeaderSize`. HTTP 431. */
  headersTooLarge: "ERR_FLV_HEADERS_TOO_LARGE",
  /** The request headers were not complete within `headersTimeoutMs`. HTTP 408. */
  headersTimeout: "ERR_FLV_HEADERS_TIMEOUT",
  /** Bytes that are not an HTTP/1.1 request. HTTP 400. */
  badRequest: "ERR_FLV_BAD_REQUEST",
} as const;

export type FlvRefusalCode = (typeof FlvRefusalCode)[keyof typeof FlvRefusalCode];
