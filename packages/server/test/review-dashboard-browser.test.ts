/// <reference lib="dom" />
/**
 * Review of the dashboard (issue 12): everything it shows that a stranger controls is text, never
 * markup. A room named like an HTML tag (rooms may hold any character but "/", "\" and controls)
 * is published by ffmpeg, and a push relay of it is started whose URL holds a tag (an anonymous
 * player cannot add a name: the ready server answers 404 for a stream that is not live). The page
 * must show them as typed (card, key line, preview title, relay row), with no element made from
 * them and no script run.
 */
import { type AddressInfo, createServer as createNetServer, type Socket } from "node:net";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasChromium, launchChromium } from "../../../test-support/browser.js";
import { hasFfmpeg, publishWithFfmpeg, type RunningProcess } from "../../../test-support/media-tools.js";
import { createServer, type OnairServer } from "../src/index.js";

const ROOM = `<img src=x onerror="window.pwned='room'">'&amp;`;
const WAITING = `<svg onload="window.pwned='player'">`;
const RELAY_PATH = `/live/<img src=x onerror="window.pwned='relay'">`;

/** What the page made of hostile strings: elements it should not have, and whether anything ran. */
function injected(page: Page): Promise<{ elements: number; pwned: unknown }> {
  return page.evaluate(() => ({
    elements: document.querySelectorAll(
      "#streams img, #streams svg, #streams b, #relay-rows img, #relay-rows b",
    ).length,
    pwned: (window as unknown as { pwned?: unknown }).pwned,
  }));
}

describe("the dashboard shows hostile names as text", () => {
  let server: OnairServer;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let publisher: RunningProcess | undefined;
  let api = "";
  let flvPort = 0;
  let rtmpPort = 0;

  beforeAll(async () => {
    expect(hasFfmpeg, "ffmpeg is needed").toBe(true);
    expect(hasChromium, "Chromium is needed").toBe(true);
    server = createServer({ host: "127.0.0.1", rtmpPort: 0, flvPort: 0, hlsPort: 0, apiPort: 0 });
    const addresses = await server.listen();
    api = `http://127.0.0.1:${addresses.api?.port}`;
    flvPort = addresses.flv.port;
    rtmpPort = addresses.rtmp.port;
    browser = await launchChromium();
  });

  afterAll(async () => {
    publisher?.kill();
    await browser?.close();
    await server?.close();
  });

  it("lists a tag-named room and its relay as text", async () => {
    const got = (await (await fetch(`${api}/control/get?room=${encodeURIComponent(ROOM)}`)).json()) as {
      status: number;
      data: string;
    };
    expect(got.status).toBe(200);
    publisher = publishWithFfmpeg(`rtmp://127.0.0.1:${rtmpPort}/live/${got.data}`, { seconds: 20 });

    // An anonymous player asking for a stream named like a tag is refused (404), not listed.
    const waiting = await fetch(`http://127.0.0.1:${flvPort}/live/${encodeURIComponent(WAITING)}.flv`);
    expect(waiting.status).toBe(404);
    await waiting.body?.cancel();

    // A remote that takes the TCP connection and never answers: the push stays listed, connecting.
    const silent = createNetServer((socket) => silentSockets.push(socket));
    const silentSockets: Socket[] = [];
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const RELAY_URL = `rtmp://127.0.0.1:${(silent.address() as AddressInfo).port}${RELAY_PATH}`;
    const relay = (await (
      await fetch(
        `${api}/control/push?oper=start&app=live&name=${encodeURIComponent(ROOM)}&url=${encodeURIComponent(RELAY_URL)}`,
      )
    ).json()) as { status: number };
    expect(relay.status).toBe(200);

    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    // Nothing the page or the browser asks for is missing (a 404, /favicon.ico too, shows as an
    // error in the console).
    const failed: string[] = [];
    page.on("response", (response) => {
      if (response.status() >= 400) failed.push(`${response.status()} ${response.url()}`);
    });
    page.on("console", (message) => {
      if (message.type() === "error") failed.push(`${message.text()} ${message.location().url}`);
    });
    await page.goto(`${api}/`);
    const room = page.locator("section.stream", { has: page.locator(".stream-key", { hasText: ROOM }) });
    await room.locator(".badge", { hasText: "live" }).waitFor({ timeout: 15_000 });
    expect(await room.locator(".stream-key").textContent()).toBe(`live/${ROOM}`);
    expect(await room.getAttribute("data-key")).toBe(`live/${ROOM}`);
    // The push is listed with its URL, as text.
    const relayRow = page.locator("#relay-rows tr", { hasText: ROOM });
    await relayRow.waitFor({ timeout: 5_000 });
    const cells = await relayRow.locator("td").allTextContents();
    // The push URL's last part (the remote's stream key, here the hostile name) is not shown at all.
    expect(cells.slice(0, 3)).toEqual(["push", `live/${ROOM}`, RELAY_URL.replace(/\/[^/]*$/, "/…")]);

    // The preview and the key line take the names too (the room's key, through the API).
    await room.locator('[data-key-op="copy"]').click();
    await room.locator(".key-line", { hasText: got.data }).waitFor({ timeout: 5_000 });
    expect(await room.locator(".key-line").textContent()).toContain(ROOM);
    await room.locator('[data-preview="http-flv"]').click();
    await page.waitForFunction(
      () => (document.getElementById("preview-video") as HTMLVideoElement).currentTime > 0.5,
      undefined,
      { timeout: 15_000, polling: 100 },
    );
    expect(await page.textContent("#preview-title")).toBe(`live/${ROOM} over http-flv`);

    expect(await injected(page)).toEqual({ elements: 0, pwned: undefined });
    expect(errors).toEqual([]);
    expect(failed).toEqual([]);
    await page.close();
    for (const socket of silentSockets) socket.destroy();
    silent.close();
  }, 40_000);
});
