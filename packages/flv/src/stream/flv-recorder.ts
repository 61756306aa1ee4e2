import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { open } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { BatchingWriter, type MediaPacket, nextStreamId, type StreamHub, type StreamInfo } from "@onair/core";
import createDebug from "debug";
import {
  encodeFlvHeader,
  FLV_PREVIOUS_TAG_SIZE_LENGTH,
  FLV_TAG_HEADER_LENGTH,
  flvTagEncoder,
} from "../codec/flv-muxer.js";
import { FlvError, FlvErrorCode } from "../errors.js";
import { isSafePathPart } from "../safe-path.js";

const debug = createDebug("onair:flv:recorder");

/** "2026-11-23T06-04-50-279Z": a start time that is safe in a file name. */
function fileTime(date: Date): string {
  return date.toISOString().replace(/[:.]/g, "-");
}

/** The recording path DIR/APP/NAME-<start time>.flv, or an FlvError when a part is unsafe. */
export function recordingPath(dir: string, app: string, name: string, startedAt: Date): string {
  if (!isSafePathPart(app) || !isSafePathPart(name)) {
    throw new FlvError(
      FlvErrorCode.path,
      `unsafe stream key for a recording path: ${JSON.stringify(`${app}/${name}`)}`,
    );
  }
  return join(resolve(dir), app, `${name}-${fileTime(startedAt)}.flv`);
}

/** An AMF0 ECMA-array key followed by the number marker: `len:16 "name" 0x00`, then a double. */
function amfNumberKey(name: string): Buffer {
  const key = Buffer.alloc(2 + name.length + 1);
  key.writeUInt16BE(name.length, 0);
  key.write(name, 2, "latin1");
  return key; // the last byte, 0x00, is AMF0's number marker
}
const DURATION_KEY = amfNumberKey("duration");
const FILESIZE_KEY = amfNumberKey("filesize");
const ON_METADATA = Buffer.from("\x02\x00\x0aonMetaData", "latin1");

/** Whether a script tag body is onMetaData (AMF0 string "onMetaData" first). */
function isMetadata(body: Buffer): boolean {
  return body.length >= ON_METADATA.length && ON_METADATA.equals(body.subarray(0, ON_METADATA.length));
}

/** Metadata tags whose numbers are rewritten at close; a stream sending more keeps the rest as sent. */
const MAX_PATCHED_METADATA = 1024;

/**
 * Records one stream to an FLV file; the file is complete and valid once the writer closes.
 *
 * The source's onMetaData is recorded as it came, and made true when the recording ends: its
 * `duration` and `filesize` (when it has them) are rewritten in place with what the file holds,
 * as ffmpeg's FLV muxer does for a seekable output. A looped or cut source would otherwise claim
 * its clip's length.
 */
export class FlvRecorder extends BatchingWriter {
  readonly path: string;
  readonly #file: WriteStream;
  /** Resolves when the file is flushed, its metadata made true, and closed. */
  readonly finished: Promise<void>;
  #written = 0;
  #firstTimestamp: number | undefined;
  /** Where the recording ends: per kind, the last timestamp plus the last frame's length. */
  readonly #last = { audio: { at: -1, step: 0 }, video: { at: -1, step: 0 } };
  /** File offsets of the doubles to rewrite at close. */
  readonly #durationAt: number[] = [];
  readonly #filesizeAt: number[] = [];
  #failed = false;
  /** The last onMetaData body recorded. */
  #metadata: Buffer | undefined;

  constructor(info: StreamInfo, path: string) {
    const file = createWriteStream(path, { flags: "wx" });
    super(info, file, flvTagEncoder);
    this.path = path;
    this.#file = file;
    this.finished = new Promise((resolveFinished) => {
      file.once("close", () => {
        if (this.#failed) resolveFinished();
        else void this.#patchMetadata().finally(resolveFinished);
      });
      file.once("error", (error) => {
        debug("recording %s failed: %s", path, error.message);
        this.#failed = true;
        this.close(error);
        resolveFinished();
      });
    });
  }

  /** Seconds of media recorded so far, as the tag timestamps span it. */
  get duration(): number {
    if (this.#firstTimestamp === undefined) return 0;
    const { audio, video } = this.#last;
    const end = Math.max(audio.at < 0 ? 0 : audio.at + audio.step, video.at < 0 ? 0 : video.at + video.step);
    return Math.max(0, end - this.#firstTimestamp) / 1000;
  }

  start(): void {
    const header = encodeFlvHeader({ audio: true, video: true });
    this.writeBytes(header);
    this.#written += header.length;
  }

  override write(packet: MediaPacket): void {
    if (this.closed) return;
    if (packet.kind === "script" && isMetadata(packet.payload)) {
      // A repeat of the metadata already recorded (a looped source sends it every pass, the hub
      // again after a republish) says nothing new, and a file that repeats it mid-way makes
      // ffprobe 5.1 crash. Changed metadata is recorded.
      if (this.#metadata !== undefined && packet.payload.equals(this.#metadata)) return;
      this.#metadata = packet.payload;
    }
    super.write(packet);
    const tagAt = this.#written;
    this.#written += FLV_TAG_HEADER_LENGTH + packet.payload.length + FLV_PREVIOUS_TAG_SIZE_LENGTH;
    if (packet.kind === "script") {
      if (this.#durationAt.length + this.#filesizeAt.length >= MAX_PATCHED_METADATA) return;
      this.#noteNumber(packet.payload, DURATION_KEY, tagAt, this.#durationAt);
      this.#noteNumber(packet.payload, FILESIZE_KEY, tagAt, this.#filesizeAt);
      return;
    }
    if (packet.sequenceHeader) return;
    const t = packet.timestamp;
    this.#firstTimestamp ??= t;
    const last = this.#last[packet.kind];
    if (last.at >= 0 && t > last.at) last.step = t - last.at;
    if (t >= last.at) last.at = t;
  }

  #noteNumber(body: Buffer, key: Buffer, tagAt: number, offsets: number[]): void {
    const at = body.indexOf(key);
    if (at >= 0 && at + key.length + 8 <= body.length) {
      offsets.push(tagAt + FLV_TAG_HEADER_LENGTH + at + key.length);
    }
  }

  /** Rewrite the recorded onMetaData's duration and filesize with the file's own. */
  async #patchMetadata(): Promise<void> {
    if (this.#durationAt.length === 0 && this.#filesizeAt.length === 0) return;
    try {
      const handle = await open(this.path, "r+");
      try {
        const { size } = await handle.stat();
        const number = Buffer.alloc(8);
        const patch = async (offsets: number[], value: number): Promise<void> => {
          number.writeDoubleBE(value);
          for (const offset of offsets) {
            if (offset + 8 <= size) await handle.write(number, 0, 8, offset);
          }
        };
        await patch(this.#durationAt, this.duration);
        await patch(this.#filesizeAt, size);
      } finally {
        await handle.close();
      }
    } catch (error) {
      debug("recording %s: metadata not updated: %s", this.path, (error as Error).message);
    }
  }

  protected end(): void {
    this.#file.end();
  }
}

export interface FlvRecordingOptions {
  /** Root folder; recordings go to DIR/APP/NAME-<start time>.flv. */
  dir: string;
  /** Which streams to record. Default: all. */
  filter?: (info: StreamInfo) => boolean;
}

/**
 * Record every stream published to `hub` (livego's flv_dir). Returns a function that stops
 * recording new streams and resolves when every open recording is closed.
 */
export function recordStreams(
  hub: StreamHub,
  options: FlvRecordingOptions,
): { recordings: Set<FlvRecorder>; stop: () => Promise<void> } {
  const recordings = new Set<FlvRecorder>();
  const onPublish = (publisher: StreamInfo): void => {
    if (options.filter !== undefined && !options.filter(publisher)) return;
    let path: string;
    try {
      path = recordingPath(options.dir, publisher.app, publisher.name, new Date());
      mkdirSync(join(resolve(options.dir), publisher.app), { recursive: true });
    } catch (error) {
      debug("not recording %s: %s", publisher.key, (error as Error).message);
      return;
    }
    // The recorder's own info: a file, not the publisher's peer (logs and /streams tell it apart).
    const { remoteAddress: _publisherAddress, ...stream } = publisher;
    const recorder = new FlvRecorder(
      { ...stream, id: nextStreamId("flv-record-"), url: pathToFileURL(path).href },
      path,
    );
    recordings.add(recorder);
    recorder.onClose(() => {
      void recorder.finished.then(() => recordings.delete(recorder));
    });
    hub.handleWriter(recorder);
  };
  hub.on("publish", onPublish);
  return {
    recordings,
    stop: async () => {
      hub.off("publish", onPublish);
      const open = [...recordings];
      for (const recorder of open) recorder.close();
      await Promise.all(open.map((r) => r.finished));
    },
  };
}
