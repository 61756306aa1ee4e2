/**
 * The HLS part of `pnpm bench` (`--hls remux,delivery,latency`): onair's HLS against ffmpeg and
 * nginx-rtmp measured in the same run, printed as ratios. See BENCHMARKS.md ("HLS").
 *
 * - remux: a 60 s 720p30 H.264/AAC FLV into 2 s segments on tmpfs, onair's whole process (a node
 *   process running the bundled bench/hls-remux-process.ts: FLV file → StreamHub → HlsStreams →
 *   files) against `ffmpeg -i in.flv -c copy -f hls` (TS, and `-hls_segment_type fmp4` for
 *   fMP4); CPU seconds (user + sys of the exited child, from this process's cutime/cstime), the
 *   median of several runs.
 * - delivery: N viewers from bench/hls-load-client.ts (hls.js's polling for TS; blocking reload
 *   and parts for LL) against onair (bench/hls-server.ts) and nginx-rtmp's HLS from tmpfs served
 *   by the same nginx; server CPU per delivered GB. Each server ingests the stream for 30 s before
 *   viewers come (steady state: a fresh Node process spends its first half-minute compiling, at
 *   about 2.5× the CPU of what follows; nginx gets the same 30 s).
 * - latency: hls.js's own `hls.latency` in Chromium on a live 1 s GOP stream (bench/hls-latency.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { freePort, hasCommand, run, waitFor } from "../test-support/media-tools.js";
import { NGINX_RTMP_MODULE, waitForListening } from "../test-support/nginx-rtmp.js";
import {
  type HlsLatencyRow,
  type HlsLatencyTarget,
  latencyTable,
  measureHlsLatency,
  waitForSegments,
} from "./hls-latency.js";
import { startNginxHls } from "./hls-nginx.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const cache = join(root, "bench/.cache");
const shm = existsSync("/dev/shm") ? "/dev/shm" : "/tmp";

export type HlsBenchPart = "remux" | "delivery" | "latency";

export interface HlsBenchOptions {
  parts: HlsBenchPart[];
  quick: boolean;
  /** Viewer counts for delivery. */
  viewers: number[];
  /** Delivery measuring window, ms. */
  windowMs: number;
  /** Remux runs per tool (the median is reported). */
  runs: number;
  /** Seconds of play per latency measurement. */
  latencyPlayS: number;
  /** Pin servers to core 0 and clients to the others. */
  pin: boolean;
  log: (line: string) => void;
}

export interface RemuxRow {
  tool: string;
  format: "ts" | "fmp4";
  runs: number[];
  medianCpuS: number;
  /** onair only: CPU inside the process from the first byte read to the last file written (median). */
  medianInProcessCpuS?: number;
  segments: number;
}

export interface DeliveryRow {
  server: string;
  mode: "poll" | "ll";
  viewers: number;
  keptUp: number;
  errors: number;
  requestsPerS: number;
  deliveredMb: number;
  cpuSeconds: number;
  cpuSecondsPerGb: number;
  systemShare: number;
  rssMb: number;
  firstMediaP50Ms: number;
}

export interface HlsBenchResult {
  remux: RemuxRow[];
  delivery: DeliveryRow[];
  latency: HlsLatencyRow[];
  markdown: string;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)];
};
const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : "–");

/** utime + stime of the waited-for children of this process so far (cutime + cstime), seconds. */
function childrenCpuSeconds(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

/** utime and stime of a process, in seconds. */
function cpuOf(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function ffmpegMake(path: string, args: string[]): Promise<string> {
  if (existsSync(path)) return path;
  mkdirSync(cache, { recursive: true });
  const p = run("ffmpeg", ["-y", "-hide_banner", "-loglevel", "error", ...args, `${path}.tmp.flv`]);
  if ((await p.exited) !== 0) throw new Error(`ffmpeg failed: ${p.stderr()}`);
  const { renameSync } = await import("node:fs");
  renameSync(`${path}.tmp.flv`, path);
  return path;
}

/** A 2.66 Mbps H.264 + AAC FLV with a 2 s GOP (720p30, 60 s; 320x240, 10 s when quick). */
function remuxFile(quick: boolean): Promise<string> {
  const spec = quick
    ? { name: "hls-remux-quick.flv", size: "320x240", kbps: 500, seconds: 10 }
    : { name: "remux-60s-720p.flv", size: "1280x720", kbps: 2600, seconds: 60 };
  return ffmpegMake(join(cache, spec.name), [
    ...["-f", "lavfi", "-i", `testsrc2=size=${spec.size}:rate=30:duration=${spec.seconds}`],
    ...["-f", "lavfi", "-i", `sine=frequency=440:sample_rate=44100:duration=${spec.seconds}`],
    ...["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"],
    ...["-b:v", `${spec.kbps}k`, "-maxrate", `${spec.kbps}k`, "-bufsize", `${spec.kbps}k`],
    ...["-x264-params", "nal-hrd=cbr", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0"],
    ...["-c:a", "aac", "-b:a", "64k", "-f", "flv"],
  ]);
}

/** Bundles bench/hls-remux-process.ts into one CommonJS file: Node loads it as it would a build. */
async function bundleRemuxProcess(): Promise<string> {
  const out = join(cache, "hls-remux-process.cjs");
  const esbuild = join(root, "node_modules/.bin/esbuild");
  const p = run(esbuild, [
    join(root, "bench/hls-remux-process.ts"),
    ...["--bundle", "--platform=node", "--format=cjs", "--target=node20", "--conditions=source"],
    "--log-level=error",
    `--outfile=${out}`,
  ]);
  if ((await p.exited) !== 0) throw new Error(`esbuild failed: ${p.stderr()}`);
  return out;
}

async function measureChild(command: string, args: string[]): Promise<{ cpuS: number; stdout: string }> {
  const before = childrenCpuSeconds();
  const p = run(command, args);
  const code = await p.exited;
  if (code !== 0) throw new Error(`${command} failed (${code}): ${p.stderr().slice(-2000)}`);
  return { cpuS: childrenCpuSeconds() - before, stdout: p.stdout() };
}

async function benchRemux(options: HlsBenchOptions): Promise<RemuxRow[]> {
  const file = await remuxFile(options.quick);
  const bundle = await bundleRemuxProcess();
  const rows: RemuxRow[] = [];
  for (const format of ["ts", "fmp4"] as const) {
    const onair: number[] = [];
    const inProcess: number[] = [];
    const ffmpeg: number[] = [];
    let onairSegments = 0;
    let ffmpegSegments = 0;
    // Alternate the tools run by run, so a busy moment on the machine hits both.
    for (let i = 0; i < options.runs; i++) {
      const out = mkdtempSync(join(shm, "onair-bench-remux-"));
      try {
        const ours = await measureChild("node", [bundle, file, out, format, "2000"]);
        const report = JSON.parse(ours.stdout.trim().split("\n").pop() ?? "{}") as {
          segments: number;
          cpuMs: number;
        };
        onair.push(ours.cpuS);
        inProcess.push(report.cpuMs / 1000);
        onairSegments = report.segments;
        rmSync(out, { recursive: true, force: true });
        mkdirSync(out);
        const theirs = await measureChild("ffmpeg", [
          ...["-hide_banner", "-loglevel", "error", "-y", "-i", file, "-c", "copy", "-f", "hls"],
          ...["-hls_time", "2", "-hls_list_size", "0"],
          ...(format === "fmp4" ? ["-hls_segment_type", "fmp4"] : []),
          join(out, "ffmpeg.m3u8"),
        ]);
        ffmpeg.push(theirs.cpuS);
        ffmpegSegments = readFileSync(join(out, "ffmpeg.m3u8"), "utf8").split("#EXTINF").length - 1;
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    }
    rows.push({
      tool: "onair",
      format,
      runs: onair,
      medianCpuS: median(onair),
      medianInProcessCpuS: median(inProcess),
      segments: onairSegments,
    });
    rows.push({
      tool: "ffmpeg -c copy -f hls",
      format,
      runs: ffmpeg,
      medianCpuS: median(ffmpeg),
      segments: ffmpegSegments,
    });
    options.log(
      `remux ${format}: onair ${fmt(median(onair), 3)} s (in process ${fmt(median(inProcess), 3)} s), ffmpeg ${fmt(median(ffmpeg), 3)} s CPU`,
    );
  }
  return rows;
}

function remuxTable(rows: RemuxRow[]): string {
  const lines = [
    "| tool | segments | CPU s per run (user + sys) | median CPU s | onair in-process median s |",
    "| --- | --- | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${r.tool} (${r.format}) | ${r.segments} | ${r.runs.map((x) => fmt(x, 2)).join(", ")} | ${fmt(r.medianCpuS, 3)} | ${r.medianInProcessCpuS === undefined ? "" : fmt(r.medianInProcessCpuS, 3)} |`,
    ),
    "",
  ];
  for (const format of ["ts", "fmp4"] as const) {
    const ours = rows.find((r) => r.tool === "onair" && r.format === format);
    const theirs = rows.find((r) => r.tool !== "onair" && r.format === format);
    if (ours === undefined || theirs === undefined) continue;
    lines.push(
      `- remux ${format}: onair / ffmpeg CPU ${fmt(ours.medianCpuS / theirs.medianCpuS)}× (goal ≤ 0.5×); without Node's start-up (in-process) ${fmt((ours.medianInProcessCpuS ?? Number.NaN) / theirs.medianCpuS)}×`,
    );
  }
  return lines.join("\n");
}

interface HlsServerUnderTest {
  name: string;
  mode: "poll" | "ll";
  pid: number;
  rtmpUrl: string;
  playlistUrl: string;
  stop: () => Promise<void>;
}

const pinned = (options: HlsBenchOptions) =>
  options.pin && hasCommand("taskset") && availableParallelism() >= 2;
function onCores(options: HlsBenchOptions, cores: "server" | "client", command: string, args: string[]) {
  if (!pinned(options)) return [command, args] as [string, string[]];
  const list = cores === "server" ? "0" : `1-${availableParallelism() - 1}`;
  return ["taskset", ["-c", list, command, ...args]] as [string, string[]];
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}

/** onair's HLS server process (bench/hls-server.ts). */
async function startOnairHls(
  options: HlsBenchOptions,
  variant: "ts" | "fmp4" | "low-latency",
  targetMs?: number,
  partTargetMs?: number,
): Promise<HlsServerUnderTest> {
  const rtmpPort = await freePort();
  const hlsPort = await freePort();
  const [file, argv] = onCores(options, "server", "node", [
    ...["--conditions=source", "--import", "tsx", join(root, "bench/hls-server.ts")],
    ...[String(rtmpPort), String(hlsPort), variant, String(targetMs ?? "-"), String(partTargetMs ?? "-")],
  ]);
  const child = spawn(file, argv, { stdio: ["ignore", "ignore", "inherit"] });
  await Promise.all([waitForListening(rtmpPort, 20_000), waitForListening(hlsPort, 20_000)]);
  return {
    name: `onair HLS ${variant}`,
    mode: variant === "low-latency" ? "ll" : "poll",
    pid: child.pid as number,
    rtmpUrl: `rtmp://127.0.0.1:${rtmpPort}/live/bench`,
    playlistUrl: `http://127.0.0.1:${hlsPort}/live/bench.m3u8`,
    stop: () => stopChild(child),
  };
}

async function startNginx(options: HlsBenchOptions, fragmentS?: number): Promise<HlsServerUnderTest> {
  const nginx = await startNginxHls({
    fragmentS,
    wrap: (command, args) => onCores(options, "server", command, args),
  });
  return {
    name: nginx.name,
    mode: "poll",
    pid: nginx.pid,
    rtmpUrl: nginx.rtmpUrl("bench"),
    playlistUrl: nginx.playlistUrl("bench"),
    stop: nginx.stop,
  };
}

/** How long each server ingests before the viewers come (see the header). */
const INGEST_WARMUP_MS = 30_000;

async function measureDelivery(
  options: HlsBenchOptions,
  server: HlsServerUnderTest,
  file: string,
  viewers: number,
): Promise<DeliveryRow> {
  const publisher = run(
    ...onCores(options, "client", "ffmpeg", [
      ...["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", file],
      ...["-c", "copy", "-f", "flv", server.rtmpUrl],
    ]),
  );
  try {
    // Segments exist before the first viewer comes (hls.js starts three segments from the end).
    await waitForSegments(server.playlistUrl, options.quick ? 1 : 3, 30_000);
    if (publisher.child.exitCode !== null) throw new Error(`ffmpeg exited: ${publisher.stderr()}`);
    if (!options.quick) await sleep(INGEST_WARMUP_MS);
    const warmupMs = options.quick ? 1000 : 4000;
    const load = run(
      ...onCores(options, "client", "node", [
        ...["--conditions=source", "--import", "tsx", join(root, "bench/hls-load-client.ts")],
        ...[
          server.mode,
          server.playlistUrl,
          String(viewers),
          "200",
          String(warmupMs),
          String(options.windowMs),
        ],
      ]),
    );
    await waitFor(
      () => load.stderr().includes("window start") || load.child.exitCode !== null,
      120_000,
      "load window",
    );
    const start = cpuOf(server.pid);
    await load.exited;
    const end = cpuOf(server.pid);
    const rss = rssMb(server.pid);
    const report = JSON.parse(load.stdout().trim().split("\n").pop() ?? "{}") as {
      viewers: {
        firstMediaMs: number;
        windowBytes: number;
        windowRequests: number;
        windowMediaS: number;
        errors: number;
      }[];
    };
    const delivered = report.viewers.reduce((sum, v) => sum + v.windowBytes, 0);
    const cpu = end.user + end.system - start.user - start.system;
    const windowS = options.windowMs / 1000;
    return {
      server: server.name,
      mode: server.mode,
      viewers,
      // A viewer kept up when it received media for at least 90% of the window's length.
      keptUp: report.viewers.filter((v) => v.windowMediaS >= 0.9 * windowS - 2).length,
      errors: report.viewers.reduce((sum, v) => sum + v.errors, 0),
      requestsPerS: report.viewers.reduce((sum, v) => sum + v.windowRequests, 0) / windowS,
      deliveredMb: delivered / 1e6,
      cpuSeconds: cpu,
      cpuSecondsPerGb: cpu / (delivered / 1e9),
      systemShare: (end.system - start.system) / cpu,
      rssMb: rss,
      firstMediaP50Ms: median(report.viewers.map((v) => v.firstMediaMs).filter((ms) => ms >= 0)),
    };
  } finally {
    publisher.kill();
    await publisher.exited;
  }
}

async function benchDelivery(options: HlsBenchOptions): Promise<DeliveryRow[]> {
  // The fan-out bench's stream: 2.66 Mbps 720p30 with a 2 s GOP (so 2 s segments everywhere).
  const file = await remuxFile(options.quick);
  const hasNginx = hasCommand("nginx") && existsSync(NGINX_RTMP_MODULE);
  const servers: (() => Promise<HlsServerUnderTest>)[] = [
    () => startOnairHls(options, "ts"),
    () => startOnairHls(options, "low-latency"),
    ...(hasNginx ? [() => startNginx(options, 2)] : []),
  ];
  if (!hasNginx) options.log("nginx-rtmp is not installed: no delivery anchor");
  const rows: DeliveryRow[] = [];
  for (const start of servers) {
    const server = await start();
    try {
      for (const viewers of options.viewers) {
        const row = await measureDelivery(options, server, file, viewers);
        rows.push(row);
        options.log(
          `delivery ${row.server} ${viewers} viewers: ${fmt(row.cpuSecondsPerGb)} CPU s/GB, ${row.keptUp} kept up, ${row.errors} errors, ${fmt(row.requestsPerS, 0)} req/s`,
        );
      }
    } finally {
      await server.stop();
    }
  }
  return rows;
}

function deliveryTable(rows: DeliveryRow[]): string {
  const lines = [
    "| server | viewers | kept up | errors | requests/s | delivered MB | server CPU s | CPU s per GB (kernel %) | RSS MB | first media p50 ms |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${r.server} | ${r.viewers} | ${r.keptUp} | ${r.errors} | ${fmt(r.requestsPerS, 0)} | ${fmt(r.deliveredMb, 0)} | ${fmt(r.cpuSeconds)} | ${fmt(r.cpuSecondsPerGb)} (${fmt(r.systemShare * 100, 0)}%) | ${fmt(r.rssMb, 0)} | ${fmt(r.firstMediaP50Ms, 0)} |`,
    ),
    "",
  ];
  for (const r of rows.filter((x) => x.server.startsWith("onair"))) {
    const anchor = rows.find((x) => x.server.startsWith("nginx") && x.viewers === r.viewers);
    if (anchor === undefined) continue;
    lines.push(
      `- ${r.server} / ${anchor.server}, ${r.viewers} viewers: CPU per GB ${fmt(r.cpuSecondsPerGb / anchor.cpuSecondsPerGb)}×${r.mode === "poll" ? " (goal ≤ 1.0×)" : " (LL: blocking reloads and parts against nginx's plain TS)"}`,
    );
  }
  return lines.join("\n");
}

async function benchLatency(options: HlsBenchOptions): Promise<HlsLatencyRow[]> {
  const hasNginx = hasCommand("nginx") && existsSync(NGINX_RTMP_MODULE);
  const target =
    (start: () => Promise<HlsServerUnderTest>, name?: string) => async (): Promise<HlsLatencyTarget> => {
      const server = await start();
      return {
        name: name ?? server.name,
        rtmpUrl: server.rtmpUrl,
        playlistUrl: server.playlistUrl,
        stop: server.stop,
      };
    };
  const unpinned = { ...options, pin: false };
  return measureHlsLatency(
    [
      target(() => startOnairHls(unpinned, "ts")),
      target(() => startOnairHls(unpinned, "low-latency")),
      ...(hasNginx
        ? [
            target(() => startNginx(unpinned), "nginx-rtmp HLS (defaults)"),
            target(() => startNginx(unpinned, 1), "nginx-rtmp HLS (1 s fragments)"),
          ]
        : []),
    ],
    { playS: options.latencyPlayS, log: options.log },
  );
}

export async function runHlsBench(options: HlsBenchOptions): Promise<HlsBenchResult> {
  const sections: string[] = ["## HLS", ""];
  const remux = options.parts.includes("remux") ? await benchRemux(options) : [];
  if (remux.length > 0) sections.push("### Remux (CPU seconds, median)", "", remuxTable(remux), "");
  const delivery = options.parts.includes("delivery") ? await benchDelivery(options) : [];
  if (delivery.length > 0)
    sections.push("### Delivery (server CPU per delivered GB)", "", deliveryTable(delivery), "");
  const latency = options.parts.includes("latency") ? await benchLatency(options) : [];
  if (latency.length > 0) {
    sections.push(
      "### Latency (hls.js `hls.latency` in Chromium, 1 s GOP)",
      "",
      latencyTable(latency, { "onair HLS ts": 3.2, "onair HLS low-latency": 1.5 }),
      "",
    );
  }
  return { remux, delivery, latency, markdown: sections.join("\n") };
}
