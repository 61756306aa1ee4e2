/**
 * hls.js 1.7 in Chromium plays each variant, as a viewer's browser would: ffmpeg publishes a live
 * 320x240 H.264/AAC stream (1 s GOP) over RTMP into an in-process RTMP server; TS, fMP4 and
 * low-latency fMP4 HLS servers on the same hub; one page per variant with hls.js's default config.
 * Each plays past 4 s with no fatal error; in low-latency mode hls.js fetched parts, and its own
 * `latency` figure stays under 1.5 s (the LL-HLS goal).
 */
import { StreamHub } from "@onair/core";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HlsPlayback, medianLatency, playHls, startHlsPage } from "../../../bench/hls-page.js";
import { hasChromium, launchChromium } from "../../../test-support/browser.js";
import {
  hasFfmpeg,
  publishWithFfmpeg,
  type RunningProcess,
  waitFor,
} from "../../../test-support/media-tools.js";
import { type HlsStack, startHlsStack } from "./hls-peers.js";

const VARIANTS = ["ts", "fmp4", "low-latency"] as const;

describe("hls.js in Chromium plays TS, fMP4 and LL-HLS", () => {
  let stack: HlsStack;
  let publisher: RunningProcess;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let pageServer: Awaited<ReturnType<typeof startHlsPage>>;
  const playbacks = new Map<string, HlsPlayback>();
  /** Part requests the low-latency page sent (Playwright's network events, not hls.js's own count). */
  const partRequests: string[] = [];

  beforeAll(async () => {
    // Fail, never skip: without these nothing here is tested.
    expect(hasFfmpeg, "ffmpeg is needed").toBe(true);
    expect(hasChromium, "Chromium (/usr/bin/chromium) is needed").toBe(true);
    const hub = new StreamHub({ republishGraceMs: 0 });
    stack = await startHlsStack(hub, VARIANTS);
    publisher = publishWithFfmpeg(`${stack.rtmpBase}/b`, { seconds: 40, width: 320, height: 240, fps: 25 });
    [browser, pageServer] = await Promise.all([launchChromium(), startHlsPage()]);
    await waitFor(() => hub.isLive("live/b"), 10_000, "publish");
    // A viewer arriving at a running stream: a few segments exist.
    await new Promise((r) => setTimeout(r, 3000));
    const pages: Page[] = [];
    await Promise.all(
      VARIANTS.map(async (variant) => {
        const page = await browser.context.newPage();
        pages.push(page);
        if (variant === "low-latency") {
          page.on("request", (request) => {
            const { pathname } = new URL(request.url());
            if (pathname.startsWith("/live/b/") && request.url().startsWith(stack.httpBase[variant]))
              partRequests.push(pathname);
          });
        }
        playbacks.set(
          variant,
          await playHls(page, pageServer, stack.playlistUrl(variant, "b"), { playS: 6, timeoutMs: 25_000 }),
        );
      }),
    );
    await Promise.all(pages.map((p) => p.close()));
  }, 50_000);

  afterAll(async () => {
    await browser?.close();
    await pageServer?.close();
    publisher?.kill();
    await stack?.close();
  });

  for (const variant of VARIANTS) {
    it(`${variant}: plays past 4 s at 320x240 with no fatal error`, () => {
      const playback = playbacks.get(variant) as HlsPlayback;
      const summary = JSON.stringify({ ...playback, samples: playback.samples.slice(-3) });
      expect(playback.fatal, summary).toEqual([]);
      const played = playback.currentTime - (playback.samples[0]?.time ?? 0);
      expect(played, summary).toBeGreaterThan(4);
      expect(playback.videoWidth, summary).toBe(320);
      expect(playback.videoHeight, summary).toBe(240);
      if (variant === "low-latency") expect(playback.parts, summary).toBeGreaterThan(0);
      else {
        expect(playback.frags, summary).toBeGreaterThan(0);
        expect(playback.parts, summary).toBe(0);
      }
    });
  }

  it("low-latency: hls.js loads parts, and its latency stays under 1.5 s", () => {
    const playback = playbacks.get("low-latency") as HlsPlayback;
    const first = playback.samples[0]?.time ?? 0;
    const settled = playback.samples.filter((s) => s.time - first >= 2);
    const median = medianLatency(playback);
    const target = settled.at(-1)?.target ?? Number.NaN;
    const worst = Math.max(...settled.map((s) => s.latency));
    // The figures, for the record (the issue asks for them).
    console.info(
      `hls.js ${playback.version} LL-HLS: latency median ${median.toFixed(2)} s, max ${worst.toFixed(2)} s, target ${target} s; ${playback.parts} parts, ${playback.frags} whole segments; ${partRequests.length} part requests at the server`,
    );
    expect(settled.length).toBeGreaterThan(4);
    // Parts, counted on the wire: hls.js asked for part files, not only whole segments.
    expect(partRequests.filter((p) => /-p\d+\.m4s$/.test(p)).length).toBeGreaterThan(5);
    // hls.js's target is PART-HOLD-BACK (3 × 200 ms by default); the goal for LL-HLS is
    // 1.5 s: every figure hls.js gave after its first 2 s of play stays under it.
    expect(target).toBeGreaterThan(0);
    expect(median).toBeLessThanOrEqual(1.5);
    expect(worst).toBeLessThanOrEqual(1.5);
  });
});
