import type { MediaPacket } from "./media-packet.js";
import type { PacketSink, StreamInfo, StreamReader } from "./stream-types.js";

/**
 * A {@link StreamReader} a transport pushes packets into. Packets pushed before a handler
 * attaches are dropped (a publisher is accepted before its first packet in practice).
 */
export class StreamSource implements StreamReader {
  readonly info: StreamInfo;
  #sink: PacketSink | undefined;
  #closed = false;
  #closeError: Error | undefined;
  readonly #onClose: ((error?: Error) => void) | undefined;

  /** `onClose` runs when the handler closes this source (refused, or the hub shut down). */
  constructor(info: StreamInfo, onClose?: (error?: Error) => void) {
    this.info = info;
    this.#onClose = onClose;
  }

  get attached(): boolean {
    return this.#sink !== undefined;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Why the handler closed this source, if it did. */
  get closeError(): Error | undefined {
    return this.#closeError;
  }

  attach(sink: PacketSink): void {
    if (!this.#closed) this.#sink = sink;
  }

  push(packet: MediaPacket): void {
    this.#sink?.packet(packet);
  }

  /** The source ended by itself (publisher left, file over). Idempotent. */
  end(error?: Error): void {
    const sink = this.#sink;
    this.#sink = undefined;
    this.#closed = true;
    sink?.end(error);
  }

  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    const sink = this.#sink;
    this.#sink = undefined;
    sink?.end(error);
    this.#onClose?.(error);
  }
}
