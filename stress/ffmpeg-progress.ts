/** ffmpeg as a publisher and as a player that report, ten times a second, how many video frames they have handled. */
import {
  type RunningProcess,
  run,
  type TestStreamOptions,
  testStreamArgs,
} from "../test-support/media-tools.js";

export interface CountingFfmpeg {
  process: RunningProcess;
  /** Video frames encoded (publisher) or decoded (player) so far, from ffmpeg's `-progress` output. */
  frames(): number;
}

/** The last `frame=N` ffmpeg's `-progress pipe:1` has printed. */
function lastFrameCount(progress: string): number {
  const at = progress.lastIndexOf("\nframe=");
  if (at === -1) return progress.startsWith("frame=") ? Number.parseInt(progress.slice(6), 10) : 0;
  return Number.parseInt(progress.slice(at + 7), 10) || 0;
}

function counting(process: RunningProcess): CountingFfmpeg {
  return { process, frames: () => lastFrameCount(process.stdout()) };
}

const PROGRESS = ["-stats_period", "0.1", "-progress", "pipe:1", "-nostats"];

/** Publishes a generated stream (real time) to `url` and counts the frames it encodes. */
export function publishCounting(url: string, options: TestStreamOptions): CountingFfmpeg {
  return counting(run("ffmpeg", [...PROGRESS, ...testStreamArgs(options), "-f", "flv", url]));
}

/** Plays `url` (RTMP or HTTP-FLV), decodes every frame and throws it away, counting video frames. */
export function playCounting(url: string): CountingFfmpeg {
  return counting(
    run("ffmpeg", [
      "-hide_banner",
      "-loglevel",
      "error",
      ...PROGRESS,
      "-i",
      url,
      "-map",
      "0:v",
      "-f",
      "null",
      "-",
    ]),
  );
}
