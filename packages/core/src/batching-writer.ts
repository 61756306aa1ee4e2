import { encodeOnce, type MediaPacket, type WireEncoder } from "./media-packet.js";
import type { StreamInfo, StreamWriter } from "./stream-types.js";

/** The part of a Node writable (net.Socket, http.ServerResponse, ...) a writer needs. */
export interface ByteOutput {
  write(chunk: Buffer): boolean;
  cork(): void;
  uncork(): void;
  readonly writableLength: number;
}

/**
 * A {@link StreamWriter} over a byte output. Packets are encoded through a shared
 * {@link WireEncoder} (so every writer of that form writes the same Buffer), queued, and handed
 * to the output in one corked burst on `flush()` — net.Socket turns that into one writev.
 * Subclasses say what goes out when the stream starts and how the transport ends.
 */
export abstract class BatchingWriter implements StreamWriter {
  readonly info: StreamInfo;
  readonly #output: ByteOutput;
  readonly #encoder: WireEncoder;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #closed = false;
  #closeListeners: ((error?: Error) => void)[] = [];

  constructor(info: StreamInfo, output: ByteOutput, encoder: WireEncoder) {
    this.info = info;
    this.#output = output;
    this.#encoder = encoder;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get bufferedBytes(): number {
    return this.#queuedBytes + this.#output.writableLength;
  }

  abstract start(): void;

  write(packet: MediaPacket): void {
    if (this.#closed) return;
    const bytes = encodeOnce(packet, this.#encoder);
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
  }

  /** Queue bytes of this writer only (a file header, a status message), in order with packets. */
  protected writeBytes(bytes: Buffer): void {
    if (this.#closed) return;
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
  }

  flush(): void {
    const queue = this.#queue;
    if (queue.length === 0 || this.#closed) return;
    const output = this.#output;
    if (queue.length === 1) {
      output.write(queue[0]);
    } else {
      output.cork();
      for (let i = 0; i < queue.length; i++) output.write(queue[i]);
      output.uncork();
    }
    queue.length = 0;
    this.#queuedBytes = 0;
  }

  /** End this writer; `end(error)` lets the subclass finish its transport. Idempotent. */
  close(error?: Error): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.end(error);
    const listeners = this.#closeListeners;
    this.#closeListeners = [];
    for (const listener of listeners) listener(error);
  }

  onClose(listener: (error?: Error) => void): void {
    if (this.#closed) listener();
    else this.#closeListeners.push(listener);
  }

  /** Finish the transport: tell the peer the stream ended (or why), end the response, ... */
  protected abstract end(error?: Error): void;
}
