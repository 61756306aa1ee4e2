import { OnairError } from "@onair/core";

/**
 * A peer broke the RTMP protocol or a configured limit. The session that sees it closes that one
 * connection; nothing else is affected. `code` is one of {@link RtmpErrorCode}.
 */
export class RtmpProtocolError extends OnairError {}

/** Stable codes of {@link RtmpProtocolError}; documented in the package README. */
export const RtmpErrorCode = {
  /** Handshake: C0/S0 version byte is not 3 (or 6 for encrypted, which we do not support). */
  handshakeVersion: "ERR_RTMP_HANDSHAKE_VERSION",
  /** Handshake: the peer's digest or echo did not verify. */
  handshakeDigest: "ERR_RTMP_HANDSHAKE_DIGEST",
  /** Chunk stream: Set Chunk Size outside 1..0x7fffffff, or a chunk size of 0. */
  chunkSize: "ERR_RTMP_CHUNK_SIZE",
  /** Chunk stream: a message longer than the configured maximum message size. */
  messageSize: "ERR_RTMP_MESSAGE_SIZE",
  /** Chunk stream: a type 1/2/3 chunk on a chunk stream that has no previous header. */
  chunkHeader: "ERR_RTMP_CHUNK_HEADER",
  /** Chunk stream: more chunk streams open at once than allowed. */
  chunkStreams: "ERR_RTMP_CHUNK_STREAMS",
  /** Chunk stream: one connection's partial messages would hold more than its `maxBufferedBytes`. */
  bufferLimit: "ERR_RTMP_BUFFER_LIMIT",
  /** Chunk stream: all connections' partial messages together would exceed the server's budget. */
  serverBufferLimit: "ERR_RTMP_SERVER_BUFFER_LIMIT",
  /** An aggregate message (type 22) whose sub-messages do not fit its body; it is dropped. */
  aggregate: "ERR_RTMP_AGGREGATE",
  /** A protocol control or user control message with a bad length or value. */
  controlMessage: "ERR_RTMP_CONTROL_MESSAGE",
  /** AMF: a value cut short. */
  amfTruncated: "ERR_RTMP_AMF_TRUNCATED",
  /** AMF: an unknown or unsupported type marker. */
  amfType: "ERR_RTMP_AMF_TYPE",
  /** AMF: nesting deeper than the limit. */
  amfDepth: "ERR_RTMP_AMF_DEPTH",
  /** AMF: a string, array or object longer than the limit. */
  amfLength: "ERR_RTMP_AMF_LENGTH",
  /** AMF: a reference to an object or string not seen. */
  amfReference: "ERR_RTMP_AMF_REFERENCE",
  /** Command layer: a command message that is not a name, a transaction id and arguments. */
  command: "ERR_RTMP_COMMAND",
  /** Session: a message not allowed in the current state (e.g. publish before connect). */
  state: "ERR_RTMP_STATE",
  /** Session: the peer was silent for longer than the idle timeout. */
  timeout: "ERR_RTMP_TIMEOUT",
  /** Chunk stream: a message left partial for longer than `partialMessageTimeoutMs`. */
  messageTimeout: "ERR_RTMP_MESSAGE_TIMEOUT",
  /**
   * Session: the handler (or a listener it calls) threw while starting a publish or play. Carried
   * by a plain `OnairError` (not the peer's fault); the client got NetStream.*.Failed first.
   */
  handler: "ERR_RTMP_HANDLER",
} as const;

export type RtmpErrorCodeValue = (typeof RtmpErrorCode)[keyof typeof RtmpErrorCode];

/**
 * The remote server said no: an `_error` reply or an onStatus of level "error"
 * (NetConnection.Connect.Rejected, NetStream.Publish.BadName, NetStream.Play.StreamNotFound, ...).
 */
export class RtmpStatusError extends OnairError {
  /** The status code the server sent, e.g. "NetStream.Publish.BadName". */
  readonly status: string;

  constructor(status: string, description: string) {
    super("ERR_RTMP_REJECTED", `${status}: ${description}`);
    this.status = status;
  }
}
