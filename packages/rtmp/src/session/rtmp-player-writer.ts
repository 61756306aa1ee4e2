import {
  BatchingWriter,
  type ByteOutput,
  type MediaPacket,
  StreamErrorCode,
  type StreamInfo,
} from "@onair/core";
import { dataMessage, statusMessage } from "../codec/command.js";
import { userControlMessage } from "../codec/control-messages.js";
import { rtmpMediaEncoder } from "../codec/media-encoder.js";
import type { RtmpMessage } from "../codec/rtmp-message.js";
import { UserControlEvent } from "../codec/rtmp-message.js";

/** What a player writer needs from its session: send per-player messages, let go of the stream. */
export interface PlayerTransport {
  readonly output: ByteOutput;
  readonly chunkSize: number;
  send(message: RtmpMessage): void;
  /** The writer ended (the stream ended or failed): the session forgets this stream id. */
  released(streamId: number, error?: Error): void;
}

/**
 * An RTMP player as a stream writer. Media goes out as shared pre-encoded chunks (one Buffer
 * per packet for every player with the same chunk size and stream id); status messages are this
 * player's own.
 */
export class RtmpPlayerWriter extends BatchingWriter {
  readonly streamId: number;
  readonly #transport: PlayerTransport;
  receiveAudio = true;
  receiveVideo = true;
  #paused = false;
  /** After unpause, video resumes at a keyframe. */
  #waitingForKeyframe = false;

  constructor(info: StreamInfo, streamId: number, transport: PlayerTransport) {
    super(info, transport.output, rtmpMediaEncoder(transport.chunkSize, streamId));
    this.streamId = streamId;
    this.#transport = transport;
  }

  start(): void {
    const t = this.#transport;
    const id = this.streamId;
    const details = this.info.name;
    t.send(userControlMessage(UserControlEvent.streamIsRecorded, id));
    t.send(userControlMessage(UserControlEvent.streamBegin, id));
    t.send(
      statusMessage(id, {
        level: "status",
        code: "NetStream.Play.Reset",
        description: `Playing and resetting ${details}.`,
        details,
      }),
    );
    t.send(
      statusMessage(id, {
        level: "status",
        code: "NetStream.Play.Start",
        description: `Started playing ${details}.`,
        details,
      }),
    );
    t.send(dataMessage(["|RtmpSampleAccess", true, true], id));
    t.send(statusMessage(id, { level: "status", code: "NetStream.Data.Start", description: "Data start." }));
  }

  override write(packet: MediaPacket): void {
    if (this.#paused) return;
    if (packet.kind === "audio" && !this.receiveAudio && !packet.sequenceHeader) return;
    if (packet.kind === "video" && !packet.sequenceHeader) {
      if (!this.receiveVideo) return;
      if (this.#waitingForKeyframe) {
        if (!packet.keyframe) return;
        this.#waitingForKeyframe = false;
      }
    }
    super.write(packet);
  }

  pause(paused: boolean): void {
    this.#paused = paused;
    if (!paused) this.#waitingForKeyframe = true;
  }

  protected end(error?: Error): void {
    const t = this.#transport;
    const id = this.streamId;
    const code = (error as { code?: string } | undefined)?.code;
    if (code === StreamErrorCode.notFound) {
      t.send(
        statusMessage(id, {
          level: "error",
          code: "NetStream.Play.StreamNotFound",
          description: error?.message ?? "",
        }),
      );
    } else if (code !== StreamErrorCode.closed || error === undefined) {
      t.send(userControlMessage(UserControlEvent.streamEof, id));
      t.send(
        statusMessage(id, {
          level: "status",
          code: "NetStream.Play.UnpublishNotify",
          description: `${this.info.name} is now unpublished.`,
        }),
      );
      t.send(
        statusMessage(id, {
          level: "status",
          code: "NetStream.Play.Stop",
          description: `Stopped playing ${this.info.name}.`,
        }),
      );
    }
    t.released(id, error);
  }
}
