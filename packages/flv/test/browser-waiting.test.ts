/// <reference lib="dom" />
/**
 * The example page as a newcomer meets it: opened BEFORE anything is published, in Chromium
 * (HTTP-FLV and WS-FLV side by side).
 * It says how to publish to this server and waits; ffmpeg starts and it plays without a reload;
 * ffmpeg stops and comes back within the republish grace and it plays on; ffmpeg stops for good
 * and it says "no media", then "ended", then waits again; the server stops and it never says
 * "playing". No console error, no 404 (no favicon request either).
 */
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import { hasChromium, launchChromium } from "../../../test-support/browser.js";
import {
  freePort,
  hasFfmpeg,
  publishWithFfmpeg,
  type RunningProcess,
  run,
  waitFor,
} from "../../../test-support/media-tools.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const results = `${root}.test-results`;
/** Short, so the "ended" state shows within the test; the page must handle any grace. */
const GRACE_MS = 6_000;

interface PageView {
  state: string;
  status: string;
  note: string;
  states: string[];
  errors: string[];
  currentTime: number;
  videoWidth: number;
  muted: boolean;
}

function view(page: Page): Promise<PageView> {
  return page.evaluate(() => {
    const video = document.querySelector("video") as HTMLVideoElement;
    const w = window as unknown as { playerStates: string[]; playerErrors: string[] };
    return {
      state: document.body.dataset.state ?? "",
      status: document.getElementById("status")?.textContent ?? "",
      note: document.getElementById("note")?.textContent ?? "",
      states: [...w.playerStates],
      errors: [...w.playerErrors],
      currentTime: video.currentTime,
      videoWidth: video.videoWidth,
      muted: video.muted,
    };
  });
}

async function waitForState(page: Page, state: string, timeout: number): Promise<void> {
  try {
    await page.waitForFunction((s) => document.body.dataset.state === s, state, { timeout, polling: 100 });
  } catch (error) {
    throw new Error(`the page never showed "${state}": ${JSON.stringify(await view(page))}`, {
      cause: error,
    });
  }
}

/** Resolves once the video's time has advanced by `seconds` from now (it is really playing). */
async function waitForProgress(page: Page, seconds: number, timeout: number): Promise<void> {
  const from = (await view(page)).currentTime;
  await page.waitForFunction(
    ([t, s]) => (document.querySelector("video") as HTMLVideoElement).currentTime > t + s,
    [from, seconds] as const,
    { timeout, polling: 100 },
  );
}

describe("the example page opened before the stream is live", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("waits, plays without a reload, rides out the grace, says ended, waits again, and never says playing once the server is gone", async () => {
    // Fail, never skip: this test is the only check of the page a newcomer opens.
    expect(hasFfmpeg, "ffmpeg is needed").toBe(true);
    expect(hasChromium, "Chromium (/usr/bin/chromium) is needed").toBe(true);
    mkdirSync(results, { recursive: true });

    const [rtmpPort, flvPort, pagePort] = [await freePort(), await freePort(), await freePort()];
    const example = run("env", [
      `RTMP_PORT=${rtmpPort}`,
      `FLV_PORT=${flvPort}`,
      `PAGE_PORT=${pagePort}`,
      `REPUBLISH_GRACE_MS=${GRACE_MS}`,
      "node",
      "--conditions=source",
      "--import",
      "tsx",
      `${root}examples/web-player-server.ts`,
    ]);
    cleanups.push(async () => {
      example.kill("SIGKILL");
      await example.exited;
    });
    await waitFor(() => example.stdout().includes("watch at"), 20_000, "example server");

    const browser = await launchChromium();
    cleanups.push(() => browser.close());
    const consoleErrors: string[] = [];
    const badResponses: string[] = [];
    let loads = 0;
    const openPage = async (): Promise<Page> => {
      const page = await browser.context.newPage();
      page.on("console", (message) => {
        if (message.type() === "error") consoleErrors.push(`${page.url()}: ${message.text()}`);
      });
      page.on("pageerror", (error) => consoleErrors.push(`pageerror: ${error.message}`));
      page.on("response", (response) => {
        if (response.status() >= 400) badResponses.push(`${response.status()} ${response.url()}`);
      });
      page.on("load", () => {
        loads += 1;
      });
      return page;
    };
    // HTTP-FLV (the page's default stream, no ?src) and WS-FLV side by side, through every step.
    const [page, wsPage] = [await openPage(), await openPage()];
    const pages = [page, wsPage];
    const forBoth = (check: (p: Page) => Promise<void>): Promise<unknown> => Promise.all(pages.map(check));

    const publishers: RunningProcess[] = [];
    cleanups.push(() => {
      for (const p of publishers) p.kill();
    });
    const publish = (): RunningProcess => {
      const p = publishWithFfmpeg(`rtmp://127.0.0.1:${rtmpPort}/live/demo`, {
        seconds: 120,
        width: 320,
        height: 240,
        fps: 25,
        gop: 25,
      });
      publishers.push(p);
      return p;
    };

    // 1. Nothing is published: the page waits and says how to publish to this server.
    await page.goto(`http://127.0.0.1:${pagePort}/`);
    const wsSrc = `ws://127.0.0.1:${flvPort}/live/demo.flv`;
    await wsPage.goto(`http://127.0.0.1:${pagePort}/?src=${encodeURIComponent(wsSrc)}`);
    await forBoth(async (p) => {
      await waitForState(p, "waiting", 5_000);
      expect((await view(p)).status).toBe("waiting for the stream live/demo…");
      const text = (id: string): Promise<string> =>
        p
          .locator(`#${id}`)
          .textContent()
          .then((t) => t ?? "");
      expect(await text("obs-server")).toBe(`rtmp://127.0.0.1:${rtmpPort}/live`);
      expect(await text("obs-key")).toBe("demo");
      expect(await text("ffmpeg-test")).toMatch(
        new RegExp(`^ffmpeg -re .* -f flv rtmp://127\\.0\\.0\\.1:${rtmpPort}/live/demo$`),
      );
      expect(await p.locator("#publish").isVisible()).toBe(true);
    });
    expect(await page.locator("#src").inputValue()).toBe(`http://127.0.0.1:${flvPort}/live/demo.flv`);
    // It keeps asking (every 2 s) without a 404: still waiting after a few retries.
    await page.waitForTimeout(4_500);
    await forBoth(async (p) => expect((await view(p)).state).toBe("waiting"));
    await page.screenshot({ path: `${results}/web-player-waiting.png` });
    expect(badResponses).toEqual([]); // no 404: neither the favicon nor the stream while it is not live
    expect(consoleErrors).toEqual([]);

    // 2. ffmpeg publishes: the same pages play, with sound (this Chromium allows autoplay).
    let ffmpeg = publish();
    await forBoth(async (p) => {
      await waitForState(p, "playing", 20_000);
      await waitForProgress(p, 2, 10_000);
      const playing = await view(p);
      expect(playing.videoWidth).toBe(320);
      expect(playing.muted).toBe(false);
      expect(await p.locator("#sound").isVisible()).toBe(false);
    });
    await page.screenshot({ path: `${results}/web-player-playing.png` });
    // Muted (as when the browser refuses autoplay with sound): a button turns the sound on.
    await page.evaluate(() => {
      (document.querySelector("video") as HTMLVideoElement).muted = true;
    });
    await page.locator("#sound").click();
    expect((await view(page)).muted).toBe(false);
    expect(await page.locator("#sound").isVisible()).toBe(false);

    // 3. ffmpeg stops and comes back within the grace: "no media" for a while, then plays on.
    ffmpeg.kill("SIGKILL");
    await ffmpeg.exited;
    await forBoth((p) => waitForState(p, "stalled", GRACE_MS));
    await forBoth(async (p) => expect((await view(p)).status).toMatch(/^no media for \d+ s$/));
    await page.screenshot({ path: `${results}/web-player-stalled.png` });
    ffmpeg = publish();
    await forBoth(async (p) => {
      await waitForProgress(p, 2, 15_000);
      await waitForState(p, "playing", 2_000);
      expect((await view(p)).states.slice(-3)).toEqual(["playing", "stalled", "playing"]);
    });

    // 4. ffmpeg stops for good: "no media", then "ended" when the grace is over, then waiting.
    ffmpeg.kill("SIGKILL");
    await ffmpeg.exited;
    await forBoth(async (p) => {
      await waitForState(p, "ended", GRACE_MS + 5_000);
      const ended = await view(p);
      expect(ended.status).toBe("ended");
      expect(ended.note).toMatch(/^The stream ended \(.+\)\. Waiting for the stream to come back…$/);
    });
    await page.screenshot({ path: `${results}/web-player-ended.png` });
    await forBoth(async (p) => {
      await waitForState(p, "waiting", 5_000);
      const waitingAgain = await view(p);
      expect(waitingAgain.note).toMatch(/^The last stream ended at .+ Not live yet/);
      expect(waitingAgain.states).toEqual([
        "waiting",
        "connecting",
        "playing",
        "stalled",
        "playing",
        "stalled",
        "ended",
        "waiting",
      ]);
      expect(waitingAgain.errors).toEqual([]);
    });
    expect(consoleErrors).toEqual([]);
    expect(badResponses).toEqual([]);

    // 5. Playing again, then the server stops: the pages must not go on saying "playing".
    ffmpeg = publish();
    await forBoth((p) => waitForState(p, "playing", 20_000));
    expect(loads).toBe(2); // every state above on one load of each page
    example.kill("SIGTERM");
    await example.exited;
    await forBoth(async (p) => {
      await waitForState(p, "waiting", 10_000);
      const gone = await view(p);
      expect(gone.status).toBe(`waiting for the server at 127.0.0.1:${flvPort}…`);
      expect(gone.states.slice(-3)).toEqual(["playing", "ended", "waiting"]);
    });
    await page.screenshot({ path: `${results}/web-player-server-gone.png` });
    // Asking a stopped server fails (connection refused): the only errors, and no 404 at all.
    expect(consoleErrors.filter((e) => !e.includes("net::ERR_CONNECTION_REFUSED"))).toEqual([]);
    expect(badResponses).toEqual([]);
  }, 90_000);
});
