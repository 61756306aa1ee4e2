/** Real peers for interop tests: ffmpeg and ffprobe as child processes, with cleanup. */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function hasCommand(command: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether an interop tool is here. Outside CI a missing tool skips its tests (a laptop without
 * nginx can still run the rest); in CI (`CI` set, as `.ci/run` does) a missing tool throws, so the
 * test file fails to load and is counted as a failure instead of skipping in silence.
 */
export function requireTool(name: string, available: boolean): boolean {
  if (!available && process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false") {
    throw new Error(`${name} is missing, and CI must run every interop test: install it (see .ci/run)`);
  }
  return available;
}

export const hasFfmpeg = requireTool("ffmpeg and ffprobe", hasCommand("ffmpeg") && hasCommand("ffprobe"));

/** A free loopback TCP port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = "onair-test-"): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface RunningProcess {
  child: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  /** Resolves with the exit code (or the signal name) when the process ends. */
  exited: Promise<number | string>;
  kill: (signal?: NodeJS.Signals) => void;
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export function run(command: string, args: string[]): RunningProcess {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let stderr = "";
  let stdout = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
  });
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? -1);
    });
  });
  return {
    child,
    stderr: () => stderr,
    stdout: () => stdout,
    exited,
    kill: (signal = "SIGKILL") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

export interface TestStreamOptions {
  seconds: number;
  width?: number;
  height?: number;
  fps?: number;
  /** Keyframe interval in frames. Default fps (1 s GOP). */
  gop?: number;
  /** Publish in real time (-re). Default true. */
  realtime?: boolean;
}

/** ffmpeg args for a generated H.264 + AAC test stream, without the output. */
export function testStreamArgs(options: TestStreamOptions): string[] {
  const { seconds, width = 320, height = 240, fps = 25 } = options;
  const gop = options.gop ?? fps;
  return [
    "-hide_banner",
    "-loglevel",
    "error",
    ...(options.realtime === false ? [] : ["-re"]),
    "-f",
    "lavfi",
    "-i",
    `testsrc=size=${width}x${height}:rate=${fps}:duration=${seconds}`,
    "-f",
    "lavfi",
    "-i",
    `sine=frequency=440:sample_rate=44100:duration=${seconds}`,
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-tune",
    "zerolatency",
    "-pix_fmt",
    "yuv420p",
    "-g",
    String(gop),
    "-keyint_min",
    String(gop),
    "-sc_threshold",
    "0",
    "-c:a",
    "aac",
    "-b:a",
    "64k",
  ];
}

/** ffmpeg publishing a generated stream to `url` over RTMP. */
export function publishWithFfmpeg(url: string, options: TestStreamOptions): RunningProcess {
  return run("ffmpeg", [...testStreamArgs(options), "-f", "flv", url]);
}

/** Write a generated stream to an FLV file (not real time). */
export async function makeFlvFile(path: string, options: Omit<TestStreamOptions, "realtime">): Promise<void> {
  const p = run("ffmpeg", ["-y", ...testStreamArgs({ ...options, realtime: false }), "-f", "flv", path]);
  const code = await p.exited;
  if (code !== 0) throw new Error(`ffmpeg failed (${code}): ${p.stderr()}`);
}

export interface ProbedFrame {
  mediaType: "video" | "audio";
  keyFrame: boolean;
  pictType?: string;
  ptsTime: number;
}

export interface ProbeResult {
  streams: {
    codec_name: string;
    codec_type: string;
    width?: number;
    height?: number;
    sample_rate?: string;
  }[];
  frames: ProbedFrame[];
  stderr: string;
  exitCode: number | string;
}

/** ffprobe decodes every frame of `input` (a URL or file) until it ends; gives streams and frames. */
export async function probeFrames(
  input: string,
  extraArgs: string[] = [],
  timeoutMs = 60_000,
): Promise<ProbeResult> {
  const p = run("ffprobe", [
    "-v",
    "error",
    ...extraArgs,
    "-show_streams",
    "-show_frames",
    "-show_entries",
    "frame=media_type,key_frame,pict_type,pts_time,pkt_pts_time,best_effort_timestamp_time:stream=codec_name,codec_type,width,height,sample_rate",
    "-of",
    "json",
    input,
  ]);
  const timer = setTimeout(() => p.kill(), timeoutMs);
  const exitCode = await p.exited;
  clearTimeout(timer);
  let parsed: { streams?: ProbeResult["streams"]; frames?: Record<string, string | number>[] } = {};
  try {
    parsed = JSON.parse(p.stdout() || "{}");
  } catch {
    parsed = {};
  }
  const frames = (parsed.frames ?? []).map((f) => ({
    mediaType: f.media_type as "video" | "audio",
    keyFrame: Number(f.key_frame) === 1,
    pictType: f.pict_type as string | undefined,
    ptsTime: Number(f.pts_time ?? f.best_effort_timestamp_time ?? f.pkt_pts_time ?? Number.NaN),
  }));
  return { streams: parsed.streams ?? [], frames, stderr: p.stderr(), exitCode };
}

/** Resolves when `predicate` holds, polling; rejects after `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 10_000,
  what = "condition",
): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
