/**
 * Hostile and broken HTTP clients against the HTTP-FLV server while a healthy player watches the
 * same stream: each gets a clear answer or is cut off, and the healthy player never notices.
 */
import { get, type IncomingMessage, request } from "node:http";
import { connect, type Socket } from "node:net";
import { createMediaPacket, StreamHub, StreamSource } from "@onair/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../../test-support/media-tools.js";
import { createHttpFlvServer, type HttpFlvServer } from "../src/index.js";

function fetchRaw(
  port: number,
  method: string,
  path: string,
): Promise<{ status: number; headers: IncomingMessage["headers"]; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
        if (body.length > 4096) res.destroy(); // a live stream: enough
      });
      res.on("close", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("HTTP-FLV server under bad input", () => {
  let hub: StreamHub;
  let server: HttpFlvServer;
  let source: StreamSource;
  let pump: NodeJS.Timeout;
  let port: number;
  let healthyBytes = 0;
  let healthyClosed = false;

  beforeAll(async () => {
    hub = new StreamHub({
      slowPlayer: { skipBytes: 256 * 1024, closeBytes: 1024 * 1024, closeAfterMs: 2000 },
    });
    server = createHttpFlvServer({ handler: hub, host: "127.0.0.1", port: 0, headersTimeoutMs: 1000 });
    port = (await server.listen()).port;
    // A 20 Mbit/s synthetic stream (100 KB frames at 25 fps, a keyframe every 10), so a player
    // that does not read fills the loopback socket buffers within seconds.
    source = new StreamSource({
      key: "live/healthy",
      app: "live",
      name: "healthy",
      url: "",
      id: "synthetic",
    });
    hub.handleReader(source);
    let frame = 0;
    const body = Buffer.alloc(100_000, 1);
    pump = setInterval(() => {
      const keyframe = frame % 10 === 0;
      body[0] = keyframe ? 0x17 : 0x27;
      source.push(createMediaPacket("video", frame * 40, Buffer.from(body), { keyframe }));
      frame += 1;
    }, 40);
    get({ host: "127.0.0.1", port, path: "/live/healthy.flv" }, (res) => {
      res.on("data", (d: Buffer) => {
        healthyBytes += d.length;
      });
      res.on("close", () => {
        healthyClosed = true;
      });
    });
    await waitFor(() => healthyBytes > 0, 5000, "healthy player");
  });

  afterAll(async () => {
    clearInterval(pump);
    hub.close();
    await server.close();
  });

  /**
   * Each bad-input case ends with this, so each proves on its own (in any order) that the healthy
   * player on the same stream is still open and receiving: two more 100 KB frames arrive after it.
   */
  async function expectHealthyPlayerReceiving(): Promise<void> {
    expect(healthyClosed).toBe(false);
    const from = healthyBytes;
    await waitFor(() => healthyClosed || healthyBytes >= from + 200_000, 10_000, "two more frames");
    expect(healthyClosed).toBe(false);
  }

  it("answers traversal attempts and unknown paths with a JSON 404", async () => {
    for (const path of [
      "/../../etc/passwd",
      "/live/%2e%2e/x.flv",
      "/%2e%2e/passwd.flv",
      "/live/..%2fx.flv",
      "/live/%00.flv",
      "/live/%zz.flv",
      "/x.flv",
    ]) {
      const res = await fetchRaw(port, "GET", path);
      expect(res.status, path).toBe(404);
      expect(res.headers["content-type"]).toContain("application/json");
      expect(res.body).not.toContain("root:");
    }
    await expectHealthyPlayerReceiving();
  });

  it("answers a stream that is not live with a JSON 404", async () => {
    const res = await fetchRaw(port, "GET", "/live/nobody.flv");
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toEqual({ error: "stream not live", stream: "live/nobody" });
    await expectHealthyPlayerReceiving();
  });

  it("answers OPTIONS preflight, HEAD and /streams with CORS headers", async () => {
    const options = await fetchRaw(port, "OPTIONS", "/live/healthy.flv");
    expect(options.status).toBe(204);
    expect(options.headers["access-control-allow-origin"]).toBe("*");
    const head = await fetchRaw(port, "HEAD", "/live/healthy.flv");
    expect(head.status).toBe(200);
    expect(head.headers["content-type"]).toBe("video/x-flv");
    expect(head.body).toBe("");
    const streams = await fetchRaw(port, "GET", "/streams");
    const listed = JSON.parse(streams.body) as { streams: { key: string; players: unknown[] }[] };
    expect(listed.streams.map((s) => s.key)).toEqual(["live/healthy"]);
    expect(listed.streams[0].players.length).toBeGreaterThanOrEqual(1);
    await expectHealthyPlayerReceiving();
  });

  it("answers other methods with a JSON 405 that says which are allowed (RFC 9110 15.5.6)", async () => {
    for (const method of ["POST", "PUT", "DELETE"]) {
      const res = await fetchRaw(port, method, "/live/healthy.flv");
      expect(res.status, method).toBe(405);
      expect(res.headers.allow).toBe("GET, HEAD, OPTIONS");
      expect(JSON.parse(res.body)).toEqual({ error: "method not allowed" });
    }
    await expectHealthyPlayerReceiving();
  });

  it("refuses a 64 KiB URL with a JSON 431, counted", async () => {
    const before = server.stats().refused.headersTooLarge;
    const res = await fetchRaw(port, "GET", `/live/${"a".repeat(64 * 1024)}.flv`);
    expect(res.status).toBe(431);
    expect(JSON.parse(res.body)).toMatchObject({ code: "ERR_FLV_HEADERS_TOO_LARGE" });
    expect(server.stats().refused.headersTooLarge).toBe(before + 1);
    await expectHealthyPlayerReceiving();
  });

  it("closes a request that never finishes its headers", async () => {
    const socket = connect(port, "127.0.0.1");
    socket.on("error", () => {});
    socket.write("GET /live/healthy.flv HTTP/1.1\r\nHost: x\r\n");
    let answer = "";
    socket.on("data", (d: Buffer) => {
      answer += d.toString();
    });
    const started = Date.now();
    await new Promise<void>((resolve) => socket.once("close", () => resolve()));
    expect(Date.now() - started).toBeLessThan(8000);
    expect(answer).toMatch(/^HTTP\/1.1 408/);
    expect(server.stats().refused.headersTimeout).toBeGreaterThanOrEqual(1);
    await expectHealthyPlayerReceiving();
  });

  it("streams to a player request pipelined behind another on one keep-alive connection", async () => {
    const socket = connect(port, "127.0.0.1");
    socket.on("error", () => {});
    let received = "";
    socket.on("data", (d: Buffer) => {
      received += d.toString("latin1");
    });
    // Both requests in one write: the second response waits for the first to finish.
    socket.write("GET /streams HTTP/1.1\r\nHost: x\r\n\r\nGET /live/healthy.flv HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => received.includes("FLV\x01"), 5000, "the pipelined player's FLV header");
    socket.destroy();
    expect(received.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2);
    const second = received.slice(received.lastIndexOf("HTTP/1.1 200 OK"));
    expect(second).toContain("Content-Type: video/x-flv");
    await expectHealthyPlayerReceiving();
  });

  it("survives WebSocket upgrades reset while their 404 or 414 is written (bad path, not live, URL too long)", async () => {
    // The HTTP server lets go of an upgraded socket, error listener included: an answer written to a
    // peer that reset fails with ECONNRESET, which must not become an uncaught exception.
    const uncaught: unknown[] = [];
    const record = (error: unknown): void => {
      uncaught.push(error);
    };
    process.on("uncaughtException", record);
    try {
      for (const path of ["/nope", "/live/nobody.flv", `/live/${"a".repeat(5000)}.flv`]) {
        for (let attempt = 0; attempt < 30; attempt++) {
          const socket = connect(port, "127.0.0.1");
          socket.on("error", () => {});
          await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
          let request = `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n`;
          request += "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
          await new Promise<void>((resolve) => socket.write(request, () => resolve()));
          socket.resetAndDestroy();
          await new Promise<void>((resolve) => socket.once("close", () => resolve()));
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      process.off("uncaughtException", record);
    }
    expect(uncaught).toEqual([]);
    await expectHealthyPlayerReceiving();
  });

  it("cuts off a player that never reads, with memory bounded by the slow-player policy", async () => {
    const socket: Socket = connect(port, "127.0.0.1");
    socket.on("error", () => {});
    socket.write("GET /live/healthy.flv HTTP/1.1\r\nHost: x\r\n\r\n");
    socket.pause(); // never read: the kernel buffers fill, then the server's
    await waitFor(() => hub.get("live/healthy")?.writerCount === 2, 5000, "stuck player joins");
    const maxBacklog = { bytes: 0 };
    const watch = setInterval(() => {
      for (const w of hub.get("live/healthy")?.writers ?? [])
        maxBacklog.bytes = Math.max(maxBacklog.bytes, w.bufferedBytes);
    }, 20);
    await waitFor(() => hub.get("live/healthy")?.writerCount === 1, 20_000, "stuck player closed");
    clearInterval(watch);
    socket.destroy();
    // The backlog never went past closeBytes plus about one packet.
    expect(maxBacklog.bytes).toBeLessThan(1024 * 1024 + 256 * 1024);
    await expectHealthyPlayerReceiving();
  }, 30_000);
});
