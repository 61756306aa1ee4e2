/// <reference lib="dom" />
/**
 * examples/live-room in Chromium: two viewers in one room chat (list and danmaku), like, and watch
 * the stream come, go and come back without a reload; hostile chat clients (a 1 MB frame, a burst
 * of 1000 messages, a too-long text, a bad nickname) are refused while the two pages go on.
 */
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ChatHub } from "../../../examples/live-room/chat-hub.js";
import { type LiveRoomServer, startLiveRoom } from "../../../examples/live-room/server.js";
import { hasChromium, launchChromium } from "../../../test-support/browser.js";
import { hasFfmpeg, publishWithFfmpeg, type RunningProcess } from "../../../test-support/media-tools.js";

const results = fileURLToPath(new URL("../../../.test-results/", import.meta.url));
const BURST = 8; // the chat's default token bucket

/** Resolves when the page's video time has moved on by `seconds` from now. */
async function advances(page: Page, seconds: number, timeout = 15_000): Promise<void> {
  const from = await page.evaluate(() => (document.getElementById("video") as HTMLVideoElement).currentTime);
  await page.waitForFunction(
    (t) => (document.getElementById("video") as HTMLVideoElement).currentTime > t,
    from + seconds,
    { timeout, polling: 100 },
  );
}

/** How many chat lines (list) and danmaku carry exactly `text`. */
function shown(page: Page, text: string): Promise<{ list: number; danmaku: number }> {
  return page.evaluate((t) => {
    const count = (selector: string) =>
      Array.from(document.querySelectorAll(selector)).filter((el) => el.textContent === t).length;
    return { list: count("#messages .text"), danmaku: count("#danmaku .danmaku") };
  }, text);
}

function waitShown(page: Page, text: string, timeout: number): Promise<unknown> {
  return page.waitForFunction(
    (t) =>
      Array.from(document.querySelectorAll("#messages .text")).some((el) => el.textContent === t) &&
      Array.from(document.querySelectorAll("#danmaku .danmaku")).some((el) => el.textContent === t),
    text,
    { timeout, polling: 20 },
  );
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill("#chat-input", text);
  await page.press("#chat-input", "Enter");
}

function boardOf(page: Page): Promise<string[]> {
  return page.$$eval("#board li", (items) => items.map((li) => li.textContent ?? ""));
}

/** A raw chat client (not a page): resolves with the close code the server gave it. */
function hostileClient(
  room: LiveRoomServer,
  name: string,
  onOpen: (ws: WebSocket) => void,
): { ws: WebSocket; closed: Promise<number>; received: string[] } {
  const url = `${room.httpUrl.replace("http:", "ws:")}/chat/demo?name=${encodeURIComponent(name)}`;
  const ws = new WebSocket(url);
  const received: string[] = [];
  ws.on("message", (data) => received.push(String(data)));
  ws.on("error", () => {}); // a reset while it still writes: the close code says what happened
  ws.once("open", () => onOpen(ws));
  return { ws, closed: new Promise((resolve) => ws.once("close", (code) => resolve(code))), received };
}

describe.skipIf(!hasFfmpeg || !hasChromium)("examples/live-room", () => {
  let room: LiveRoomServer;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  const publishers: RunningProcess[] = [];

  beforeAll(async () => {
    room = await startLiveRoom({ httpPort: 0, rtmpPort: 0, secret: "test", republishGraceMs: 300 });
    browser = await launchChromium();
    mkdirSync(results, { recursive: true });
  });

  afterAll(async () => {
    for (const publisher of publishers) publisher.kill();
    await browser?.close();
    await room?.close();
  });

  it("chats, likes and follows the stream in two pages; hostile chat input is refused", async () => {
    const publish = (key: string): RunningProcess => {
      const publisher = publishWithFfmpeg(`${room.rtmpUrl}/demo?key=${key}`, { seconds: 60 });
      publishers.push(publisher);
      return publisher;
    };
    const errors: string[] = [];
    const open = async (name: string): Promise<Page> => {
      const page = await browser.context.newPage();
      page.on("pageerror", (error) => errors.push(`${name}: ${error.message}`));
      await page.setViewportSize({ width: 1100, height: 560 });
      await page.goto(`${room.httpUrl}/room/demo?name=${name}`);
      return page;
    };
    const alice = await open("alice");
    const bob = await open("bob");
    const pages = [alice, bob];

    // Offline at first: the card, the count of two viewers. A marker shows later that no page reloaded.
    for (const page of pages) {
      await page.waitForFunction(() => document.getElementById("viewers")?.textContent === "2");
      expect(await page.isVisible("#offline-card")).toBe(true);
      await page.evaluate(() => {
        (window as unknown as { notReloaded: boolean }).notReloaded = true;
      });
    }

    // Only the room's key publishes.
    const intruder = publishWithFfmpeg(`${room.rtmpUrl}/demo?key=guess`, { seconds: 3 });
    expect(await intruder.exited).not.toBe(0);
    expect(intruder.stderr()).toMatch(/wrong room or key/);

    // The stream goes live: the card gives way to the player by itself.
    publish(room.keyFor("demo"));
    for (const page of pages) {
      await page.waitForFunction(() => document.body.dataset.live === "true", undefined, { timeout: 10_000 });
      await advances(page, 1);
      expect(await page.isVisible("#offline-card")).toBe(false);
      expect(await page.textContent("#player-kind")).toBe("HTTP-FLV · mpegts.js");
    }

    // A message from alice is on bob's page within 1 s, in the list and flying over the video.
    const sentAt = Date.now();
    await say(alice, "hello from alice");
    await waitShown(bob, "hello from alice", 1000);
    const latencyMs = Date.now() - sentAt;
    expect(latencyMs).toBeLessThan(1000);
    await waitShown(alice, "hello from alice", 1000);

    // Markup is text: the tag shows as typed and nothing runs.
    const payload = `<img src=x onerror="window.pwned=1"><b>bold</b>`;
    await say(bob, payload);
    await waitShown(alice, payload, 1000);
    for (const page of pages) {
      expect(await page.$$("#messages img, #messages b, #danmaku img, #danmaku b")).toHaveLength(0);
      expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    }

    // Likes: alice leads with 2, then bob's 3 put him on top, on both pages.
    for (let i = 0; i < 2; i++) await alice.click("#gift");
    for (const page of pages) {
      await page.waitForFunction(() => document.querySelector("#board li")?.textContent === "alice❤ 2");
    }
    for (let i = 0; i < 3; i++) await bob.click("#gift");
    for (const page of pages) {
      await page.waitForFunction(() => document.querySelector("#board li")?.textContent === "bob❤ 3");
      expect(await boardOf(page)).toEqual(["bob❤ 3", "alice❤ 2"]);
    }
    await say(alice, "très bien, ça marche");
    await waitShown(bob, "très bien, ça marche", 1000);
    await alice.waitForTimeout(1500); // the danmaku fly some way in
    await alice.screenshot({ path: `${results}live-room-alice.png` });
    await bob.screenshot({ path: `${results}live-room-bob.png` });

    // Hostile clients. A 1 MB frame: ws refuses it (1009) and closes the connection.
    const big = hostileClient(room, "mallory", (ws) =>
      ws.send(JSON.stringify({ type: "chat", text: "x".repeat(1024 * 1024) })),
    );
    expect(await big.closed).toBe(1009);
    // A burst of 1000: the first BURST pass, the rest are dropped and the connection is closed (1008).
    const spam = hostileClient(room, "spammer", (ws) => {
      for (let i = 0; i < 1000; i++) ws.send(JSON.stringify({ type: "chat", text: `spam ${i}` }));
    });
    expect(await spam.closed).toBe(1008);
    // Too long (201 characters): refused to the sender only, never shown.
    const long = hostileClient(room, "verbose", (ws) =>
      ws.send(JSON.stringify({ type: "chat", text: "y".repeat(201) })),
    );
    await expect.poll(() => long.received.some((m) => m.includes('"refused"'))).toBe(true);
    // A nickname that is not one: refused at the upgrade.
    const badName = new WebSocket(`${room.httpUrl.replace("http:", "ws:")}/chat/demo?name=%3Cb%3E`);
    const status = await new Promise<number>((resolve) => {
      badName.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      badName.once("error", () => resolve(-1));
    });
    expect(status).toBe(400);

    // The two pages went on: still connected, a later message arrives within 1 s, and the spam is
    // no more than the burst the bucket allowed.
    await say(bob, "still here");
    await waitShown(alice, "still here", 1000);
    for (const page of pages) {
      expect(await page.getAttribute("body", "data-connected")).toBe("true");
      const spamLines = await page.$$eval(
        "#messages .text",
        (items) => items.filter((li) => li.textContent?.startsWith("spam ")).length,
      );
      expect(spamLines).toBeLessThanOrEqual(BURST);
      expect((await shown(page, "y".repeat(201))).list).toBe(0);
    }
    const { dropped } = room.chat.stats();
    expect(dropped.rateLimited).toBeGreaterThanOrEqual(10);
    expect(dropped.closedForSpam).toBe(1);
    expect(dropped.tooLong).toBe(1);
    expect(room.chat.viewers("demo")).toBe(3); // alice, bob and "verbose"
    long.ws.close();
    for (const page of pages) {
      await page.waitForFunction(() => document.getElementById("viewers")?.textContent === "2");
    }

    // The publisher stops: both pages show the offline card.
    publishers[0].kill();
    for (const page of pages) {
      await page.waitForSelector("#offline-card", { state: "visible", timeout: 5000 });
    }
    await alice.screenshot({ path: `${results}live-room-offline.png` });
    // It comes back: the player comes back too, without a reload, and plays.
    publish(room.keyFor("demo"));
    for (const page of pages) {
      await page.waitForSelector("#offline-card", { state: "hidden", timeout: 10_000 });
      await advances(page, 1);
      expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(
        true,
      );
    }
    // Where MSE is missing the page plays HLS; hls.js (forced here) plays the republished stream.
    const carol = await browser.context.newPage();
    await carol.goto(`${room.httpUrl}/room/demo?name=carol&player=hls`);
    await carol.waitForFunction(() => document.body.dataset.live === "true");
    await advances(carol, 1);
    expect(await carol.textContent("#player-kind")).toBe("HLS · hls.js");
    expect(errors).toEqual([]);
    console.log(`live room: chat message seen on the other page after ${latencyMs} ms`);
  });
});

describe("examples/live-room chat hub", () => {
  it("drops a viewer that stops reading instead of buffering for it, and the others get everything", async () => {
    const chat = new ChatHub(() => false, {
      burst: 1e6,
      ratePerSecond: 1e6,
      maxPayloadBytes: 64 * 1024,
      maxTextLength: 30_000,
      maxBufferedBytes: 256 * 1024,
      historySize: 1,
    });
    const server = createServer();
    server.on("upgrade", (req, socket, head) => {
      const url = new URL(req.url ?? "/", "http://x");
      chat.handleUpgrade(req, socket, head, "room", url.searchParams.get("name") ?? "");
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as { port: number }).port;
    try {
      // The slow viewer: a WebSocket handshake by hand, then its socket never reads again.
      const slow = connect(port, "127.0.0.1");
      slow.write(
        "GET /chat?name=slow HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      const [answer] = (await once(slow, "data")) as [Buffer];
      expect(answer.toString()).toMatch(/^HTTP\/1.1 101/);
      slow.pause();
      await expect.poll(() => chat.viewers("room")).toBe(1);

      const fast = new WebSocket(`ws://127.0.0.1:${port}/chat?name=fast`);
      let chats = 0;
      fast.on("message", (data) => {
        if (String(data).startsWith('{"type":"chat"')) chats += 1;
      });
      await once(fast, "open");
      const count = 600; // 12 MB to each viewer: more than the kernel buffers on loopback
      const text = "z".repeat(20_000);
      // The fast viewer keeps up: it sends a few at a time and reads them back before the next
      // few, so its own queue stays far under maxBufferedBytes. (All 600 at once made the server
      // queue more for it than that before this process got round to reading: it was dropped too.)
      const step = 4;
      for (let i = 0; i < count; i += step) {
        for (let j = i; j < Math.min(count, i + step); j++) fast.send(JSON.stringify({ type: "chat", text }));
        await expect.poll(() => chats, { timeout: 5_000, interval: 2 }).toBe(Math.min(count, i + step));
      }
      expect(chat.stats().dropped.slowReaders).toBe(1);
      expect(chat.viewers("room")).toBe(1);
      fast.close();
      slow.destroy();
      await expect.poll(() => chat.stats().connections).toBe(0);
    } finally {
      chat.close();
      server.close();
    }
  });
});
