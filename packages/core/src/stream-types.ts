import type { MediaPacket } from "./media-packet.js";

/** Who a reader or writer is and which stream it belongs to. */
export interface StreamInfo {
  /** "app/name": the stream key every server agrees on. */
  readonly key: string;
  readonly app: string;
  readonly name: string;
  /** Where it came from or goes to, e.g. "rtmp://127.0.0.1:1935/live/cam1". */
  readonly url: string;
  /** Unique per reader/writer, for logs and stats. */
  readonly id: string;
  /** Query string parameters of the request (RTMP stream name query, HTTP query). */
  readonly query?: URLSearchParams;
  /** The remote peer, "ip:port", when there is one. */
  readonly remoteAddress?: string;
}

/** Where a reader sends its packets; given to it by the handler that accepts it. */
export interface PacketSink {
  packet(packet: MediaPacket): void;
  /**
   * The source ended (publisher left). `error` says why when it was not a clean end. Either way
   * the hub keeps the players for its republish grace.
   */
  end(error?: Error): void;
}

/** One source of a stream: an RTMP publisher, a relay pull, an FLV file. */
export interface StreamReader {
  readonly info: StreamInfo;
  /** Called by the handler that accepts this reader; from now on packets go to `sink`. */
  attach(sink: PacketSink): void;
  /**
   * Called by the handler to refuse or stop this source (e.g. its key is already live).
   * The transport behind it tells its peer and lets go. Idempotent.
   */
  close(error?: Error): void;
}

/** One sink of a stream: an RTMP player, an HTTP-FLV response, the HLS segmenter, a recorder. */
export interface StreamWriter {
  readonly info: StreamInfo;
  /** The stream is live for this writer; metadata, sequence headers and the GOP cache follow. */
  start(): void;
  /** Queue a packet. Never throws; a writer whose transport is gone ignores it. */
  write(packet: MediaPacket): void;
  /** Hand everything queued to the transport (one batched write). */
  flush(): void;
  /** Bytes queued here and in the transport's buffer, for the slow-player policy. */
  readonly bufferedBytes: number;
  /**
   * End this writer: `error` undefined means the stream ended normally. Idempotent.
   * The writer tells its transport (onStatus, end of HTTP response, ...).
   */
  close(error?: Error): void;
  /** Register a callback for when the writer ends, whoever ended it (its peer or the hub). */
  onClose(listener: (error?: Error) => void): void;
  /**
   * Optional. A new publisher took over the stream within the republish grace: what follows
   * comes from another encoder. Timestamps keep running forward (the hub rebases them), the
   * codec headers may differ, and media resumes at a keyframe. An HLS segmenter starts a new
   * segment with EXT-X-DISCONTINUITY here; byte-stream writers can ignore it.
   */
  discontinuity?(): void;
}

/** Where servers hand readers and writers. `StreamHub` is the one every server is usually given. */
export interface Handler {
  handleReader(reader: StreamReader): void;
  handleWriter(writer: StreamWriter): void;
}

let nextId = 0;
/** A process-unique id for a reader or writer ("r12", "w7"). */
export function nextStreamId(prefix: string): string {
  nextId += 1;
  return `${prefix}${nextId}`;
}
