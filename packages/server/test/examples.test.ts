/** The examples in examples/ run as written, against real ffmpeg. */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { hasChromium, launchChromium } from "../../../test-support/browser.js";
import {
  freePort,
  hasFfmpeg,
  probeFrames,
  publishWithFfmpeg,
  run,
  waitFor,
} from "../../../test-support/media-tools.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));

describe.skipIf(!hasFfmpeg)("examples/rtmp-server.ts", () => {
  it("refuses a publisher without the token and serves one with it", async () => {
    const port = await freePort();
    const child = run("env", [
      `PORT=${port}`,
      "TOKEN=s3cret",
      "node",
      "--conditions=source",
      "--import",
      "tsx",
      `${root}examples/rtmp-server.ts`,
    ]);
    try {
      await waitFor(() => child.stdout().includes("listening"), 20_000, "example start");
      const refused = publishWithFfmpeg(`rtmp://127.0.0.1:${port}/live/demo?token=wrong`, { seconds: 3 });
      expect(await refused.exited).not.toBe(0);
      expect(refused.stderr()).toMatch(/wrong token|Unauthorized/);

      const publisher = publishWithFfmpeg(`rtmp://127.0.0.1:${port}/live/demo?token=s3cret`, { seconds: 4 });
      await waitFor(() => child.stdout().includes("live: live/demo"), 10_000, "publish");
      // Three seconds are enough (the example keeps players through its 10 s republish grace).
      const probe = await probeFrames(`rtmp://127.0.0.1:${port}/live/demo`, ["-read_intervals", "%+3"]);
      expect(await publisher.exited).toBe(0);
      expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
      expect(probe.frames.filter((f) => f.mediaType === "video").length).toBeGreaterThan(60);
    } finally {
      child.kill("SIGTERM");
      await child.exited;
    }
  });
});

describe.skipIf(!hasFfmpeg)("examples/rtmp-to-http-flv.ts", () => {
  it("takes RTMP in and serves HTTP-FLV that ffprobe decodes", async () => {
    const rtmpPort = await freePort();
    const flvPort = await freePort();
    const child = run("env", [
      `RTMP_PORT=${rtmpPort}`,
      `FLV_PORT=${flvPort}`,
      "node",
      "--conditions=source",
      "--import",
      "tsx",
      `${root}examples/rtmp-to-http-flv.ts`,
    ]);
    try {
      await waitFor(() => child.stdout().includes("ready"), 20_000, "example start");
      const publisher = publishWithFfmpeg(`rtmp://127.0.0.1:${rtmpPort}/live/demo`, { seconds: 4 });
      await waitFor(
        () => child.stdout().includes(`http://127.0.0.1:${flvPort}/live/demo.flv`),
        10_000,
        "publish",
      );
      const probe = await probeFrames(`http://127.0.0.1:${flvPort}/live/demo.flv`, [
        "-read_intervals",
        "%+3",
      ]);
      expect(await publisher.exited).toBe(0);
      expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
      expect(probe.frames.filter((f) => f.mediaType === "video").length).toBeGreaterThan(60);
    } finally {
      child.kill("SIGTERM");
      await child.exited;
    }
  });
});

describe("examples/web-player-server.ts over HLS", () => {
  it("Chromium plays low-latency HLS with hls.js from the page's own server", async () => {
    // Fail, never skip: without these the HLS page is not tested at all.
    expect(hasFfmpeg, "ffmpeg is needed").toBe(true);
    expect(hasChromium, "Chromium is needed").toBe(true);
    const [rtmpPort, flvPort, pagePort] = [await freePort(), await freePort(), await freePort()];
    const child = run("env", [
      `RTMP_PORT=${rtmpPort}`,
      `FLV_PORT=${flvPort}`,
      `PAGE_PORT=${pagePort}`,
      "REPUBLISH_GRACE_MS=0",
      "node",
      "--conditions=source",
      "--import",
      "tsx",
      `${root}examples/web-player-server.ts`,
    ]);
    const browser = await launchChromium();
    let publisher: ReturnType<typeof publishWithFfmpeg> | undefined;
    try {
      await waitFor(() => child.stdout().includes("HLS (low-latency)"), 20_000, "example start");
      publisher = publishWithFfmpeg(`rtmp://127.0.0.1:${rtmpPort}/live/demo`, { seconds: 9, gop: 25 });
      const page = await browser.context.newPage();
      const src = `http://127.0.0.1:${pagePort}/live/demo.m3u8`;
      const parts: string[] = [];
      page.on("request", (request) => {
        if (request.url().endsWith(".m4s")) parts.push(request.url());
      });
      await page.goto(`http://127.0.0.1:${pagePort}/?src=${encodeURIComponent(src)}`);
      await page.waitForFunction(
        () => (document.querySelector("video") as HTMLVideoElement).currentTime > 4,
        undefined,
        {
          timeout: 25_000,
          polling: 200,
        },
      );
      const seen = await page.evaluate(() => ({
        state: document.body.dataset.state,
        width: (document.querySelector("video") as HTMLVideoElement).videoWidth,
        errors: (window as unknown as { playerErrors: string[] }).playerErrors,
        hlsLoaded: typeof (window as unknown as { Hls?: unknown }).Hls === "function",
      }));
      expect(seen).toEqual({ state: "playing", width: 320, errors: [], hlsLoaded: true });
      // Low-latency mode: hls.js fetched parts (the server's LL-HLS), not only whole segments.
      expect(parts.length).toBeGreaterThan(5);
      // When the publisher stops, the page says the stream ended.
      expect(await publisher.exited).toBe(0);
      await page.waitForFunction(() => document.body.dataset.state === "ended", undefined, {
        timeout: 20_000,
      });
    } finally {
      publisher?.kill();
      await browser.close();
      child.kill("SIGTERM");
      await child.exited;
    }
  });
});
