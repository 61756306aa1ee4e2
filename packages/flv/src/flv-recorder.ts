import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { join, resolve } from "node:path";
import { BatchingWriter, nextStreamId, type StreamHub, type StreamInfo } from "@onair/core";
import createDebug from "debug";
import { FlvError, FlvErrorCode } from "./errors.js";
import { encodeFlvHeader, flvTagEncoder } from "./flv-muxer.js";
import { isSafePathPart } from "./safe-path.js";

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

/** Records one stream to an FLV file; the file is complete and valid once the writer closes. */
export class FlvRecorder extends BatchingWriter {
  readonly path: string;
  readonly #file: WriteStream;
  /** Resolves when the file is flushed and closed. */
  readonly finished: Promise<void>;

  constructor(info: StreamInfo, path: string) {
    const file = createWriteStream(path, { flags: "wx" });
    super(info, file, flvTagEncoder);
    this.path = path;
    this.#file = file;
    this.finished = new Promise((resolveFinished) => {
      file.once("close", () => resolveFinished());
      file.once("error", (error) => {
        debug("recording %s failed: %s", path, error.message);
        this.close(error);
        resolveFinished();
      });
    });
  }

  start(): void {
    this.writeBytes(encodeFlvHeader({ audio: true, video: true }));
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
    const recorder = new FlvRecorder(
      { ...publisher, id: nextStreamId("flv-record-"), url: `file://${path}` },
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
