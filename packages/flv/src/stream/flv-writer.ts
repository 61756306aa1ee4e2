import { BatchingWriter, type ByteOutput, type StreamInfo } from "@onair/core";
import createDebug from "debug";
import { encodeFlvHeader, flvTagEncoder } from "../codec/flv-muxer.js";

const debug = createDebug("onair:flv:writer");

/** Both flags set: which tracks a live stream has is not known when a player joins. */
const LIVE_FLV_HEADER = encodeFlvHeader({ audio: true, video: true });

/**
 * A live FLV byte stream for any byte output (an HTTP response, a WebSocket, a file): the FLV
 * header, then what the hub sends (metadata, sequence headers, the cached GOP, live packets) as
 * FLV tags. Tags come from the shared `flvTagEncoder`, so every FLV player gets the same Buffer
 * for a packet. `onEnd` finishes the transport when the stream ends or fails.
 *
 * `onEnd` and `onClose` listeners run inside `close()`, which socket callbacks call: one that
 * throws is logged under `onair:flv:writer` and the others still run, so a user's bug never
 * escapes into a socket callback or keeps a closed player in its stream.
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

  override onClose(listener: (error?: Error) => void): void {
    super.onClose((error) => {
      try {
        listener(error);
      } catch (thrown) {
        debug("%s: an onClose listener threw: %O", this.info.id, thrown);
      }
    });
  }

  protected end(error?: Error): void {
    try {
      this.#onEnd(error);
    } catch (thrown) {
      debug("%s: onEnd threw: %O", this.info.id, thrown);
    }
  }
}
