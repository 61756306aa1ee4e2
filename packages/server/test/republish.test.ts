/// <reference lib="dom" />
/**
 * An encoder that drops and comes back: ffmpeg publishes, is killed, publishes again 1 s later.
 * An ffmpeg RTMP player and mpegts.js in Chromium (HTTP-FLV) play on across it, with time running
 * forward; a gap longer than the republish grace then ends them cleanly.
 */

import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasChromium, launchChromium } from "../../../test-support/browser.js";
import {
  hasFfmpeg,
  publishWithFfmpeg,
  type RunningProcess,
  run,
  waitFor,
} from "../../../test-support/media-tools.js";
import { OnairServer } from "../src/index.js";

const GRACE_MS = 3000;

const mpegts = readFileSync(createRequire(import.meta.url).resolve("mpegts.js/dist/mpegts.js"));
const page = `<!doctype html><html><body><video id="video" muted autoplay playsinline></video>
<script src="/mpegts.js"></script>
<script>
  const video = document.getElementById("video");
  window.ended = false;
  window.playerErrors = [];
  const player = mpegts.createPlayer(
    { type: "flv", isLive: true, url: new URLSearchParams(location.search).get("src") },
    { enableStashBuffer: false },
  );
  player.on(mpegts.Events.LOADING_COMPLETE, () => { window.ended = true; });
  player.on(mpegts.Events.ERROR, (type, detail) => { window.playerErrors.push(type + " " + detail); });
  player.attachMediaElement(video);
  player.load();
  video.play().catch(() => {});
</script></body></html>`;

/**
 * The pts of each video frame the ffmpeg player decoded, from its framemd5 lines on stdout. With
 * -copyts and passthrough these are the stream's own timestamps, so time going backwards shows.
 */
function decodedPts(player: RunningProcess): number[] {
  return player
    .stdout()
    .split("\n")
    .filter((line) => /^0,/.test(line))
    .map((line) => Number(line.split(",")[2]));
}

interface PageState {
  currentTime: number;
  bufferedEnd: number;
  ended: boolean;
  errors: string[];
}

function pageState(p: Page): Promise<PageState> {
  return p.evaluate(() => {
    const video = document.getElementById("video") as HTMLVideoElement;
    const w = window as unknown as { ended: boolean; playerErrors: string[] };
    return {
      currentTime: video.currentTime,
      bufferedEnd: video.buffered.length > 0 ? video.buffered.end(video.buffered.length - 1) : 0,
      ended: w.ended,
      errors: w.playerErrors,
    };
  });
}

describe("seamless republish (ffmpeg publisher killed and back within the grace)", () => {
  let server: OnairServer;
  let site: Server;
  let rtmpUrl: string;
  let flvUrl: string;
  let sitePort: number;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  const processes: RunningProcess[] = [];

  beforeAll(async () => {
    // No skipping: this test is the proof of a promise, so a missing tool is a failure.
    if (!hasFfmpeg) throw new Error("ffmpeg and ffprobe are needed for the republish interop test");
    if (!hasChromium)
      throw new Error("Chromium (/usr/bin/chromium) is needed for the republish interop test");
    server = new OnairServer({
      host: "127.0.0.1",
      rtmpPort: 0,
      flvPort: 0,
      rtmpNoAuth: true,
      hls: false,
      api: false,
      hub: { republishGraceMs: GRACE_MS },
    });
    const { rtmp, flv } = await server.listen();
    rtmpUrl = `rtmp://127.0.0.1:${rtmp.port}/live/re`;
    flvUrl = `http://127.0.0.1:${flv.port}/live/re.flv`;
    site = createServer((req, res) => {
      if (req.url?.startsWith("/mpegts.js"))
        res.writeHead(200, { "Content-Type": "text/javascript" }).end(mpegts);
      else res.writeHead(200, { "Content-Type": "text/html" }).end(page);
    });
    await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
    sitePort = (site.address() as AddressInfo).port;
    browser = await launchChromium();
  });

  afterAll(async () => {
    for (const p of processes) p.kill();
    await browser?.close();
    await server?.close();
    await new Promise((resolve) => site?.close(resolve));
  });

  it("keeps an ffmpeg RTMP player and mpegts.js playing across it, then ends them after the grace", async () => {
    const publish = () => {
      const p = publishWithFfmpeg(rtmpUrl, { seconds: 60, fps: 25, gop: 25 });
      processes.push(p);
      return p;
    };
    const first = publish();
    await waitFor(() => server.hub.isLive("live/re"), 10_000, "the first publisher");

    const player = run("ffmpeg", [
      "-hide_banner",
      "-loglevel",
      "error",
      "-i",
      rtmpUrl,
      "-map",
      "0:v",
      "-copyts",
      "-fps_mode",
      "passthrough",
      "-f",
      "framemd5",
      "-",
    ]);
    processes.push(player);
    const tab = await browser.context.newPage();
    await tab.goto(`http://127.0.0.1:${sitePort}/?src=${encodeURIComponent(flvUrl)}`);
    await waitFor(() => decodedPts(player).length >= 50, 15_000, "the ffmpeg player's first 2 s");
    await tab.waitForFunction(
      () => (document.getElementById("video") as HTMLVideoElement).currentTime > 2,
      undefined,
      {
        timeout: 15_000,
        polling: 100,
      },
    );

    // The encoder drops, and reconnects 1 s later.
    first.kill("SIGKILL");
    await first.exited;
    const atDrop = await pageState(tab);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const framesBeforeRepublish = decodedPts(player).length;
    const second = publish();
    await waitFor(
      () => decodedPts(player).length >= framesBeforeRepublish + 75,
      15_000,
      "3 s more from the new publisher",
    );
    await tab.waitForFunction(
      (mark) => (document.getElementById("video") as HTMLVideoElement).currentTime > mark,
      atDrop.bufferedEnd + 2,
      { timeout: 15_000, polling: 100 },
    );
    expect(player.child.exitCode).toBeNull();
    const pts = decodedPts(player);
    for (let i = 1; i < pts.length; i++)
      expect(pts[i], `frame ${i} of ${pts.length}`).toBeGreaterThan(pts[i - 1]);
    const resumed = await pageState(tab);
    expect(resumed.ended).toBe(false);
    expect(resumed.errors).toEqual([]);
    expect(server.hub.counters().republishes).toBe(1);

    // Now it drops for longer than the grace: the players end, normally.
    second.kill("SIGKILL");
    const droppedAt = Date.now();
    expect(await player.exited).toBe(0);
    expect(Date.now() - droppedAt).toBeGreaterThanOrEqual(GRACE_MS - 500);
    await tab.waitForFunction(() => (window as unknown as { ended: boolean }).ended, undefined, {
      timeout: 5_000,
      polling: 100,
    });
    expect((await pageState(tab)).errors).toEqual([]);
    expect(server.hub.streams()).toHaveLength(0);
  }, 60_000);
});
