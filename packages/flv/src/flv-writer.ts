import { BatchingWriter, type ByteOutput, type StreamInfo } from "@onair/core";
import { encodeFlvHeader, flvTagEncoder } from "./flv-muxer.js";

/** Both flags set: which tracks a live stream has is not known when a player joins. */
const LIVE_FLV_HEADER = encodeFlvHeader({ audio: true, video: true });

/**
 * A live FLV byte stream for any byte output (an HTTP response, a WebSocket, a file): the FLV
 * header, then what the hub sends (metadata, sequence headers, the cached GOP, live packets) as
 * FLV tags. Tags come from the shared `flvTagEncoder`, so every FLV player gets the same Buffer
 * for a packet. `onEnd` finishes the transport when the stream ends or fails.
 */
export class FlvWriter extends BatchingWriter {
  readonly #onEnd: (error?: Error) => void;

  constructor(info: StreamInfo, output: ByteOutput, onEnd: (error?: Error) => void) {
    super(info, output, flvTagEncoder);
    this.#onEnd = onEnd;
  }

  start(): void {
    this.writeBytes(LIVE_FLV_HEADER);
  }

  protected end(error?: Error): void {
    this.#onEnd(error);
  }
}
