/**
 * The HLS HTTP handler over fake sources: routes, headers, CORS, JSON errors, bad paths, and the
 * authorize hook (401/403, a token that reaches the segment URIs).
 */
import type { Server } from "node:http";
import type { AuthorizeRequest } from "@onair/core";
import { afterEach, describe, expect, it } from "vitest";
import { type HlsHandlerOptions, HlsRefusalCode, type HlsRequestHandler, hlsHandler } from "../src/index.js";
import {
  closeServer,
  FakeDirectory,
  FakeSource,
  httpRequest,
  json,
  listenOnLoopback,
} from "./hls-fake-source.js";

let server: Server | undefined;
let handler: HlsRequestHandler | undefined;

async function start(
  options: HlsHandlerOptions = {},
  mount: "callable" | "handle" = "callable",
): Promise<{ port: number; source: FakeSource; directory: FakeDirectory }> {
  const directory = new FakeDirectory();
  const source = directory.add(new FakeSource("live/a"));
  source.completeSegment();
  source.addPart();
  const hls = hlsHandler(directory, options);
  handler = hls;
  const listening = await listenOnLoopback(
    mount === "callable"
      ? hls
      : (req, res) => {
          if (hls.handle(req, res)) return;
          res.writeHead(200, { "Content-Type": "text/plain" });
          res.end("the app's own route");
        },
  );
  server = listening.server;
  return { port: listening.port, source, directory };
}

afterEach(async () => {
  handler?.close();
  if (server !== undefined) await closeServer(server);
  server = undefined;
});

describe("routes", () => {
  it("serves the playlist with its content type, no caching and CORS", async () => {
    const { port } = await start();
    const answer = await httpRequest(port, "/live/a.m3u8");
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toBe("application/vnd.apple.mpegurl");
    expect(answer.headers["cache-control"]).toBe("no-cache");
    expect(answer.headers["access-control-allow-origin"]).toBe("*");
    expect(Number(answer.headers["content-length"])).toBe(answer.body.length);
    const text = answer.body.toString();
    expect(text).toContain("#EXTM3U");
    expect(text).toContain("a/0.m4s\n");
    expect(text).toContain('URI="a/1.0.m4s"');
  });

  it("serves segments, parts and the init section as immutable", async () => {
    const { port } = await start();
    for (const [file, body] of [
      ["0.m4s", "segment 0"],
      ["1.0.m4s", "part 1.0"],
      ["init.mp4", "init-section"],
    ]) {
      const answer = await httpRequest(port, `/live/a/${file}`);
      expect(answer.status).toBe(200);
      expect(answer.body.toString()).toBe(body);
      expect(answer.headers["content-type"]).toBe("video/mp4");
      expect(answer.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
      expect(answer.headers["access-control-allow-origin"]).toBe("*");
    }
  });

  it("answers HEAD with the headers only", async () => {
    const { port } = await start();
    const playlist = await httpRequest(port, "/live/a.m3u8", { method: "HEAD" });
    expect(playlist.status).toBe(200);
    expect(playlist.body.length).toBe(0);
    expect(Number(playlist.headers["content-length"])).toBeGreaterThan(20);
    const segment = await httpRequest(port, "/live/a/0.m4s", { method: "HEAD" });
    expect(segment.status).toBe(200);
    expect(segment.headers["content-length"]).toBe(String("segment 0".length));
    expect(segment.body.length).toBe(0);
  });

  it("answers unknown streams and files with JSON 404s that are not cached", async () => {
    const { port } = await start();
    const stream = await httpRequest(port, "/live/nope.m3u8");
    expect(stream.status).toBe(404);
    expect(stream.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(stream.headers["cache-control"]).toBe("no-cache");
    expect(json(stream)).toEqual({ error: "stream not found", stream: "live/nope" });
    const file = await httpRequest(port, "/live/a/99.m4s");
    expect(file.status).toBe(404);
    expect(json(file)).toEqual({ error: "file not found", stream: "live/a", file: "99.m4s" });
    const segmentOfUnknown = await httpRequest(port, "/live/nope/0.ts");
    expect(segmentOfUnknown.status).toBe(404);
    const other = await httpRequest(port, "/somewhere/else");
    expect(other.status).toBe(404);
    expect(json(other)).toMatchObject({ error: "not found", path: "/somewhere/else" });
    expect(handler?.stats().refused.notFound).toBe(4);
  });

  it("refuses unsafe or undecodable paths with 400, never reaching the directory", async () => {
    const { port, directory } = await start();
    let asked = 0;
    const get = directory.get.bind(directory);
    directory.get = (app, name) => {
      asked += 1;
      return get(app, name);
    };
    for (const path of [
      "/live/%2e%2e.m3u8",
      "/%2E%2E/a.m3u8",
      "/live/a%2Fb.m3u8",
      "/live/a%5Cb.m3u8",
      "/live/%ZZ.m3u8",
      "/live/.m3u8",
      "/live/a/%2e%2e%2fsecret.ts",
      "/live/a/..%2F0.m4s",
      "/live/a%00/0.ts",
      "//a.m3u8",
    ]) {
      const answer = await httpRequest(port, path);
      expect(answer.status, path).toBe(400);
      expect(json(answer), path).toMatchObject({ code: HlsRefusalCode.badPath });
    }
    expect(asked).toBe(0);
  });

  it("answers OPTIONS with a CORS preflight and other methods with 405", async () => {
    const { port } = await start();
    const preflight = await httpRequest(port, "/live/a.m3u8", { method: "OPTIONS" });
    expect(preflight.status).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe("*");
    expect(preflight.headers["access-control-allow-methods"]).toBe("GET, HEAD, OPTIONS");
    const post = await httpRequest(port, "/live/a/0.m4s", { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET, HEAD, OPTIONS");
  });

  it("sends the configured CORS origin, or none", async () => {
    let { port } = await start({ cors: "https://example.com" });
    expect((await httpRequest(port, "/live/a.m3u8")).headers["access-control-allow-origin"]).toBe(
      "https://example.com",
    );
    handler?.close();
    if (server !== undefined) await closeServer(server);
    ({ port } = await start({ cors: false }));
    const answer = await httpRequest(port, "/live/a/0.m4s");
    expect(answer.status).toBe(200);
    expect(answer.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("handle() takes only its streams' URLs, leaving the rest to the app", async () => {
    const { port } = await start({}, "handle");
    for (const path of [
      "/",
      "/live/a.flv",
      "/live/a/b/c.m3u8",
      "/live/a/page.html",
      "/a.m3u8",
      "/assets/videos/intro.mp4",
      "/live/nope.m3u8",
      "/live/nope/0.ts",
      "/live/%2e%2e/0.m4s",
    ]) {
      const answer = await httpRequest(port, path);
      expect(answer.body.toString(), path).toBe("the app's own route");
    }
    expect((await httpRequest(port, "/live/a.m3u8")).status).toBe(200);
    expect((await httpRequest(port, "/live/a/0.m4s")).body.toString()).toBe("segment 0");
    expect((await httpRequest(port, "/live/a/99.m4s")).status).toBe(404);
    expect((await httpRequest(port, "/live/a.m3u8", { method: "OPTIONS" })).status).toBe(204);
  });

  it("answers 503 once closed", async () => {
    const { port } = await start();
    handler?.close();
    const answer = await httpRequest(port, "/live/a.m3u8");
    expect(answer.status).toBe(503);
    expect(json(answer)).toMatchObject({ code: HlsRefusalCode.closing });
  });
});

describe("authorize", () => {
  it("asks the hook for playlists and files, with protocol hls and the query", async () => {
    const asked: AuthorizeRequest[] = [];
    const { port } = await start({
      authorize: (request) => {
        asked.push(request);
        return request.query.get("token") === "good";
      },
    });
    expect((await httpRequest(port, "/live/a.m3u8?token=good")).status).toBe(200);
    expect((await httpRequest(port, "/live/a/0.m4s?token=good")).status).toBe(200);
    const refused = await httpRequest(port, "/live/a/0.m4s?token=bad");
    expect(refused.status).toBe(403);
    expect(json(refused)).toEqual({
      error: "forbidden",
      code: HlsRefusalCode.forbidden,
      reason: "play not authorized",
    });
    expect(refused.headers["access-control-allow-origin"]).toBe("*");
    expect((await httpRequest(port, "/live/a.m3u8")).status).toBe(403);
    expect(asked.map((r) => [r.action, r.protocol, r.app, r.name, r.query.get("token")])).toEqual([
      ["play", "hls", "live", "a", "good"],
      ["play", "hls", "live", "a", "good"],
      ["play", "hls", "live", "a", "bad"],
      ["play", "hls", "live", "a", null],
    ]);
    expect(asked[0].remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(handler?.stats().refused.unauthorized).toBe(2);
  });

  it("answers 401 with WWW-Authenticate and the hook's reason", async () => {
    const { port } = await start({
      authorize: () => ({ allow: false, status: 401, reason: "token expired" }),
    });
    const answer = await httpRequest(port, "/live/a.m3u8");
    expect(answer.status).toBe(401);
    expect(answer.headers["www-authenticate"]).toBe('Bearer realm="onair"');
    expect(json(answer)).toEqual({
      error: "unauthorized",
      code: HlsRefusalCode.unauthorized,
      reason: "token expired",
    });
  });

  it("refuses with 403 when the hook throws, and 503 when it never answers", async () => {
    let { port } = await start({
      authorize: () => {
        throw new Error("bug in the hook");
      },
    });
    expect((await httpRequest(port, "/live/a/0.m4s")).status).toBe(403);
    handler?.close();
    if (server !== undefined) await closeServer(server);
    ({ port } = await start({ authorize: () => new Promise(() => {}), authorizeTimeoutMs: 50 }));
    const answer = await httpRequest(port, "/live/a.m3u8");
    expect(answer.status).toBe(503);
    expect(json(answer)).toMatchObject({ code: HlsRefusalCode.authorizeTimeout });
  });

  it("propagates the playlist's query (less _HLS_ directives) to its URIs", async () => {
    const { port, source } = await start({ authorize: (r) => r.query.get("token") === "t 1" });
    const answer = await httpRequest(port, "/live/a.m3u8?token=t+1&_HLS_msn=0&_HLS_skip=YES");
    expect(answer.status).toBe(200);
    expect(source.playlistQueries).toEqual(["token=t+1"]);
    const text = answer.body.toString();
    expect(text).toContain("a/0.m4s?token=t+1\n");
    expect(text).toContain('URI="a/init.mp4?token=t+1"');
    // The URI the playlist names is one the hook allows.
    expect((await httpRequest(port, "/live/a/0.m4s?token=t+1")).status).toBe(200);
  });

  it("cannot inject playlist lines through the query", async () => {
    const { port } = await start({ authorize: () => true });
    const answer = await httpRequest(port, "/live/a.m3u8?t=%22%0A%23EXT-X-ENDLIST%0Aevil.ts");
    expect(answer.status).toBe(200);
    const text = answer.body.toString();
    expect(text).not.toContain("#EXT-X-ENDLIST");
    expect(text.split("\n").some((line) => line.startsWith("evil"))).toBe(false);
    expect(text).toContain("a/0.m4s?t=%22%0A%23EXT-X-ENDLIST%0Aevil.ts\n");
  });

  it("leaves playlist URIs alone without a hook", async () => {
    const { port, source } = await start();
    expect((await httpRequest(port, "/live/a.m3u8?token=abc")).status).toBe(200);
    expect(source.playlistQueries).toEqual([undefined]);
  });

  it("does not serve a client that left while the hook was thinking", async () => {
    let release: (allowed: boolean) => void = () => {};
    const { port, source } = await start({
      authorize: () => new Promise<boolean>((resolve) => (release = resolve)),
    });
    const controller = new AbortController();
    const answer = httpRequest(port, "/live/a.m3u8", { signal: controller.signal }).catch(
      (error: Error) => error,
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    expect(await answer).toBeInstanceOf(Error);
    await new Promise((resolve) => setTimeout(resolve, 20));
    release(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(source.playlistQueries).toEqual([]);
    expect(handler?.stats().served.playlists).toBe(0);
  });
});
