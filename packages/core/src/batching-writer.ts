import { encodeOnce, type MediaPacket, type WireEncoder } from "./media-packet.js";
import type { StreamInfo, StreamWriter } from "./stream-types.js";

/** The part of a Node writable (net.Socket, http.ServerResponse, ...) a writer needs. */
export interface ByteOutput {
  write(chunk: Buffer): boolean;
  readonly writableLength: number;
}

/**
 * The last multi-part batch flushed for an encoder. Players in step with the stream queue the
 * same parts in the same window, so the first of them to flush joins the parts and the rest
 * write that same Buffer: one copy per window, then one plain write per player.
 */
interface SharedBatch {
  parts: Buffer[];
  bytes: Buffer;
}
const lastBatchByEncoder = new WeakMap<WireEncoder, SharedBatch>();

function sameParts(
  shared: readonly Buffer[],
  queue: readonly (Buffer | undefined)[],
  count: number,
): boolean {
  if (shared.length !== count) return false;
  for (let i = 0; i < count; i++) if (shared[i] !== queue[i]) return false;
  return true;
}

/**
 * A {@link StreamWriter} over a byte output. Packets are encoded through a shared
 * {@link WireEncoder} (so every writer of that form writes the same Buffer) and queued; `flush()`
 * hands the queue to the output as one Buffer, shared with every other writer of the encoder
 * that queued the same parts. Subclasses say what goes out when the stream starts and how the
 * transport ends.
 */
export abstract class BatchingWriter implements StreamWriter {
  readonly info: StreamInfo;
  readonly #output: ByteOutput;
  readonly #encoder: WireEncoder;
  /**
   * Queued Buffers in slots 0..#queued-1. The array keeps its size between flushes (emptied
   * slots are set to undefined, not removed), so queuing allocates nothing once it has grown.
   */
  readonly #queue: (Buffer | undefined)[] = [];
  #queued = 0;
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
    this.#queue[this.#queued++] = bytes;
    this.#queuedBytes += bytes.length;
  }

  /**
   * Queue bytes in order with packets (a file header, ...). A Buffer reused across writers (a
   * constant header) keeps the batch shareable; a fresh one makes it this writer's own.
   */
  protected writeBytes(bytes: Buffer): void {
    if (this.#closed) return;
    this.#queue[this.#queued++] = bytes;
    this.#queuedBytes += bytes.length;
  }

  flush(): void {
    const count = this.#queued;
    if (count === 0 || this.#closed) return;
    const queue = this.#queue;
    this.#output.write(count === 1 ? (queue[0] as Buffer) : this.#joined(queue, count));
    this.#clearQueue();
  }

  #joined(queue: (Buffer | undefined)[], count: number): Buffer {
    const shared = lastBatchByEncoder.get(this.#encoder);
    if (shared !== undefined && sameParts(shared.parts, queue, count)) return shared.bytes;
    const parts = queue.slice(0, count) as Buffer[];
    const bytes = Buffer.concat(parts, this.#queuedBytes);
    lastBatchByEncoder.set(this.#encoder, { parts, bytes });
    return bytes;
  }

  #clearQueue(): void {
    const queue = this.#queue;
    for (let i = 0; i < this.#queued; i++) queue[i] = undefined;
    this.#queued = 0;
    this.#queuedBytes = 0;
  }

  /** End this writer; `end(error)` lets the subclass finish its transport. Idempotent. */
  close(error?: Error): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    this.#clearQueue();
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
