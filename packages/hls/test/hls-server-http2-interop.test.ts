/**
 * HLS over HTTP/2 with TLS (what Safari needs for Low-Latency HLS): with `tls`, createHlsServer
 * serves HTTP/2 and HTTP/1.1 over TLS on one port, blocking reloads included. The certificate is a
 * self-signed one openssl makes for the test.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { type ClientHttp2Session, connect, constants } from "node:http2";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { StreamHub } from "@onair/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasCommand, requireTool, tempDir } from "../../../test-support/media-tools.js";
import { createHlsServer, type HlsServer } from "../src/index.js";
import { FakeDirectory, FakeSource } from "./hls-fake-source.js";

const hasOpenssl = requireTool("openssl", hasCommand("openssl"));

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

function h2Get(session: ClientHttp2Session, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ [constants.HTTP2_HEADER_PATH]: path });
    let headers: Record<string, unknown> = {};
    let body = "";
    stream.setEncoding("utf8");
    stream.on("response", (h) => {
      headers = h;
    });
    stream.on("data", (chunk: string) => {
      body += chunk;
    });
    stream.on("end", () =>
      resolve({ status: Number(headers[constants.HTTP2_HEADER_STATUS]), headers, body }),
    );
    stream.on("error", reject);
    stream.end();
  });
}

function http1Get(port: number, path: string, ca: Buffer): Promise<Answer & { httpVersion: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: "127.0.0.1", servername: "localhost", port, path, ca, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, httpVersion: res.httpVersion }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe.skipIf(!hasOpenssl)("HLS over HTTP/2 with TLS", () => {
  const dir = tempDir("onair-hls-tls-");
  let cert: Buffer;
  let server: HlsServer;
  let hub: StreamHub;
  let source: FakeSource;
  let port: number;

  beforeAll(async () => {
    const keyPath = join(dir.path, "key.pem");
    const certPath = join(dir.path, "cert.pem");
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1"].concat([
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout",
        keyPath,
        "-out",
        certPath,
      ]),
      { stdio: "ignore" },
    );
    cert = readFileSync(certPath);
    const directory = new FakeDirectory();
    source = directory.add(new FakeSource("live/a"));
    source.completeSegment();
    source.addPart();
    hub = new StreamHub();
    server = createHlsServer({
      handler: hub,
      streams: directory,
      host: "127.0.0.1",
      port: 0,
      tls: { cert, key: readFileSync(keyPath) },
    });
    port = (await server.listen()).port;
  });

  afterAll(async () => {
    await server?.close();
    hub?.close();
    dir.remove();
  });

  it("serves the playlist, segments and a blocking reload over HTTP/2", async () => {
    const session = connect(`https://localhost:${port}`, { ca: cert });
    try {
      const playlist = await h2Get(session, "/live/a.m3u8");
      expect(playlist.status).toBe(200);
      expect(playlist.headers["content-type"]).toBe("application/vnd.apple.mpegurl");
      expect(playlist.headers["access-control-allow-origin"]).toBe("*");
      expect(playlist.body).toContain('URI="a/1.0.m4s"');
      const segment = await h2Get(session, "/live/a/0.m4s");
      expect(segment.status).toBe(200);
      expect(segment.body).toBe("segment 0");
      expect(segment.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
      // Two blocking reloads on one connection, released by one new part.
      const held = [h2Get(session, "/live/a.m3u8?_HLS_msn=1&_HLS_part=1"), h2Get(session, "/live/a/1.1.m4s")];
      const deadline = Date.now() + 5000;
      while (server.stats().held < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(server.stats().held).toBe(2);
      source.addPart();
      const [reload, part] = await Promise.all(held);
      expect(reload.status).toBe(200);
      expect(reload.body).toContain('URI="a/1.1.m4s"');
      expect(part.body).toBe("part 1.1");
      const missing = await h2Get(session, "/live/nope.m3u8");
      expect(missing.status).toBe(404);
      expect(JSON.parse(missing.body)).toEqual({ error: "stream not found", stream: "live/nope" });
      expect(server.stats().connections).toBe(1);
    } finally {
      session.close();
    }
  });

  it("serves HTTP/1.1 over TLS on the same port", async () => {
    const answer = await http1Get(port, "/live/a/0.m4s", cert);
    expect(answer.httpVersion).toBe("1.1");
    expect(answer.status).toBe(200);
    expect(answer.body).toBe("segment 0");
    const playlist = await http1Get(port, "/live/a.m3u8", cert);
    expect(playlist.headers["content-type"]).toBe("application/vnd.apple.mpegurl");
  });

  it("refuses connections past maxConnections: over HTTP/1.1 and HTTP/2 with 503 JSON", async () => {
    const directory = new FakeDirectory();
    directory.add(new FakeSource("live/a")).completeSegment();
    const limited = createHlsServer({
      handler: hub,
      streams: directory,
      host: "127.0.0.1",
      port: 0,
      maxConnections: 1,
      tls: { cert, key: readFileSync(join(dir.path, "key.pem")) },
    });
    const limitedPort = (await limited.listen()).port;
    const first = connect(`https://localhost:${limitedPort}`, { ca: cert });
    try {
      expect((await h2Get(first, "/live/a/0.m4s")).status).toBe(200);
      const refused = await http1Get(limitedPort, "/live/a/0.m4s", cert);
      expect(refused.status).toBe(503);
      expect(JSON.parse(refused.body)).toMatchObject({ code: "ERR_HLS_TOO_MANY_CONNECTIONS" });
      const second = connect(`https://localhost:${limitedPort}`, { ca: cert });
      second.on("error", () => {});
      const outcome = await h2Get(second, "/live/a/0.m4s");
      expect(outcome.status).toBe(503);
      expect(JSON.parse(outcome.body)).toMatchObject({ code: "ERR_HLS_TOO_MANY_CONNECTIONS" });
      second.destroy();
      expect(limited.stats().refused.maxConnections).toBe(2);
      expect(limited.stats().served.files).toBe(1);
    } finally {
      first.close();
      await limited.close();
    }
  });

  it("close() ends an open HTTP/2 session with a held request", async () => {
    const session = connect(`https://localhost:${port}`, { ca: cert });
    session.on("error", () => {});
    const held = h2Get(session, "/live/a.m3u8?_HLS_msn=3").catch((error: Error) => error);
    const deadline = Date.now() + 5000;
    while (server.stats().held < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(server.stats().held).toBe(1);
    await server.close();
    const answer = await held;
    // The 503 or a closed stream: never a playlist, never left hanging.
    expect(answer instanceof Error || Number.isNaN(answer.status) || answer.status === 503).toBe(true);
    expect(server.stats()).toMatchObject({ held: 0, connections: 0 });
    expect(source.listeners.size).toBe(0);
    session.destroy();
  });
});
