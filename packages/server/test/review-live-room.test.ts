/**
 * Review of examples/live-room's chat hub (issue 12): hostile viewers cannot make the server hold
 * memory for them. A viewer that floods WebSocket pings and never reads the pongs ws answers with
 * (control frames pass the hub's rate limit and its slow-reader check, which only look at chat
 * messages) is cut off all the same: ws 8.18+ ends a connection with more than
 * `maxPendingAutoPongs` (500) pongs unsent. This pins that, with the other viewer unaffected.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ChatHub } from "../../../examples/live-room/chat-hub.js";

/** A chat hub behind an HTTP server on a loopback port; rooms are /chat?name=NICK → room "room". */
async function startHub(chat: ChatHub): Promise<{ port: number; close: () => void }> {
  const server = createServer();
  server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://x");
    chat.handleUpgrade(req, socket, head, "room", url.searchParams.get("name") ?? "");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as { port: number }).port,
    close: () => {
      chat.close();
      server.close();
    },
  };
}

/** A WebSocket handshake by hand: the socket is then ours to write frames on and never read. */
async function rawViewer(port: number, name: string, path = "/chat"): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {}); // the server cuts it off: that is what is tested
  socket.write(
    `GET ${path}?name=${name} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  const [answer] = (await once(socket, "data")) as [Buffer];
  expect(answer.toString()).toMatch(/^HTTP\/1.1 101/);
  return socket;
}

/** `count` masked client ping frames with 125-byte payloads (mask key 0: the payload as is). */
function pingFrames(count: number): Buffer {
  const frame = Buffer.alloc(2 + 4 + 125, 0x61);
  frame[0] = 0x89; // FIN, ping
  frame[1] = 0x80 | 125; // masked, 125 bytes
  frame.fill(0, 2, 6); // mask key
  return Buffer.concat(Array.from({ length: count }, () => frame));
}

describe("live-room chat hub (review)", () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  it("cuts off a viewer that floods pings and never reads the pongs; the other viewer goes on", async () => {
    const chat = new ChatHub(() => false);
    const hub = await startHub(chat);
    cleanups.push(hub.close);
    const flooder = await rawViewer(hub.port, "flooder");
    cleanups.push(() => flooder.destroy());
    flooder.pause(); // it never reads again
    const other = new WebSocket(`ws://127.0.0.1:${hub.port}/chat?name=other`);
    cleanups.push(() => other.terminate());
    const received: string[] = [];
    other.on("message", (data) => received.push(String(data)));
    await once(other, "open");
    await expect.poll(() => chat.viewers("room")).toBe(2);

    // 24 MB of pings: ws answers each with a 127-byte pong, ~23 MB the flooder never reads, more
    // than loopback's socket buffers hold.
    const chunk = pingFrames(8192); // ~1 MB
    for (let i = 0; i < 24 && !flooder.destroyed; i++) {
      if (!flooder.write(chunk)) {
        await new Promise((resolve) => {
          flooder.once("drain", resolve);
          flooder.once("close", resolve);
        });
      }
    }
    await expect.poll(() => chat.viewers("room"), { timeout: 10_000 }).toBe(1);
    expect(chat.stats().connections).toBe(1);
    other.send(JSON.stringify({ type: "chat", text: "still here" }));
    await expect.poll(() => received.some((m) => m.includes('"still here"'))).toBe(true);
  }, 30_000);
});

describe("live-room server close (review)", () => {
  it("closes within about a second with a viewer that never answers the close and idle HTTP and RTMP connections", async () => {
    const { startLiveRoom } = await import("../../../examples/live-room/server.js");
    const room = await startLiveRoom({ httpPort: 0, rtmpPort: 0, secret: "s" });
    const port = Number(new URL(room.httpUrl).port);
    const silent = await rawViewer(port, "silent", "/chat/demo");
    silent.pause(); // never reads: the server's close frame goes unanswered
    await expect.poll(() => room.chat.viewers("demo")).toBe(1);
    // An idle keep-alive HTTP connection, and an RTMP connection that never says a word.
    const idle = connect(port, "127.0.0.1");
    idle.on("error", () => {});
    idle.write("GET /static/room.css HTTP/1.1\r\nHost: x\r\n\r\n");
    await once(idle, "data");
    const mute = connect(Number(new URL(room.rtmpUrl.replace("rtmp:", "http:")).port), "127.0.0.1");
    mute.on("error", () => {});
    await once(mute, "connect");
    const started = Date.now();
    await room.close();
    expect(Date.now() - started).toBeLessThan(2500); // the unanswered close is cut after 1 s
    // Every connection is gone (the hub counts its viewer out on ws's close event, just after).
    await expect.poll(() => room.chat.stats().connections).toBe(0);
    for (const socket of [silent, idle, mute]) {
      socket.resume();
      await expect.poll(() => socket.destroyed).toBe(true);
    }
    for (const socket of [silent, idle, mute]) socket.destroy();
  });
});
