/**
 * The base of every error onair raises on purpose. `code` is stable and documented
 * (see the package README's error table); match on it, not on the message.
 */
export class OnairError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Errors of the stream hub: a key already live, a stream that never came, a player that fell behind. */
export class StreamError extends OnairError {}

export const StreamErrorCode = {
  /** A second publisher tried a key that is already live. */
  busy: "ERR_STREAM_BUSY",
  /** A player waited for a stream that did not start in time. */
  notFound: "ERR_STREAM_NOT_FOUND",
  /** The publisher sent no packet for `publisherIdleTimeoutMs` and was closed. */
  idle: "ERR_STREAM_IDLE",
  /** A publisher was refused: the hub already has `maxStreams` live streams. */
  streamLimit: "ERR_STREAM_LIMIT",
  /** A player was refused: its stream already has `maxPlayersPerStream` players. */
  playerLimit: "ERR_STREAM_PLAYER_LIMIT",
  /** A player fell so far behind that the slow-player policy closed it. */
  slowPlayer: "ERR_STREAM_SLOW_PLAYER",
  /** The hub was closed. */
  closed: "ERR_STREAM_CLOSED",
  /** A stream key was not of the form "app/name" with safe parts. */
  badKey: "ERR_STREAM_BAD_KEY",
} as const;
