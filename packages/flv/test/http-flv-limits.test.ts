/**
 * The HTTP-FLV server's limits: each refusal is clear to the client (JSON with a stable code, a
 * WebSocket close code, or a one-line HTTP response) and counted in `stats()`.
 */
import type { Socket } from "node:net";
import { createMediaPacket, StreamHub, type StreamHubOptions, StreamSource } from "@onair/core";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../../../test-support/media-tools.js";
import {
  createHttpFlvServer,
  FlvRefusalCode,
  type HttpFlvServer,
  type HttpFlvServerOptions,
} from "../src/index.js";
import { httpGet, idleConnection, json, rawExchange, webSocketOutcome } from "./http-flv-clients.js";

let hub: StreamHub;
let server: HttpFlvServer | undefined;
const sockets: Socket[] = [];

async function start(
  options: Omit<HttpFlvServerOptions, "handler">,
  hubOptions: StreamHubOptions = {},
): Promise<number> {
  hub = new StreamHub({ batchWindowMs: 0, ...hubOptions });
  const source = new StreamSource({ key: "live/a", app: "live", name: "a", url: "", id: "src" });
  hub.handleReader(source);
  source.push(createMediaPacket("video", 0, Buffer.alloc(8000, 0x17), { keyframe: true }));
  server = createHttpFlvServer({ handler: hub, host: "127.0.0.1", port: 0, ...options });
  return (await server.listen()).port;
}

/** Opens `count` more idle connections and waits until the server counts them. */
async function hold(port: number, count: number, localAddress?: string): Promise<void> {
  const before = server?.stats().connections ?? 0;
  for (let i = 0; i < count; i++) sockets.push(await idleConnection(port, localAddress));
  await waitFor(() => (server?.stats().connections ?? 0) >= before + count, 5000, "held connections counted");
}

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  hub.close();
  await server?.close();
  server = undefined;
});

describe("maxConnections", () => {
  it("refuses one connection too many with 503 JSON, and a WebSocket with close 1013", async () => {
    const port = await start({ maxConnections: 2, headersTimeoutMs: 60_000 });
    await hold(port, 2);
    const answer = await httpGet(port, "/live/a.flv");
    expect(answer.status).toBe(503);
    expect(answer.headers["retry-after"]).toBe("5");
    expect(answer.headers.connection).toBe("close");
    expect(json(answer)).toMatchObject({
      error: "too many connections",
      code: FlvRefusalCode.tooManyConnections,
    });
    const ws = await webSocketOutcome(`ws://127.0.0.1:${port}/live/a.flv`);
    expect(ws).toMatchObject({ opened: true, closeCode: 1013, bytes: 0 });
    expect(ws.closeReason).toContain("try again later");
    expect(server?.stats().refused.maxConnections).toBe(2);
    expect(hub.get("live/a")?.writerCount).toBe(0);
  });

  it("lets a player in again once a connection has closed", async () => {
    const port = await start({ maxConnections: 1, headersTimeoutMs: 60_000 });
    await hold(port, 1);
    expect((await httpGet(port, "/streams")).status).toBe(503);
    sockets.pop()?.destroy();
    await waitFor(() => server?.stats().connections === 0, 5000, "the held connection to close");
    const answer = await httpGet(port, "/live/a.flv");
    expect(answer.status).toBe(200);
    expect(answer.body.subarray(0, 3).toString()).toBe("FLV");
  });

  it("counts HTTP and WebSocket players together", async () => {
    const port = await start({ maxConnections: 2 });
    const ws = webSocketOutcome(`ws://127.0.0.1:${port}/live/a.flv`);
    await waitFor(() => server?.stats().players === 1, 5000, "the WS player");
    await hold(port, 1);
    expect(server?.stats().connections).toBe(2);
    expect((await httpGet(port, "/live/a.flv")).status).toBe(503);
    await server?.close();
    expect((await ws).opened).toBe(true);
  });

  it("past the refusal backlog, answers at once with a one-line HTTP response", async () => {
    const port = await start({ maxConnections: 1, refusalBacklog: 0, headersTimeoutMs: 60_000 });
    await hold(port, 1);
    // The refused client sends nothing: the answer comes without waiting for a request.
    const answer = await rawExchange(port, undefined);
    expect(answer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(answer).toContain("Connection: close\r\n");
    expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4))).toMatchObject({
      code: FlvRefusalCode.tooManyConnections,
    });
    expect(server?.stats().refused.maxConnections).toBe(1);
    expect(server?.stats().connections).toBe(1);
  });
});

describe("maxConnectionsPerIp", () => {
  // 127.0.0.2 and 127.0.0.3 are loopback too, but not in the default exemption list (it names
  // the addresses a local proxy connects from), so they are limited like remote hosts.
  it("refuses a second connection from one address with 429 JSON and WS close 4429; another address gets in", async () => {
    const port = await start({ maxConnectionsPerIp: 1, headersTimeoutMs: 60_000 });
    await hold(port, 1, "127.0.0.2");
    const answer = await httpGet(port, "/live/a.flv", { localAddress: "127.0.0.2" });
    expect(answer.status).toBe(429);
    expect(json(answer)).toMatchObject({ code: FlvRefusalCode.tooManyConnectionsFromIp });
    const ws = await webSocketOutcome(`ws://127.0.0.1:${port}/live/a.flv`, { localAddress: "127.0.0.2" });
    expect(ws.closeCode).toBe(4429);
    const other = await httpGet(port, "/live/a.flv", { localAddress: "127.0.0.3" });
    expect(other.status).toBe(200);
    expect(server?.stats().refused.perIp).toBe(2);
  });

  it("defaults to 256 per address, and does not limit 127.0.0.1 (LOOPBACK_ADDRESSES) by default", async () => {
    const port = await start({ headersTimeoutMs: 60_000 });
    await hold(port, 256, "127.0.0.2");
    expect((await httpGet(port, "/live/a.flv", { localAddress: "127.0.0.2" })).status).toBe(429);
    await hold(port, 256, "127.0.0.1");
    // The 257th connection from this machine's own address is a player like any other.
    const local = await httpGet(port, "/live/a.flv", { localAddress: "127.0.0.1" });
    expect(local.status).toBe(200);
    expect(local.body.subarray(0, 3).toString()).toBe("FLV");
    expect(server?.stats().refused.perIp).toBe(1);
  });

  it("limits loopback too when perIpExemptAddresses is empty", async () => {
    const port = await start({ maxConnectionsPerIp: 1, perIpExemptAddresses: [], headersTimeoutMs: 60_000 });
    await hold(port, 1, "127.0.0.1");
    expect((await httpGet(port, "/live/a.flv", { localAddress: "127.0.0.1" })).status).toBe(429);
    expect(server?.stats().refused.perIp).toBe(1);
  });

  it("exempts the addresses given in perIpExemptAddresses", async () => {
    const port = await start({
      maxConnectionsPerIp: 1,
      perIpExemptAddresses: ["127.0.0.2"],
      headersTimeoutMs: 60_000,
    });
    await hold(port, 1, "127.0.0.2");
    await hold(port, 1, "127.0.0.1");
    expect((await httpGet(port, "/live/a.flv", { localAddress: "127.0.0.2" })).status).toBe(200);
    expect((await httpGet(port, "/live/a.flv", { localAddress: "127.0.0.1" })).status).toBe(429);
  });
});

describe("request size and time limits", () => {
  it("refuses a URL over maxUrlLength with 414 JSON (HTTP and WebSocket upgrade)", async () => {
    const port = await start({ maxUrlLength: 100 });
    const path = `/live/a.flv?token=${"t".repeat(100)}`;
    const answer = await httpGet(port, path);
    expect(answer.status).toBe(414);
    expect(json(answer)).toMatchObject({ error: "url too long", code: FlvRefusalCode.urlTooLong });
    const ws = await webSocketOutcome(`ws://127.0.0.1:${port}${path}`);
    expect(ws.status).toBe(414);
    expect((await httpGet(port, "/live/a.flv?token=short")).status).toBe(200);
    expect(server?.stats().refused.urlTooLong).toBe(2);
  });

  it("refuses a 5000-character URL by default (maxUrlLength 4096)", async () => {
    const port = await start({});
    expect((await httpGet(port, `/live/a.flv?t=${"x".repeat(5000)}`)).status).toBe(414);
  });

  it("refuses headers over maxHeaderSize with 431 JSON", async () => {
    const port = await start({ maxHeaderSize: 1024 });
    const answer = await rawExchange(
      port,
      `GET /live/a.flv HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(2048)}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(answer).toContain(FlvRefusalCode.headersTooLarge);
    expect(server?.stats().refused.headersTooLarge).toBe(1);
  });

  it("answers bytes that are not HTTP with 400 JSON", async () => {
    const port = await start({});
    const answer = await rawExchange(port, "\x16\x03\x01 not http at all\r\n\r\n");
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain(FlvRefusalCode.badRequest);
    expect(server?.stats().refused.badRequest).toBe(1);
  });

  it("closes a connection that sends nothing with 408 after headersTimeoutMs, and counts it", async () => {
    const port = await start({ headersTimeoutMs: 300 });
    const answer = await rawExchange(port, undefined);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain(FlvRefusalCode.headersTimeout);
    expect(server?.stats().refused.headersTimeout).toBe(1);
  });

  it("closes an idle keep-alive connection after keepAliveTimeoutMs", async () => {
    const port = await start({ keepAliveTimeoutMs: 200, headersTimeoutMs: 60_000 });
    expect(server?.server.keepAliveTimeout).toBe(200);
    const socket = await idleConnection(port);
    sockets.push(socket);
    let answer = "";
    socket.on("data", (d: Buffer) => {
      answer += d.toString();
    });
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write("GET /streams HTTP/1.1\r\nHost: x\r\n\r\n");
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer.toLowerCase()).toContain("connection: keep-alive");
  });
});

describe("refusals by the hub", () => {
  it("a player over the hub's maxPlayersPerStream gets 503 JSON (HTTP) or close 1013 (WS)", async () => {
    const port = await start({}, { maxPlayersPerStream: 1 });
    const first = webSocketOutcome(`ws://127.0.0.1:${port}/live/a.flv`);
    await waitFor(() => server?.stats().players === 1, 5000, "the first player");
    const answer = await httpGet(port, "/live/a.flv");
    expect(answer.status).toBe(503);
    expect(json(answer)).toMatchObject({ error: "too many players", code: "ERR_STREAM_PLAYER_LIMIT" });
    const ws = await webSocketOutcome(`ws://127.0.0.1:${port}/live/a.flv`);
    expect(ws).toMatchObject({ opened: true, closeCode: 1013, bytes: 0 });
    expect(ws.closeReason).toContain("players");
    expect(server?.stats().players).toBe(1);
    await server?.close();
    await first;
  });

  it("with waitForPublisher, a stream that never starts ends in a JSON 404, not an empty 200", async () => {
    const port = await start({ waitForPublisher: true }, { playWaitTimeoutMs: 100 });
    const answer = await httpGet(port, "/live/never.flv");
    expect(answer.status).toBe(404);
    expect(json(answer)).toEqual({ error: "stream not live", stream: "live/never" });
  });
});

describe("stats", () => {
  it("counts open connections and players", async () => {
    const port = await start({});
    expect(server?.stats()).toMatchObject({ connections: 0, players: 0 });
    const ws = webSocketOutcome(`ws://127.0.0.1:${port}/live/a.flv`);
    await waitFor(() => server?.stats().players === 1, 5000, "the WS player");
    expect(server?.stats().connections).toBe(1);
    hub.close();
    await ws;
    await waitFor(() => server?.stats().players === 0, 5000, "the player to leave");
    await waitFor(() => server?.stats().connections === 0, 5000, "the connection to close");
  });
});
