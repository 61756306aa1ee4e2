/**
 * HLS latency as hls.js reports it: `hls.latency` (its distance from the live edge) in headless
 * Chromium, sampled every 250 ms over `playS` seconds of play, on a live 1 s GOP stream that
 * ffmpeg generates and publishes in real time. Median and p90 per server; the first 2 s of play
 * are left out (hls.js is still seeking to its start position).
 */
import { launchChromium } from "../test-support/browser.js";
import { publishWithFfmpeg } from "../test-support/media-tools.js";
import { type HlsPlayback, medianLatency, playHls, startHlsPage } from "./hls-page.js";

export interface HlsLatencyTarget {
  name: string;
  rtmpUrl: string;
  playlistUrl: string;
  /** hls.js config for this target (default {} = hls.js's defaults). */
  config?: Record<string, unknown>;
  stop: () => Promise<void>;
}

export interface HlsLatencyRow {
  server: string;
  hlsJs: string;
  samples: number;
  medianS: number;
  p10S: number;
  p90S: number;
  /** hls.targetLatency at the end (null: hls.js has no target, i.e. not low-latency). */
  targetS: number | null;
  parts: number;
  frags: number;
  fatal: string[];
  errors: number;
}

/** Resolves once the playlist at `url` lists `count` segments. */
export async function waitForSegments(url: string, count: number, timeoutMs: number): Promise<void> {
  const start = Date.now();
  for (;;) {
    const text = await fetch(url)
      .then((r) => (r.ok ? r.text() : ""))
      .catch(() => "");
    if (text.split("#EXTINF").length - 1 >= count) return;
    if (Date.now() - start > timeoutMs)
      throw new Error(`${url}: fewer than ${count} segments after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Measures each target in turn (started by `start`, stopped after); one browser for all. */
export async function measureHlsLatency(
  targets: (() => Promise<HlsLatencyTarget>)[],
  options: { playS: number; width?: number; height?: number; log?: (line: string) => void },
): Promise<HlsLatencyRow[]> {
  const browser = await launchChromium();
  const pageServer = await startHlsPage();
  const rows: HlsLatencyRow[] = [];
  try {
    for (const start of targets) {
      const target = await start();
      const publisher = publishWithFfmpeg(target.rtmpUrl, {
        seconds: options.playS + 30,
        width: options.width ?? 640,
        height: options.height ?? 360,
        fps: 30,
        gop: 30,
      });
      const page = await browser.context.newPage();
      try {
        // A viewer arriving at a running stream: three segments exist (hls.js starts three
        // target durations from the end; with fewer, or before the playlist exists, it fails).
        await waitForSegments(target.playlistUrl, 3, 40_000);
        const playback: HlsPlayback = await playHls(page, pageServer, target.playlistUrl, {
          playS: options.playS + 2,
          timeoutMs: (options.playS + 25) * 1000,
          config: target.config,
        });
        const first = playback.samples[0]?.time ?? 0;
        const latencies = playback.samples
          .filter((s) => s.time - first >= 2 && Number.isFinite(s.latency))
          .map((s) => s.latency);
        const row: HlsLatencyRow = {
          server: target.name,
          hlsJs: playback.version,
          samples: latencies.length,
          medianS: medianLatency(playback),
          p10S: percentile(latencies, 0.1),
          p90S: percentile(latencies, 0.9),
          targetS: playback.samples[playback.samples.length - 1]?.target ?? null,
          parts: playback.parts,
          frags: playback.frags,
          fatal: playback.fatal,
          errors: playback.errors.length,
        };
        rows.push(row);
        options.log?.(
          `${row.server}: hls.latency median ${row.medianS.toFixed(2)} s (p10 ${row.p10S.toFixed(2)}, p90 ${row.p90S.toFixed(2)}), ${row.samples} samples, ${row.parts} parts, ${row.frags} fragments${row.fatal.length > 0 ? `, fatal: ${row.fatal.join("; ")}` : ""}`,
        );
      } finally {
        await page.close();
        publisher.kill();
        await publisher.exited;
        await target.stop();
      }
    }
  } finally {
    await pageServer.close();
    await browser.close();
  }
  return rows;
}

const fmt = (n: number | null, digits = 2): string =>
  n !== null && Number.isFinite(n) ? n.toFixed(digits) : "–";

export function latencyTable(rows: HlsLatencyRow[], goals: Record<string, number>): string {
  const lines = [
    "| server | hls.js | samples | hls.latency median s | p10 / p90 s | hls.targetLatency s | parts / fragments loaded | fatal errors |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${r.server} | ${r.hlsJs} | ${r.samples} | ${fmt(r.medianS)} | ${fmt(r.p10S)} / ${fmt(r.p90S)} | ${fmt(r.targetS)} | ${r.parts} / ${r.frags} | ${r.fatal.length === 0 ? "none" : r.fatal.join("; ")} |`,
    ),
  ];
  const notes = rows
    .filter((r) => goals[r.server] !== undefined)
    .map(
      (r) =>
        `- ${r.server}: median ${fmt(r.medianS)} s against a goal of ≤ ${goals[r.server]} s: ${r.medianS <= goals[r.server] ? "met" : "MISSED"}`,
    );
  const anchors = rows.filter((r) => r.server.startsWith("nginx"));
  const ratios = rows
    .filter((r) => !r.server.startsWith("nginx"))
    .flatMap((r) => anchors.map((a) => `- ${r.server} / ${a.server}: ${fmt(r.medianS / a.medianS)}×`));
  return [...lines, "", ...notes, ...ratios].join("\n");
}
