/**
 * A publisher that comes back, as hls.js in Chromium sees it: ffmpeg publishes, stops, and
 * publishes again within the hub's republish grace. The playlists mark the seam with
 * EXT-X-DISCONTINUITY and hls.js keeps playing through it (TS and LL-HLS pages), with no fatal error.
 */
import { StreamHub } from "@onair/core";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HlsPlayback, readPlayback, startHlsPage } from "../../../bench/hls-page.js";
import { hasChromium, launchChromium } from "../../../test-support/browser.js";
import {
  hasFfmpeg,
  publishWithFfmpeg,
  type RunningProcess,
  waitFor,
} from "../../../test-support/media-tools.js";
import { fetchPlaylist, type HlsStack, startHlsStack } from "./hls-peers.js";

const VARIANTS = ["ts", "low-latency"] as const;

describe("hls.js plays on across a republish (EXT-X-DISCONTINUITY)", () => {
  let stack: HlsStack;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let pageServer: Awaited<ReturnType<typeof startHlsPage>>;
  const publishers: RunningProcess[] = [];
  const atSeam = new Map<string, HlsPlayback>();
  const atEnd = new Map<string, HlsPlayback>();
  const playlists = new Map<string, string>();

  beforeAll(async () => {
    expect(hasFfmpeg, "ffmpeg is needed").toBe(true);
    expect(hasChromium, "Chromium (/usr/bin/chromium) is needed").toBe(true);
    const hub = new StreamHub({ republishGraceMs: 10_000 });
    // A window longer than the test, so the seam is still listed at the end.
    stack = await startHlsStack(hub, VARIANTS, {
      ts: { windowSegments: 30 },
      "low-latency": { windowSegments: 30 },
    });
    [browser, pageServer] = await Promise.all([launchChromium(), startHlsPage()]);
    const publish = (seconds: number) => {
      const p = publishWithFfmpeg(`${stack.rtmpBase}/r`, { seconds, width: 320, height: 240, fps: 25 });
      publishers.push(p);
      return p;
    };
    const first = publish(8);
    await waitFor(() => hub.isLive("live/r"), 10_000, "publish");
    await new Promise((r) => setTimeout(r, 3000));
    const pages = new Map<string, Page>();
    for (const variant of VARIANTS) {
      const page = await browser.context.newPage();
      await page.goto(pageServer.url(stack.playlistUrl(variant, "r")));
      pages.set(variant, page);
    }
    expect(await first.exited).toBe(0);
    // The encoder is gone for a moment, then a new one takes over the stream.
    await new Promise((r) => setTimeout(r, 1000));
    for (const variant of VARIANTS) atSeam.set(variant, await readPlayback(pages.get(variant) as Page));
    publish(12);
    await waitFor(() => hub.isLive("live/r"), 10_000, "republish");
    await new Promise((r) => setTimeout(r, 9000));
    for (const variant of VARIANTS) {
      atEnd.set(variant, await readPlayback(pages.get(variant) as Page));
      playlists.set(variant, (await fetchPlaylist(stack.playlistUrl(variant, "r"))).text);
    }
  }, 50_000);

  afterAll(async () => {
    await browser?.close();
    await pageServer?.close();
    for (const p of publishers) p.kill();
    await stack?.close();
  });

  for (const variant of VARIANTS) {
    it(`${variant}: the playlist marks the seam, and the video plays on past it`, () => {
      expect(playlists.get(variant)).toMatch(/#EXT-X-DISCONTINUITY\n/);
      const seam = atSeam.get(variant) as HlsPlayback;
      const end = atEnd.get(variant) as HlsPlayback;
      const summary = JSON.stringify({ seam: seam.currentTime, end: end.currentTime, errors: end.errors });
      expect(end.fatal, summary).toEqual([]);
      // Nine seconds after the new publisher came, at least five of them were played.
      expect(end.currentTime - seam.currentTime, summary).toBeGreaterThan(5);
      expect(end.videoWidth, summary).toBe(320);
    });
  }
});
