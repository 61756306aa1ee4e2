import type { MediaPacket, StreamInfo, StreamWriter } from "@onair/core";
import { encodeAmf0 } from "../codec/amf0.js";
import { ChunkStream } from "../codec/command.js";
import { MessageType, type RtmpMessage } from "../codec/rtmp-message.js";

/** What a publish writer needs from its client session. */
export interface PublishChannel {
  /** Bytes queued on the connection and not yet written. */
  readonly bufferedBytes: number;
  send(message: RtmpMessage): void;
  /** Stop publishing this stream (FCUnpublish + deleteStream) unless the connection is gone. */
  release(): void;
}

/** A stream an RTMP client publishes, as a writer: packets written go to the server at once. */
export class RtmpPublishWriter implements StreamWriter {
  readonly info: StreamInfo;
  readonly streamId: number;
  readonly #channel: PublishChannel;
  #closed = false;
  #listeners: ((error?: Error) => void)[] = [];
  static readonly #setDataFrame = encodeAmf0(["@setDataFrame"]);

  constructor(info: StreamInfo, streamId: number, channel: PublishChannel) {
    this.info = info;
    this.streamId = streamId;
    this.#channel = channel;
  }

  get bufferedBytes(): number {
    return this.#channel.bufferedBytes;
  }

  start(): void {}

  write(packet: MediaPacket): void {
    if (this.#closed) return;
    const script = packet.kind === "script";
    this.#channel.send({
      chunkStreamId: script
        ? ChunkStream.data
        : packet.kind === "audio"
          ? ChunkStream.audio
          : ChunkStream.video,
      typeId: script ? MessageType.dataAmf0 : packet.kind === "audio" ? MessageType.audio : MessageType.video,
      messageStreamId: this.streamId,
      timestamp: packet.timestamp,
      payload: script ? Buffer.concat([RtmpPublishWriter.#setDataFrame, packet.payload]) : packet.payload,
    });
  }

  flush(): void {}

  /** Stop publishing (FCUnpublish + deleteStream); the connection stays open. Idempotent. */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#channel.release();
    this.finish(error);
  }

  onClose(listener: (error?: Error) => void): void {
    if (this.#closed) listener();
    else this.#listeners.push(listener);
  }

  /** The stream ended from the session's side (the connection closed, the server stopped it). */
  finish(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const listener of listeners) listener(error);
  }
}
