import { OnairError } from "@onair/core";

/** A media packet the MPEG-TS muxer cannot write: an unsupported codec, a bad codec configuration, a bad frame. */
export class HlsError extends OnairError {}

export const HlsErrorCode = {
  /** A video codec other than H.264 or HEVC, an audio codec other than AAC or MP3, or an Enhanced RTMP multitrack packet. */
  unsupportedCodec: "ERR_HLS_UNSUPPORTED_CODEC",
  /** A coded frame before the sequence header that configures it (AVCDecoderConfigurationRecord, AudioSpecificConfig). */
  missingConfig: "ERR_HLS_MISSING_CONFIG",
  /** An AVCDecoderConfigurationRecord that is truncated or malformed. */
  avcConfig: "ERR_HLS_AVC_CONFIG",
  /** An HEVCDecoderConfigurationRecord that is truncated, malformed, or lacks a VPS, SPS or PPS. */
  hevcConfig: "ERR_HLS_HEVC_CONFIG",
  /** An AudioSpecificConfig ADTS cannot carry: truncated, an object type other than AAC Main/LC/SSR/LTP (or SBR/PS over them), an explicit sampling frequency, or channel configuration 0. */
  aacConfig: "ERR_HLS_AAC_CONFIG",
  /** A tag body too short for its header, or a NAL unit length running past the end of the frame. */
  truncated: "ERR_HLS_TRUNCATED",
  /** An AAC frame longer than an ADTS frame can hold (8184 bytes of raw data). */
  frameTooLarge: "ERR_HLS_FRAME_TOO_LARGE",
  /** fMP4: more sample bytes queued for one fragment than `maxPendingBytes` allows (flush() was not called). */
  fragmentTooLarge: "ERR_HLS_FRAGMENT_TOO_LARGE",
} as const;

export type HlsErrorCode = (typeof HlsErrorCode)[keyof typeof HlsErrorCode];

/**
 * Why the HLS HTTP layer refused a request: the `code` of its JSON body (`{ error, code, reason }`).
 * See the README's "HTTP serving" section.
 */
export const HlsRefusalCode = {
  /** The authorize hook refused with status 401. HTTP 401. */
  unauthorized: "ERR_HLS_UNAUTHORIZED",
  /** The authorize hook refused (status 403, `false`, or it threw). HTTP 403. */
  forbidden: "ERR_HLS_FORBIDDEN",
  /** The authorize hook did not answer within `authorizeTimeoutMs`. HTTP 503. */
  authorizeTimeout: "ERR_HLS_AUTHORIZE_TIMEOUT",
  /** A path shaped like an HLS URL with an unsafe or undecodable part. HTTP 400. */
  badPath: "ERR_HLS_BAD_PATH",
  /** `_HLS_msn`/`_HLS_part` not a decimal number, or `_HLS_part` without `_HLS_msn`. HTTP 400. */
  badDirective: "ERR_HLS_BAD_DIRECTIVE",
  /** `_HLS_msn` more than two segments ahead, or `_HLS_part` past the Advance Part Limit (RFC 8216bis 6.2.5.2). HTTP 400. */
  tooFarAhead: "ERR_HLS_TOO_FAR_AHEAD",
  /** A blocking reload or preload-hint request still not answerable after its timeout. HTTP 503. */
  blockingTimeout: "ERR_HLS_BLOCKING_TIMEOUT",
  /** `maxHeldRequests` requests were already held. HTTP 503. */
  tooManyHeld: "ERR_HLS_TOO_MANY_HELD",
  /** The handler or server is closing. HTTP 503. */
  closing: "ERR_HLS_CLOSING",
  /** `maxConnections` connections were open. HTTP 503. */
  tooManyConnections: "ERR_HLS_TOO_MANY_CONNECTIONS",
  /** `maxConnectionsPerIp` connections were open from the client's address. HTTP 429. */
  tooManyConnectionsFromIp: "ERR_HLS_TOO_MANY_CONNECTIONS_FROM_IP",
  /** The request target was longer than `maxUrlLength`. HTTP 414. */
  urlTooLong: "ERR_HLS_URL_TOO_LONG",
} as const;

export type HlsRefusalCode = (typeof HlsRefusalCode)[keyof typeof HlsRefusalCode];
