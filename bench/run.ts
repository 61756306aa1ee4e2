/**
 * `pnpm bench`: fan-out of one publisher to N players, onair against node-media-server and
 * nginx-rtmp measured in the same run. See BENCHMARKS.md.
 *
 * Flags: --quick (small N, short windows: the CI smoke), --players 100,500,1000, --seconds 10,
 *        --servers onair,nms,nginx, --protocols rtmp,http-flv,ws-flv, --window 0,100 (onair's batch windows,
 *        ms; default 0 and the hub's default),
 *        --no-pin (let the scheduler place server and clients), --out bench/results/latest.json, --profile DIR (onair runs under `node --cpu-prof`, profiles in DIR)
 *        HLS (bench/hls-bench.ts; all three parts in a full run, none with --quick unless asked):
 *        --hls remux,delivery,latency, --hls-only (skip the fan-out), --hls-viewers 100,500,
 *        --hls-runs 5 (remux runs per tool), --hls-play 20 (seconds of play per latency figure)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_BATCH_WINDOW_MS } from "@onair/core";
import { freePort, hasCommand, run, tempDir, waitFor } from "../test-support/media-tools.js";
import { NGINX_RTMP_MODULE, waitForListening } from "../test-support/nginx-rtmp.js";
import { onairCliArgs } from "./onair-cli.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: {
    quick: { type: "boolean" },
    players: { type: "string" },
    seconds: { type: "string" },
    servers: { type: "string" },
    protocols: { type: "string" },
    window: { type: "string" },
    out: { type: "string" },
    profile: { type: "string" },
    "no-pin": { type: "boolean" },
    hls: { type: "string" },
    "hls-only": { type: "boolean" },
    "hls-viewers": { type: "string" },
    "hls-runs": { type: "string" },
    "hls-play": { type: "string" },
  },
});
const quick = values.quick === true;
const playerCounts = (values.players ?? (quick ? "5" : "100,500,1000")).split(",").map(Number);
const windowMs = Number(values.seconds ?? (quick ? 3 : 10)) * 1000;
const batchWindows = (values.window ?? `0,${DEFAULT_BATCH_WINDOW_MS}`).split(",").map(Number);
const hasNginx = hasCommand("nginx") && existsSync(NGINX_RTMP_MODULE);
const servers = (values.servers ?? (hasNginx ? "onair,nms,nginx" : "onair,nms")).split(",");
const protocols = (values.protocols ?? (quick ? "rtmp,http-flv" : "rtmp,http-flv,ws-flv")).split(",");
/** Only the full default run replaces the published results; partial runs go to the cache. */
const partial = ["players", "seconds", "servers", "protocols", "window", "profile", "no-pin"].some(
  (flag) => values[flag as keyof typeof values] !== undefined,
);
const out =
  values.out ??
  join(
    root,
    quick ? "bench/.cache/smoke.json" : partial ? "bench/.cache/partial.json" : "bench/results/latest.json",
  );

/** The stream: 2.66 Mbps 720p30 H.264 + AAC with a 2 s GOP (small and short in quick mode). */
async function streamFile(): Promise<{ path: string; kbps: number }> {
  const cache = join(root, "bench/.cache");
  mkdirSync(cache, { recursive: true });
  const spec = quick
    ? { name: "stream-quick.flv", size: "320x240", kbps: 500, seconds: 6 }
    : { name: "stream-720p.flv", size: "1280x720", kbps: 2600, seconds: 20 };
  const path = join(cache, spec.name);
  if (!existsSync(path)) {
    const p = run("ffmpeg", [
      "-y",
      "-hide_banner",
      "-loglevel",
      "error",
      "-f",
      "lavfi",
      "-i",
      `testsrc2=size=${spec.size}:rate=30:duration=${spec.seconds}`,
      "-f",
      "lavfi",
      "-i",
      `sine=frequency=440:sample_rate=44100:duration=${spec.seconds}`,
      "-c:v",
      "libx264",
      "-preset",
      "veryfast",
      "-pix_fmt",
      "yuv420p",
      "-b:v",
      `${spec.kbps}k`,
      "-maxrate",
      `${spec.kbps}k`,
      "-bufsize",
      `${spec.kbps}k`,
      "-x264-params",
      "nal-hrd=cbr",
      "-g",
      "60",
      "-keyint_min",
      "60",
      "-sc_threshold",
      "0",
      "-c:a",
      "aac",
      "-b:a",
      "64k",
      "-f",
      "flv",
      path,
    ]);
    if ((await p.exited) !== 0) throw new Error(`ffmpeg failed: ${p.stderr()}`);
  }
  return { path, kbps: spec.kbps + 64 };
}

interface ServerUnderTest {
  name: string;
  pid: number;
  rtmpUrl: string;
  httpFlvUrl?: string;
  wsFlvUrl?: string;
  stop: () => Promise<void>;
}

/**
 * With two or more cores the server under test runs on core 0 and the publisher and load client
 * on the others, the same for every server: the scheduler does not move them onto one another,
 * which made CPU per GB swing by a third between runs.
 */
const pinned = hasCommand("taskset") && availableParallelism() >= 2 && values["no-pin"] !== true;
const onCores = (cores: string, command: string, args: string[]): [string, string[]] =>
  pinned ? ["taskset", ["-c", cores, command, ...args]] : [command, args];
const serverCores = "0";
const clientCores = `1-${availableParallelism() - 1}`;

function spawnServer(command: string, args: string[]): ChildProcess {
  const [file, argv] = onCores(serverCores, command, args);
  return spawn(file, argv, { stdio: ["ignore", "ignore", "inherit"] });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}

async function startServer(name: string, batchWindow: number): Promise<ServerUnderTest> {
  const rtmpPort = await freePort();
  const httpPort = await freePort();
  if (name === "onair") {
    const child = spawnServer("node", [
      ...(values.profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${values.profile}`]),
      ...onairCliArgs({ rtmp: rtmpPort, flv: httpPort }, ["--batch-window", String(batchWindow)]),
    ]);
    await waitForListening(httpPort, 20_000);
    return {
      name: `onair (window ${batchWindow} ms)`,
      pid: child.pid as number,
      rtmpUrl: `rtmp://127.0.0.1:${rtmpPort}/live/bench`,
      httpFlvUrl: `http://127.0.0.1:${httpPort}/live/bench.flv`,
      wsFlvUrl: `ws://127.0.0.1:${httpPort}/live/bench.flv`,
      stop: () => stopChild(child),
    };
  }
  if (name === "nms") {
    const work = tempDir("onair-bench-nms-");
    const child = spawnServer("node", [
      join(root, "bench/nms-server.cjs"),
      String(rtmpPort),
      String(httpPort),
      work.path,
    ]);
    await waitForListening(rtmpPort, 20_000);
    return {
      name: "node-media-server 4.4.3",
      pid: child.pid as number,
      rtmpUrl: `rtmp://127.0.0.1:${rtmpPort}/live/bench`,
      httpFlvUrl: `http://127.0.0.1:${httpPort}/live/bench.flv`,
      wsFlvUrl: `ws://127.0.0.1:${httpPort}/live/bench.flv`,
      stop: async () => {
        await stopChild(child);
        work.remove();
      },
    };
  }
  const work = tempDir("onair-bench-nginx-");
  mkdirSync(join(work.path, "logs"));
  writeFileSync(
    join(work.path, "nginx.conf"),
    [
      `load_module ${NGINX_RTMP_MODULE};`,
      "daemon off;",
      "master_process off;",
      "worker_rlimit_nofile 20000;",
      `error_log ${join(work.path, "error.log")} error;`,
      `pid ${join(work.path, "nginx.pid")};`,
      "events { worker_connections 8192; }",
      `rtmp { server { listen 127.0.0.1:${rtmpPort}; chunk_size 4096; application live { live on; } } }`,
      "",
    ].join("\n"),
  );
  const child = spawnServer("nginx", ["-c", join(work.path, "nginx.conf"), "-p", work.path]);
  await waitForListening(rtmpPort, 10_000);
  return {
    name: "nginx-rtmp",
    pid: child.pid as number,
    rtmpUrl: `rtmp://127.0.0.1:${rtmpPort}/live/bench`,
    stop: async () => {
      await stopChild(child);
      work.remove();
    },
  };
}

/** utime and stime of a process, in seconds. */
function cpuSeconds(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

const percentile = (sorted: number[], p: number): number =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

export interface Row {
  server: string;
  protocol: string;
  players: number;
  connected: number;
  streamKbps: number;
  kbpsMin: number;
  kbpsP10: number;
  kbpsMedian: number;
  ttfbP50: number;
  ttfbMax: number;
  ttfkP50: number;
  ttfkMax: number;
  cpuSecondsPerGb: number;
  /** The share of that CPU spent in the kernel (stime). */
  systemShare: number;
  rssMb: number;
  rssAboveIdleMb: number;
  deliveredMb: number;
}

async function measure(
  server: ServerUnderTest,
  file: { path: string; kbps: number },
  protocol: string,
  players: number,
): Promise<Row> {
  const idleRss = rssMb(server.pid);
  const publisher = run(
    ...onCores(clientCores, "ffmpeg", [
      "-hide_banner",
      "-loglevel",
      "error",
      "-re",
      "-stream_loop",
      "-1",
      "-i",
      file.path,
      "-c",
      "copy",
      "-f",
      "flv",
      server.rtmpUrl,
    ]),
  );
  await new Promise((r) => setTimeout(r, 2500));
  const url =
    protocol === "rtmp" ? server.rtmpUrl : protocol === "http-flv" ? server.httpFlvUrl : server.wsFlvUrl;
  const warmupMs = quick ? 2000 : 3000;
  const load = run(
    ...onCores(clientCores, "node", [
      "--conditions=source",
      "--import",
      "tsx",
      join(root, "bench/load-client.ts"),
      protocol,
      url as string,
      String(players),
      "500",
      String(warmupMs),
      String(windowMs),
    ]),
  );
  let cpuStart = { user: 0, system: 0 };
  await waitFor(
    () => load.stderr().includes("window start") || load.child.exitCode !== null,
    120_000,
    "load window",
  );
  cpuStart = cpuSeconds(server.pid);
  await load.exited;
  const cpuEnd = cpuSeconds(server.pid);
  const rss = rssMb(server.pid);
  publisher.kill();
  await publisher.exited;
  const report = JSON.parse(load.stdout().trim().split("\n").pop() ?? "{}") as {
    players: { ttfb: number; ttfk: number; windowBytes: number; error: string }[];
  };
  const connected = report.players.filter((p) => p.ttfb >= 0);
  const kbps = report.players.map((p) => (p.windowBytes * 8) / windowMs).sort((a, b) => a - b);
  const ttfb = connected.map((p) => p.ttfb).sort((a, b) => a - b);
  const ttfk = connected
    .filter((p) => p.ttfk >= 0)
    .map((p) => p.ttfk)
    .sort((a, b) => a - b);
  const delivered = report.players.reduce((sum, p) => sum + p.windowBytes, 0);
  await new Promise((r) => setTimeout(r, 1000));
  return {
    server: server.name,
    protocol,
    players,
    connected: connected.length,
    streamKbps: file.kbps,
    kbpsMin: kbps[0],
    kbpsP10: percentile(kbps, 10),
    kbpsMedian: percentile(kbps, 50),
    ttfbP50: percentile(ttfb, 50),
    ttfbMax: ttfb[ttfb.length - 1] ?? Number.NaN,
    ttfkP50: percentile(ttfk, 50),
    ttfkMax: ttfk[ttfk.length - 1] ?? Number.NaN,
    cpuSecondsPerGb: (cpuEnd.user + cpuEnd.system - cpuStart.user - cpuStart.system) / (delivered / 1e9),
    systemShare:
      (cpuEnd.system - cpuStart.system) / (cpuEnd.user + cpuEnd.system - cpuStart.user - cpuStart.system),
    rssMb: rss,
    rssAboveIdleMb: rss - idleRss,
    deliveredMb: delivered / 1e6,
  };
}

const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : "–");

function printTable(rows: Row[]): string {
  const lines = [
    "| server | protocol | players | connected | kbps min / p10 / median | first byte p50 / max ms | first keyframe p50 / max ms | CPU s per GB (kernel %) | RSS MB (above idle) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.server} | ${r.protocol} | ${r.players} | ${r.connected} | ${fmt(r.kbpsMin, 0)} / ${fmt(r.kbpsP10, 0)} / ${fmt(r.kbpsMedian, 0)} | ${fmt(r.ttfbP50, 0)} / ${fmt(r.ttfbMax, 0)} | ${fmt(r.ttfkP50, 0)} / ${fmt(r.ttfkMax, 0)} | ${fmt(r.cpuSecondsPerGb, 2)} (${fmt(r.systemShare * 100, 0)}%) | ${fmt(r.rssMb, 0)} (${fmt(r.rssAboveIdleMb, 0)}) |`,
    );
  }
  const ratios = ["", "onair's ratios to the anchors of this run (CPU per GB; < 1 is better):", ""];
  for (const r of rows.filter((x) => x.server.startsWith("onair"))) {
    for (const anchor of rows.filter(
      (x) =>
        !x.server.startsWith("onair") &&
        x.players === r.players &&
        (x.protocol === r.protocol || x.server === "nginx-rtmp"),
    )) {
      ratios.push(
        `- ${r.server} ${r.protocol} / ${anchor.server} ${anchor.protocol}, ${r.players} players: CPU ${fmt(r.cpuSecondsPerGb / anchor.cpuSecondsPerGb, 2)}×, RSS above idle ${fmt(r.rssAboveIdleMb, 0)} vs ${fmt(anchor.rssAboveIdleMb, 0)} MB`,
      );
    }
  }
  return [...lines, ...ratios].join("\n");
}

// HLS: remux against ffmpeg, delivery and latency against nginx-rtmp (bench/hls-bench.ts).
const hlsParts = (values.hls ?? (quick && values["hls-only"] !== true ? "" : "remux,delivery,latency"))
  .split(",")
  .filter((p) => p !== "");
if (hlsParts.length > 0) {
  const { runHlsBench } = await import("./hls-bench.js");
  const hls = await runHlsBench({
    parts: hlsParts as ("remux" | "delivery" | "latency")[],
    quick,
    viewers: (values["hls-viewers"] ?? (quick ? "5" : "100,500")).split(",").map(Number),
    windowMs,
    runs: Number(values["hls-runs"] ?? (quick ? 1 : 5)),
    latencyPlayS: Number(values["hls-play"] ?? (quick ? 6 : 20)),
    pin: values["no-pin"] !== true,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  console.log(hls.markdown);
  const hlsPartial =
    partial ||
    values.hls !== undefined ||
    values["hls-viewers"] !== undefined ||
    values["hls-runs"] !== undefined ||
    values["hls-play"] !== undefined;
  const hlsOut =
    values.out !== undefined
      ? values.out.replace(/(\.json)?$/, "-hls.json")
      : join(
          root,
          quick
            ? "bench/.cache/smoke-hls.json"
            : hlsPartial
              ? "bench/.cache/partial-hls.json"
              : "bench/results/hls-latest.json",
        );
  mkdirSync(dirname(hlsOut), { recursive: true });
  const { markdown: _, ...hlsRows } = hls;
  writeFileSync(
    hlsOut,
    `${JSON.stringify({ date: new Date().toISOString(), quick, ...hlsRows }, null, 2)}\n`,
  );
  console.log(`\nwritten ${hlsOut}`);
  if (values["hls-only"] === true) process.exit(0);
}

const file = await streamFile();
const rows: Row[] = [];
const runs = servers.flatMap((name) =>
  name === "onair" ? batchWindows.map((w) => ({ name, w })) : [{ name, w: 0 }],
);
for (const { name, w } of runs) {
  const server = await startServer(name, w);
  try {
    for (const protocol of protocols) {
      if (name === "nginx" && protocol !== "rtmp") continue; // nginx-rtmp has no HTTP-FLV
      for (const players of playerCounts) {
        const row = await measure(server, file, protocol, players);
        rows.push(row);
        process.stderr.write(
          `${row.server} ${protocol} ${players}: ${fmt(row.cpuSecondsPerGb, 2)} CPU s/GB, p10 ${fmt(row.kbpsP10, 0)} kbps\n`,
        );
      }
    }
  } finally {
    await server.stop();
  }
}
const table = printTable(rows);
console.log(table);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), quick, windowMs, batchWindows, rows }, null, 2)}\n`,
);
console.log(`\nwritten ${out}`);
