/// <reference lib="dom" />
/**
 * The dashboard in a real browser: the ready server (createServer, in process, on free loopback
 * ports) with ffmpeg publishing two streams through channel keys, and Debian's Chromium on the
 * page at GET / of the API port. The page must list both streams with what ffmpeg sends (H.264
 * 320×240 at 25 fps, AAC 44.1 kHz), draw non-zero inbound bitrate points for each within 5 s,
 * play a preview (the video's currentTime advances), and reset a channel key (the API then gives
 * the new one). A second server with the API's JWT on: the page opened with ?jwt= works, and
 * without a token the page and the stats stream are refused. Screenshots go to
 * .test-results/dashboard/.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SignJWT } from "jose";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasChromium, launchChromium } from "../../../test-support/browser.js";
import { hasFfmpeg, publishWithFfmpeg, type RunningProcess } from "../../../test-support/media-tools.js";
import { createServer, type OnairServer } from "../src/index.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const SHOTS = join(root, ".test-results/dashboard");
const SECRET = "dashboard test secret, long enough for HS256";

interface Running {
  server: OnairServer;
  api: string;
  rtmp: number;
}

async function start(jwt?: { secret: string }): Promise<Running> {
  const server = createServer({
    host: "127.0.0.1",
    rtmpPort: 0,
    flvPort: 0,
    hlsPort: 0,
    apiPort: 0,
    ...(jwt === undefined ? {} : { jwt }),
  });
  const addresses = await server.listen();
  return { server, api: `http://127.0.0.1:${addresses.api?.port}`, rtmp: addresses.rtmp.port };
}

async function apiGet(url: string, token?: string): Promise<{ status: number; data: unknown }> {
  const response = await fetch(
    url,
    token === undefined ? {} : { headers: { Authorization: `Bearer ${token}` } },
  );
  return (await response.json()) as { status: number; data: unknown };
}

/** What the page's chart of `key` holds: its non-null bitrate points. */
function bitratePoints(page: Page, key: string): Promise<number[]> {
  return page.evaluate((k) => {
    const dashboard = (
      window as unknown as { onairDashboard: { cards: Map<string, { bitrate: { data: number[][] } }> } }
    ).onairDashboard;
    const card = dashboard.cards.get(k);
    return card === undefined ? [] : Array.from(card.bitrate.data[1] ?? []).filter((v) => v !== null);
  }, key);
}

async function waitForNonZeroChart(page: Page, key: string): Promise<number[]> {
  await page.waitForFunction(
    (k) => {
      const dashboard = (
        window as unknown as { onairDashboard: { cards: Map<string, { bitrate: { data: number[][] } }> } }
      ).onairDashboard;
      const points = dashboard?.cards.get(k)?.bitrate.data[1] ?? [];
      return Array.from(points).some((v) => v !== null && v > 0);
    },
    key,
    { timeout: 5_000, polling: 100 },
  );
  return bitratePoints(page, key);
}

/**
 * Clicks a preview button of `key` and waits until the video plays on: its currentTime advances
 * by `seconds` from the first frame shown (a live HLS start is not at 0). Returns the advance.
 */
async function previewPlays(page: Page, key: string, protocol: string, seconds: number): Promise<number> {
  await page.click(`section.stream[data-key="${key}"] [data-preview="${protocol}"]`);
  await page.waitForFunction(
    (p) => {
      const v = document.getElementById("preview-video") as HTMLVideoElement;
      return v.dataset.protocol === p && v.currentTime > 0;
    },
    protocol,
    { timeout: 15_000, polling: 100 },
  );
  const first = await page.evaluate(
    () => (document.getElementById("preview-video") as HTMLVideoElement).currentTime,
  );
  await page.waitForFunction(
    ([t, s]) => (document.getElementById("preview-video") as HTMLVideoElement).currentTime > t + s,
    [first, seconds] as const,
    { timeout: 15_000, polling: 100 },
  );
  return (
    (await page.evaluate(() => (document.getElementById("preview-video") as HTMLVideoElement).currentTime)) -
    first
  );
}

describe("the dashboard in Chromium", () => {
  const publishers: RunningProcess[] = [];
  const servers: OnairServer[] = [];
  let browser: Awaited<ReturnType<typeof launchChromium>>;

  beforeAll(async () => {
    // Fail, never skip: without these the page is not tested at all.
    expect(hasFfmpeg, "ffmpeg is needed").toBe(true);
    expect(hasChromium, "Chromium (/usr/bin/chromium) is needed").toBe(true);
    mkdirSync(SHOTS, { recursive: true });
    browser = await launchChromium();
  });

  afterAll(async () => {
    for (const p of publishers) p.kill();
    await browser?.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  it("lists two live streams with codecs, charts their bitrate, previews one and resets a key", async () => {
    const { server, api, rtmp } = await start();
    servers.push(server);
    const keys: Record<string, string> = {};
    for (const room of ["cam1", "cam2"]) {
      keys[room] = (await apiGet(`${api}/control/get?room=${room}`)).data as string;
      publishers.push(publishWithFfmpeg(`rtmp://127.0.0.1:${rtmp}/live/${keys[room]}`, { seconds: 40 }));
    }
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("dialog", (dialog) => void dialog.accept());
    await page.goto(`${api}/`);

    // Both streams listed, by room (their keys never show), with what ffmpeg sends.
    for (const key of ["live/cam1", "live/cam2"]) {
      const card = page.locator(`section.stream[data-key="${key}"]`);
      await card.locator(".badge", { hasText: "live" }).waitFor({ timeout: 15_000 });
      await expect
        .poll(() => card.locator(".video").textContent(), { timeout: 5_000 })
        .toMatch(/^h264 .*320×240, 2[45](\.\d+)? fps$/);
      expect(await card.locator(".audio").textContent()).toBe("aac, 44.1 kHz, mono");
      expect(await card.locator(".publisher").textContent()).toMatch(/^rtmp 127\.0\.0\.1:\d+$/);
    }
    expect(await page.locator("section.stream").count()).toBe(2);

    // Each bitrate chart has non-zero points within 5 s of the streams being listed.
    for (const key of ["live/cam1", "live/cam2"]) {
      const points = await waitForNonZeroChart(page, key);
      expect(Math.max(...points), key).toBeGreaterThan(50);
    }

    // The preview plays over HTTP-FLV, and the page lists it as a player of the stream.
    const played = await previewPlays(page, "live/cam1", "http-flv", 1.5);
    expect(played).toBeGreaterThan(1.5);
    // (Its other player is the HLS segmenter.)
    const player = page.locator('section.stream[data-key="live/cam1"] .players tbody tr', {
      hasText: "http-flv",
    });
    await player.waitFor({ timeout: 3_000 });
    const cells = await player.locator("td").allTextContents();
    expect(cells[1]).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(cells[2]).toMatch(/^\d+(\.\d+)? (B|KiB|MiB)$/);
    await page.screenshot({ path: join(SHOTS, "dashboard.png"), fullPage: true });

    // A key reset from the page: the API now gives another key, and the page shows it.
    await page.click('section.stream[data-key="live/cam2"] [data-key-op="reset"]');
    const line = page.locator('section.stream[data-key="live/cam2"] .key-line');
    await line.filter({ hasText: "new key" }).waitFor({ timeout: 5_000 });
    const after = (await apiGet(`${api}/control/get?room=cam2`)).data as string;
    expect(after).not.toBe(keys.cam2);
    expect(await line.getAttribute("data-key")).toBe(after);
    await page.screenshot({ path: join(SHOTS, "dashboard-key-reset.png"), fullPage: true }); // the line is below the fold

    // A relay started from the page: push live/cam1 back into this server with room cam9's key;
    // live/cam9 appears, the relay is listed, and its Stop button ends it.
    const key9 = (await apiGet(`${api}/control/get?room=cam9`)).data as string;
    await page.selectOption('#relay-form select[name="kind"]', "push");
    await page.fill('#relay-form input[name="app"]', "live");
    await page.fill('#relay-form input[name="name"]', "cam1");
    await page.fill('#relay-form input[name="url"]', `rtmp://127.0.0.1:${rtmp}/live/${key9}`);
    await page.click('#relay-form button[type="submit"]');
    await page
      .locator('section.stream[data-key="live/cam9"] .badge', { hasText: "live" })
      .waitFor({ timeout: 10_000 });
    const relayRow = page.locator("#relay-rows tr", { hasText: "live/cam1" });
    await relayRow.locator("td", { hasText: /^live$/ }).waitFor({ timeout: 5_000 });
    // The table hides the remote's stream key (the push URL's last part); Stop still ends the relay.
    expect((await relayRow.locator("td").allTextContents()).slice(0, 3)).toEqual([
      "push",
      "live/cam1",
      `rtmp://127.0.0.1:${rtmp}/live/…`,
    ]);
    expect(await page.locator("#relay-rows").textContent()).not.toContain(key9);
    await page.screenshot({ path: join(SHOTS, "dashboard-relay.png"), fullPage: true });
    await relayRow.locator("button", { hasText: "Stop" }).click();
    await page.locator("#relay-rows tr").first().waitFor({ state: "detached", timeout: 5_000 });
    expect(server.relays.list()).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 40_000);

  it("works with the API's JWT on: the page takes ?jwt=, and without it the page and the stats stream are refused", async () => {
    const { server, api, rtmp } = await start({ secret: SECRET });
    servers.push(server);
    const token = await new SignJWT({ sub: "ops" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt()
      .sign(new TextEncoder().encode(SECRET));
    for (const path of ["/", "/stat/events", "/dashboard/dashboard.js"]) {
      const refused = await fetch(`${api}${path}`);
      expect(refused.status, path).toBe(403);
      await refused.body?.cancel();
    }
    const key = (await apiGet(`${api}/control/get?room=cam3`, token)).data as string;
    publishers.push(publishWithFfmpeg(`rtmp://127.0.0.1:${rtmp}/live/${key}`, { seconds: 30 }));
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${api}/?jwt=${encodeURIComponent(token)}`);
    const card = page.locator('section.stream[data-key="live/cam3"]');
    await card.locator(".badge", { hasText: "live" }).waitFor({ timeout: 15_000 });
    const points = await waitForNonZeroChart(page, "live/cam3");
    expect(Math.max(...points)).toBeGreaterThan(50);
    // An action from the page carries the token too.
    await card.locator('[data-key-op="copy"]').click();
    await card.locator(".key-line", { hasText: key }).waitFor({ timeout: 5_000 });
    // The preview over WebSocket-FLV (the media ports need no token).
    expect(await previewPlays(page, "live/cam3", "ws-flv", 1)).toBeGreaterThan(1);
    await page.screenshot({ path: join(SHOTS, "dashboard-jwt.png"), fullPage: true });
    // And over HLS (hls.js; LL-HLS by default).
    expect(await previewPlays(page, "live/cam3", "hls", 1)).toBeGreaterThan(1);
    await page.screenshot({ path: join(SHOTS, "dashboard-jwt-hls.png"), fullPage: false });
    expect(errors).toEqual([]);
    await page.close();
  }, 40_000);
});
