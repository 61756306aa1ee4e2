/// <reference lib="dom" />
/**
 * A page that plays one HLS URL with hls.js 1.7 (from node_modules, served by this small HTTP
 * server: no CDN) and records what hls.js reports: its `latency` figure over time, fatal and
 * non-fatal errors, and how many fragments and parts it loaded. Used by the latency bench and the
 * browser tests.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";

const require = createRequire(import.meta.url);
const hlsJsPath = require.resolve("hls.js/dist/hls.min.js");

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>onair HLS</title><link rel="icon" href="data:,"></head>
<body><video id="v" muted autoplay playsinline width="320"></video>
<script src="/hls.min.js"></script>
<script>
const params = new URLSearchParams(location.search);
const config = JSON.parse(params.get("config") || "{}");
const record = { samples: [], errors: [], fatal: [], frags: 0, parts: 0, partUrls: [], fragUrls: [], version: Hls.version };
window.hlsRecord = record;
const video = document.getElementById("v");
const hls = new Hls(config);
window.hls = hls;
hls.on(Hls.Events.ERROR, (_e, data) => {
  const text = data.type + "/" + data.details + (data.fatal ? " (fatal)" : "");
  record.errors.push(text);
  if (data.fatal) record.fatal.push(text);
});
hls.on(Hls.Events.FRAG_LOADED, (_e, data) => {
  if (data.part) { record.parts += 1; if (record.partUrls.length < 50) record.partUrls.push(data.part.url); }
  else { record.frags += 1; if (record.fragUrls.length < 50) record.fragUrls.push(data.frag.url); }
});
hls.loadSource(params.get("src"));
hls.attachMedia(video);
video.play().catch(() => {});
setInterval(() => {
  if (video.currentTime > 0) record.samples.push({ at: performance.now(), time: video.currentTime, latency: hls.latency, target: hls.targetLatency });
}, 250);
</script></body></html>`;

export interface HlsPageServer {
  /** The page URL that plays `src` with hls.js `config`. */
  url: (src: string, config?: Record<string, unknown>) => string;
  close: () => Promise<void>;
}

/** Serves the page and hls.min.js on a loopback port. */
export async function startHlsPage(): Promise<HlsPageServer> {
  const script = readFileSync(hlsJsPath);
  const server = createServer((req, res) => {
    if (req.url?.startsWith("/hls.min.js")) {
      res.writeHead(200, { "content-type": "text/javascript" }).end(script);
    } else if (req.url === "/" || req.url?.startsWith("/?")) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: (src, config = {}) =>
      `http://127.0.0.1:${port}/?src=${encodeURIComponent(src)}&config=${encodeURIComponent(JSON.stringify(config))}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface HlsSample {
  /** Page time, ms. */
  at: number;
  /** video.currentTime, s. */
  time: number;
  /** hls.latency, s. */
  latency: number;
  /** hls.targetLatency, s (null outside low-latency live). */
  target: number | null;
}

export interface HlsPlayback {
  version: string;
  samples: HlsSample[];
  errors: string[];
  fatal: string[];
  frags: number;
  parts: number;
  partUrls: string[];
  fragUrls: string[];
  videoWidth: number;
  videoHeight: number;
  currentTime: number;
}

/** What the page recorded so far. */
export function readPlayback(page: Page): Promise<HlsPlayback> {
  return page.evaluate(() => {
    const record = (window as unknown as { hlsRecord: Omit<HlsPlayback, "videoWidth" | "videoHeight"> })
      .hlsRecord;
    const video = document.getElementById("v") as HTMLVideoElement;
    return {
      ...record,
      videoWidth: video.videoWidth,
      videoHeight: video.videoHeight,
      currentTime: video.currentTime,
    };
  });
}

/**
 * Opens the page on `src` and waits until the video played `playS` seconds beyond its first frame
 * (or `timeoutMs` passed, or hls.js reported a fatal error); gives what it recorded.
 */
export async function playHls(
  page: Page,
  pageServer: HlsPageServer,
  src: string,
  options: { playS: number; timeoutMs: number; config?: Record<string, unknown> },
): Promise<HlsPlayback> {
  await page.goto(pageServer.url(src, options.config));
  const started = Date.now();
  let firstTime = -1;
  for (;;) {
    const playback = await readPlayback(page);
    if (firstTime < 0 && playback.samples.length > 0) firstTime = playback.samples[0].time;
    const played = firstTime < 0 ? 0 : playback.currentTime - firstTime;
    if (played >= options.playS || playback.fatal.length > 0 || Date.now() - started > options.timeoutMs) {
      return playback;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The median of hls.latency over the samples taken after `skipS` seconds of play. */
export function medianLatency(playback: HlsPlayback, skipS = 2): number {
  const first = playback.samples[0]?.time ?? 0;
  const values = playback.samples
    .filter((s) => s.time - first >= skipS && Number.isFinite(s.latency))
    .map((s) => s.latency)
    .sort((a, b) => a - b);
  return values.length === 0 ? Number.NaN : values[Math.floor(values.length / 2)];
}
