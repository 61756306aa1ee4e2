import { readFileSync } from "node:fs";
import {
  createMediaPacket,
  type MediaPacket,
  nextStreamId,
  type StreamInfo,
  StreamSource,
} from "@onair/core";
import { FlvDemuxer } from "../codec/flv-demuxer.js";
import { createPacketFromTagBody } from "../codec/tag-body.js";
import { FlvError, FlvErrorCode } from "../errors.js";

export interface FlvFileSourceOptions {
  /** Stream key parts. */
  app: string;
  name: string;
  /** Start again from the top when the file ends, timestamps continuing. Default false. */
  loop?: boolean;
  /** Largest tag accepted from the file, in bytes. Default 16 MiB. */
  maxTagSize?: number;
}

/**
 * A reader that publishes an FLV file in real time, paced by its tag timestamps: for examples,
 * tests and benchmarks. `hub.handleReader(source)` starts nothing; `start()` does.
 */
export class FlvFileSource extends StreamSource {
  readonly #packets: MediaPacket[];
  readonly #loop: boolean;
  #timer: NodeJS.Timeout | undefined;
  #index = 0;
  #offset = 0;
  #startedAt = 0;
  #firstTimestamp = 0;

  constructor(path: string, options: FlvFileSourceOptions) {
    const info: StreamInfo = {
      key: `${options.app}/${options.name}`,
      app: options.app,
      name: options.name,
      url: `file://${path}`,
      id: nextStreamId("flv-file-"),
    };
    super(info);
    this.#loop = options.loop === true;
    const demuxer = new FlvDemuxer({ maxTagSize: options.maxTagSize });
    const packets: MediaPacket[] = [];
    demuxer.push(readFileSync(path), (tag) => {
      // Copy: the file buffer should not stay alive through every packet slice.
      packets.push(createPacketFromTagBody(tag.kind, tag.timestamp, Buffer.from(tag.body)));
    });
    if (demuxer.header === undefined || packets.length === 0) {
      throw new FlvError(FlvErrorCode.truncated, `${path} holds no FLV tags`);
    }
    this.#packets = packets;
    this.#firstTimestamp = packets[0].timestamp;
  }

  /** Number of tags in one pass of the file. */
  get tagCount(): number {
    return this.#packets.length;
  }

  /** Start publishing (call after the handler attached it). */
  start(): void {
    if (this.#timer !== undefined || this.closed) return;
    this.#startedAt = Date.now();
    this.#tick();
  }

  /** The handler refused or closed this source: stop the clock too. */
  override close(error?: Error): void {
    this.#clearTimer();
    super.close(error);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Stop publishing and end the stream. Idempotent. */
  stop(): void {
    this.#clearTimer();
    if (!this.closed) this.end();
  }

  #tick = (): void => {
    this.#timer = undefined;
    const elapsed = Date.now() - this.#startedAt;
    const packets = this.#packets;
    for (;;) {
      if (this.#index === packets.length) {
        if (!this.#loop) {
          this.stop();
          return;
        }
        // The next pass starts one frame (at 25 fps) after the last tag of this one.
        this.#offset += packets[packets.length - 1].timestamp - this.#firstTimestamp + 40;
        this.#index = 0;
      }
      const packet = packets[this.#index];
      const due = this.#offset + packet.timestamp - this.#firstTimestamp;
      if (due > elapsed) {
        this.#timer = setTimeout(this.#tick, due - elapsed);
        return;
      }
      this.#index += 1;
      // A fresh packet per push: encoded wire forms must not pile up on the file's packets.
      this.push(createMediaPacket(packet.kind, packet.timestamp + this.#offset, packet.payload, packet));
    }
  };
}
