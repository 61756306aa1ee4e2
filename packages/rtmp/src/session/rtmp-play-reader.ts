import type { MediaPacket, PacketSink, StreamInfo, StreamReader } from "@onair/core";

/** How many packets a play reader keeps for a sink that has not attached yet. */
const EARLY_PACKET_LIMIT = 10_000;

/** A stream an RTMP client plays, as a reader. Packets before `attach` are kept (up to 10 000). */
export class RtmpPlayReader implements StreamReader {
  readonly info: StreamInfo;
  readonly #release: () => void;
  #sink: PacketSink | undefined;
  #early: MediaPacket[] | undefined = [];
  #ended: { error?: Error } | undefined;
  #closed = false;

  /** `release` stops playing on the server (deleteStream); called once, by `close`. */
  constructor(info: StreamInfo, release: () => void) {
    this.info = info;
    this.#release = release;
  }

  attach(sink: PacketSink): void {
    if (this.#closed) return;
    this.#sink = sink;
    const early = this.#early ?? [];
    this.#early = undefined;
    for (const packet of early) sink.packet(packet);
    if (this.#ended !== undefined) sink.end(this.#ended.error);
  }

  push(packet: MediaPacket): void {
    if (this.#sink !== undefined) this.#sink.packet(packet);
    else if (this.#early !== undefined && this.#early.length < EARLY_PACKET_LIMIT) this.#early.push(packet);
  }

  /** The server ended the stream or the connection closed. */
  end(error?: Error): void {
    if (this.#ended !== undefined) return;
    this.#ended = { error };
    this.#sink?.end(error);
  }

  /** Stop playing (deleteStream); the connection stays open. Idempotent. */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
    this.end(error);
    this.#sink = undefined;
  }
}
