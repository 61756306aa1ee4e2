import { OnairError } from "@onair/core";

/** Errors of the relays: a URL or option refused at start, a remote that failed or ended, a relay that gave up. */
export class RelayError extends OnairError {}

export const RelayErrorCode = {
  /** A URL the relay cannot use (wrong scheme, no host, no app or stream name). Thrown at construction. */
  badUrl: "ERR_RELAY_BAD_URL",
  /** An option out of range, or an app or stream name that is not a safe key part. Thrown at construction. */
  badOption: "ERR_RELAY_BAD_OPTION",
  /** `RelayRegistry.startPull` for a key already pulled from another URL. */
  exists: "ERR_RELAY_EXISTS",
  /** The remote ended the stream or closed the connection without saying why. */
  remoteEnded: "ERR_RELAY_REMOTE_ENDED",
  /** An HTTP-FLV pull got an answer other than 200. */
  httpStatus: "ERR_RELAY_HTTP_STATUS",
  /** Connecting, or the remote's answer to publish, took longer than `connectTimeoutMs`; or nothing came for `idleTimeoutMs`. */
  timeout: "ERR_RELAY_TIMEOUT",
  /** `maxRetries` attempts in a row failed; the relay stopped. */
  gaveUp: "ERR_RELAY_GAVE_UP",
  /** The registry was closed. */
  closed: "ERR_RELAY_CLOSED",
} as const;

export type RelayErrorCodeValue = (typeof RelayErrorCode)[keyof typeof RelayErrorCode];
