/// <reference lib="dom" />
/**
 * A real browser plays the example page: Chromium + mpegts.js over HTTP-FLV and WebSocket-FLV,
 * with ffmpeg publishing over RTMP into examples/web-player-server.ts.
 */
import { fileURLToPath } from "node:url";
import { chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, hasChromium, launchChromium } from "../../../test-support/browser.js";
import {
  freePort,
  hasFfmpeg,
  publishWithFfmpeg,
  type RunningProcess,
  run,
  waitFor,
} from "../../../test-support/media-tools.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));

interface Playback {
  state: string;
  currentTime: number;
  videoWidth: number;
  videoHeight: number;
  errors: string[];
}

async function watch(page: Page, src: string, pagePort: number): Promise<Playback> {
  await page.goto(`http://127.0.0.1:${pagePort}/?src=${encodeURIComponent(src)}`);
  await page.waitForFunction(
    () => (document.querySelector("video") as HTMLVideoElement).currentTime > 3,
    undefined,
    {
      timeout: 20_000,
      polling: 200,
    },
  );
  return page.evaluate(() => {
    const video = document.querySelector("video") as HTMLVideoElement;
    return {
      state: document.body.dataset.state ?? "",
      currentTime: video.currentTime,
      videoWidth: video.videoWidth,
      videoHeight: video.videoHeight,
      errors: (window as unknown as { playerErrors: string[] }).playerErrors,
    };
  });
}

describe("Chromium plays the example page", () => {
  let example: RunningProcess;
  let publisher: RunningProcess;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let flvPort: number;
  let pagePort: number;

  beforeAll(async () => {
    // Fail, never skip: without these the example page is not tested at all.
    expect(hasFfmpeg, "ffmpeg is needed").toBe(true);
    expect(hasChromium, "Chromium (/usr/bin/chromium) is needed").toBe(true);
    const rtmpPort = await freePort();
    flvPort = await freePort();
    pagePort = await freePort();
    example = run("env", [
      `RTMP_PORT=${rtmpPort}`,
      `FLV_PORT=${flvPort}`,
      `PAGE_PORT=${pagePort}`,
      "node",
      "--conditions=source",
      "--import",
      "tsx",
      `${root}examples/web-player-server.ts`,
    ]);
    await waitFor(() => example.stdout().includes("watch at"), 20_000, "example server");
    publisher = publishWithFfmpeg(`rtmp://127.0.0.1:${rtmpPort}/live/demo`, {
      seconds: 30,
      width: 320,
      height: 240,
      fps: 25,
      gop: 25,
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    publisher?.kill();
    example?.kill("SIGTERM");
    await example?.exited;
  });

  it("plays HTTP-FLV and WebSocket-FLV: time passes 3 s, the published width, no player error", async () => {
    const [httpPage, wsPage] = await Promise.all([browser.context.newPage(), browser.context.newPage()]);
    const problems: string[] = [];
    for (const page of [httpPage, wsPage]) {
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(`console: ${message.text()}`);
      });
      page.on("response", (response) => {
        if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
      });
    }
    const [http, ws] = await Promise.all([
      watch(httpPage, `http://127.0.0.1:${flvPort}/live/demo.flv`, pagePort),
      watch(wsPage, `ws://127.0.0.1:${flvPort}/live/demo.flv`, pagePort),
    ]);
    for (const playback of [http, ws]) {
      expect(playback.currentTime).toBeGreaterThan(3);
      expect(playback.videoWidth).toBe(320);
      expect(playback.videoHeight).toBe(240);
      expect(playback.errors).toEqual([]);
      expect(playback.state).toBe("playing");
    }
    expect(problems).toEqual([]); // no console error, no 404 (the favicon included)
    await httpPage.screenshot({ path: `${root}.test-results/web-player-http-flv.png` });
  }, 60_000);

  it("from a server without GET /streams, the stream's 404 means 'not live yet': it waits and retries, never 'ended'", async () => {
    const page = await browser.context.newPage();
    // The page server answers 404 to everything but the page: to /streams and to the stream.
    const src = `http://127.0.0.1:${pagePort}/live/demo.flv`;
    const requests: string[] = [];
    page.on("request", (request) => {
      if (request.url() === src) requests.push(request.url());
    });
    await page.goto(`http://127.0.0.1:${pagePort}/?src=${encodeURIComponent(src)}`);
    await page.waitForTimeout(5_000);
    const seen = await page.evaluate(() => ({
      state: document.body.dataset.state,
      note: document.getElementById("note")?.textContent,
      states: (window as unknown as { playerStates: string[] }).playerStates,
      errors: (window as unknown as { playerErrors: string[] }).playerErrors,
    }));
    expect(seen.state).toBe("waiting");
    expect(seen.note).toBe("Not live yet (the server answered 404); retrying every 2 s.");
    expect(seen.states.filter((s) => s !== "waiting" && s !== "connecting")).toEqual([]);
    expect(seen.errors).toEqual([]);
    expect(requests.length).toBeGreaterThanOrEqual(2); // it retried
    await page.close();
  }, 30_000);

  it("where autoplay with sound is refused, plays muted with a 'click for sound' button that turns it on", async () => {
    // Chromium's own autoplay policy (no --autoplay-policy flag): sound needs a user gesture.
    const strict = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
      ],
    });
    try {
      const page = await strict.newPage();
      const src = `http://127.0.0.1:${flvPort}/live/demo.flv`;
      const muted = await watch(page, src, pagePort);
      expect(muted.state).toBe("playing");
      const video = () =>
        page.evaluate(() => {
          const v = document.querySelector("video") as HTMLVideoElement;
          return { muted: v.muted, paused: v.paused, currentTime: v.currentTime };
        });
      expect((await video()).muted).toBe(true);
      const button = page.locator("#sound");
      expect(await button.isVisible()).toBe(true);
      expect(await button.textContent()).toMatch(/click for sound/);
      await page.screenshot({ path: `${root}.test-results/web-player-muted.png` });
      await button.click();
      const before = (await video()).currentTime;
      await page.waitForTimeout(1_000);
      const after = await video();
      expect(after.muted).toBe(false);
      expect(after.paused).toBe(false);
      expect(after.currentTime).toBeGreaterThan(before + 0.5);
      expect(await button.isVisible()).toBe(false);
    } finally {
      await strict.close();
    }
  }, 60_000);
});
