/**
 * The ready HLS server over a fake directory: it serves, counts, refuses past its connection
 * limits with JSON, and close() ends held requests and frees the port.
 */
import { connect, type Socket } from "node:net";
import { StreamHub } from "@onair/core";
import { afterEach, describe, expect, it } from "vitest";
import { createHlsServer, HlsRefusalCode, type HlsServer, type HlsServerOptions } from "../src/index.js";
import { FakeDirectory, FakeSource, httpRequest, json } from "./hls-fake-source.js";

let server: HlsServer | undefined;
let hub: StreamHub | undefined;
const sockets: Socket[] = [];

async function start(
  options: Partial<HlsServerOptions> = {},
): Promise<{ port: number; source: FakeSource; directory: FakeDirectory }> {
  const directory = new FakeDirectory();
  const source = directory.add(new FakeSource("live/a"));
  source.completeSegment();
  source.addPart();
  hub = new StreamHub();
  server = createHlsServer({ handler: hub, streams: directory, host: "127.0.0.1", port: 0, ...options });
  const { port } = await server.listen();
  return { port, source, directory };
}

/** Connect, send `bytes`, and collect everything the server sends until it closes. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    sockets.push(socket);
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("data", (data: string) => {
      answer += data;
    });
    socket.on("error", () => {});
    socket.on("close", () => resolve(answer));
    socket.write(bytes);
  });
}

function idleConnection(port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress }, () => resolve(socket));
    socket.on("error", reject);
    sockets.push(socket);
  });
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await server?.close();
  hub?.close();
  server = undefined;
});

describe("createHlsServer", () => {
  it("serves playlists and segments, and counts them", async () => {
    const { port } = await start();
    expect((await httpRequest(port, "/live/a.m3u8")).status).toBe(200);
    expect((await httpRequest(port, "/live/a/0.m4s")).body.toString()).toBe("segment 0");
    expect((await httpRequest(port, "/other")).status).toBe(404);
    expect(server?.stats()).toMatchObject({
      served: { playlists: 1, files: 1 },
      refused: { notFound: 1, maxConnections: 0, perIp: 0, urlTooLong: 0 },
    });
  });

  it("refuses a request target longer than maxUrlLength with 414", async () => {
    const { port } = await start({ maxUrlLength: 100 });
    const answer = await httpRequest(port, `/live/a.m3u8?token=${"x".repeat(200)}`);
    expect(answer.status).toBe(414);
    expect(json(answer)).toMatchObject({ code: HlsRefusalCode.urlTooLong });
    expect(server?.stats().refused.urlTooLong).toBe(1);
  });

  it("answers bad bytes with 400, headers too large with 431, and slow headers with 408", async () => {
    const { port } = await start({ maxHeaderSize: 1024, headersTimeoutMs: 300 });
    expect(await rawExchange(port, "NOT HTTP\r\n\r\n")).toMatch(
      /^HTTP\/1\.1 400 [\s\S]*\{"error":"bad request"\}$/,
    );
    const big = `GET /live/a.m3u8 HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(4000)}\r\n\r\n`;
    expect(await rawExchange(port, big)).toMatch(/^HTTP\/1\.1 431 /);
    const slow = await rawExchange(port, "GET /live/a.m3u8 HTTP/1.1\r\n");
    expect(slow).toMatch(/^HTTP\/1\.1 408 /);
    expect(slow).toContain("Access-Control-Allow-Origin: *");
  });

  it("refuses one connection past maxConnections with 503 JSON, and lets it in once one closes", async () => {
    const { port } = await start({ maxConnections: 1 });
    const held = await idleConnection(port);
    await until(() => server?.stats().connections === 1, "the idle connection counted");
    const refused = await httpRequest(port, "/live/a.m3u8");
    expect(refused.status).toBe(503);
    expect(refused.headers.connection).toBe("close");
    expect(refused.headers["retry-after"]).toBe("1");
    expect(json(refused)).toMatchObject({ code: HlsRefusalCode.tooManyConnections });
    expect(server?.stats().refused.maxConnections).toBe(1);
    held.destroy();
    await until(() => server?.stats().connections === 0, "the idle connection to close");
    expect((await httpRequest(port, "/live/a.m3u8")).status).toBe(200);
  });

  it("refuses one connection past maxConnectionsPerIp with 429; loopback is exempt by default", async () => {
    const { port } = await start({ maxConnectionsPerIp: 1, perIpExemptAddresses: [] });
    await idleConnection(port);
    await until(() => server?.stats().connections === 1, "the idle connection counted");
    const refused = await httpRequest(port, "/live/a/0.m4s");
    expect(refused.status).toBe(429);
    expect(json(refused)).toMatchObject({ code: HlsRefusalCode.tooManyConnectionsFromIp });
    expect(server?.stats().refused.perIp).toBe(1);
    await server?.close();
    const exempt = await start({ maxConnectionsPerIp: 1 });
    await idleConnection(exempt.port);
    expect((await httpRequest(exempt.port, "/live/a/0.m4s")).status).toBe(200);
  });

  it("holds 300 requests on real connections and answers them all from one change", async () => {
    const { port, source } = await start();
    const count = 300;
    const answers = Array.from({ length: count }, (_, i) =>
      httpRequest(port, i % 3 === 0 ? "/live/a/1.1.m4s" : "/live/a.m3u8?_HLS_msn=1&_HLS_part=1"),
    );
    await until(() => server?.stats().held === count, `${count} held requests`);
    expect(source.listeners.size).toBe(1);
    source.addPart();
    const done = await Promise.all(answers);
    expect(done.every((answer) => answer.status === 200)).toBe(true);
    expect(done[0].body.toString()).toBe("part 1.1");
    expect(done[1].body.toString()).toContain('URI="a/1.1.m4s"');
    expect(source.playlistQueries.length).toBe(1);
    expect(server?.stats()).toMatchObject({ held: 0, heldStreams: 0 });
    expect(source.listeners.size).toBe(0);
    await until(() => server?.stats().connections === 0, "the connections to close");
  });

  it("close() answers held requests, frees the port, leaves the given streams alone, and is idempotent", async () => {
    const { port, source } = await start();
    const held = httpRequest(port, "/live/a.m3u8?_HLS_msn=2").catch((error: Error) => error);
    await until(() => server?.stats().held === 1, "the held request");
    const closing = server?.close();
    expect(server?.close()).toBe(closing);
    await closing;
    const answer = await held;
    if (!(answer instanceof Error)) expect(answer.status).toBe(503);
    expect(server?.stats()).toMatchObject({ held: 0, connections: 0 });
    expect(source.listeners.size).toBe(0);
    expect(server?.server.listening).toBe(false);
    // The directory still answers: the server did not own it.
    expect(source.playlist()).toContain("#EXTM3U");
  });
});
