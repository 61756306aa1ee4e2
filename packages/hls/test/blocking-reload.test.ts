/**
 * Blocking playlist reload (RFC 8216bis 6.2.5.2) and preload-hint holds, over fake sources: held
 * until the part exists, refused when too far ahead, 503 on timeout, and nothing left behind by a
 * client that leaves or by thousands of held requests.
 */
import type { Server } from "node:http";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type HlsHandlerOptions, HlsRefusalCode, type HlsRequestHandler, hlsHandler } from "../src/index.js";
import { HeldRequestRegistry } from "../src/transport/blocking-reload.js";
import {
  closeServer,
  FakeDirectory,
  FakeResponse,
  FakeSource,
  fakeRequest,
  httpRequest,
  json,
  listenOnLoopback,
} from "./hls-fake-source.js";

let server: Server | undefined;
let handler: HlsRequestHandler | undefined;

/** A low-latency fake at segment 1 part 0 (segment 0 complete), served over HTTP. */
async function start(options: HlsHandlerOptions = {}): Promise<{ port: number; source: FakeSource }> {
  const directory = new FakeDirectory();
  const source = directory.add(new FakeSource("live/a"));
  source.completeSegment();
  source.addPart();
  handler = hlsHandler(directory, options);
  const listening = await listenOnLoopback(handler);
  server = listening.server;
  return { port: listening.port, source };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

afterEach(async () => {
  vi.useRealTimers();
  handler?.close();
  if (server !== undefined) await closeServer(server);
  server = undefined;
});

describe("blocking playlist reload over HTTP", () => {
  it("answers at once when the segment or part already exists", async () => {
    const { port, source } = await start();
    for (const query of ["_HLS_msn=0", "_HLS_msn=1&_HLS_part=0", "_HLS_msn=0&_HLS_part=3"]) {
      const answer = await httpRequest(port, `/live/a.m3u8?${query}`);
      expect(answer.status, query).toBe(200);
      expect(answer.headers["content-type"]).toBe("application/vnd.apple.mpegurl");
    }
    expect(source.listeners.size).toBe(0);
  });

  it("holds a request until its part exists, with one change listener per stream", async () => {
    const { port, source } = await start();
    const next = httpRequest(port, "/live/a.m3u8?_HLS_msn=1&_HLS_part=1");
    const sameAgain = httpRequest(port, "/live/a.m3u8?_HLS_msn=1&_HLS_part=1");
    const later = httpRequest(port, "/live/a.m3u8?_HLS_msn=1&_HLS_part=2");
    await until(() => handler?.stats().held === 3, "three held requests");
    expect(source.listeners.size).toBe(1);
    expect(handler?.stats().heldStreams).toBe(1);
    source.addPart(); // 1.1
    const [a, b] = await Promise.all([next, sameAgain]);
    expect(a.status).toBe(200);
    expect(a.body.toString()).toContain('URI="a/1.1.m4s"');
    expect(b.body.toString()).toBe(a.body.toString());
    expect(handler?.stats().held).toBe(1);
    source.addPart(); // 1.2
    expect((await later).body.toString()).toContain('URI="a/1.2.m4s"');
    expect(handler?.stats().held).toBe(0);
    expect(source.listeners.size).toBe(0);
  });

  it("holds a whole-segment request until the segment is complete", async () => {
    const { port, source } = await start();
    const answer = httpRequest(port, "/live/a.m3u8?_HLS_msn=1");
    await until(() => handler?.stats().held === 1, "the held request");
    source.addPart();
    source.addPart();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(handler?.stats().held).toBe(1);
    source.completeSegment();
    expect((await answer).body.toString()).toContain("a/1.m4s\n");
  });

  it("answers held requests with the final playlist when the stream ends", async () => {
    const { port, source } = await start();
    const answer = httpRequest(port, "/live/a.m3u8?_HLS_msn=2&_HLS_part=0");
    await until(() => handler?.stats().held === 1, "the held request");
    source.end();
    const ended = await answer;
    expect(ended.status).toBe(200);
    expect(ended.body.toString()).toContain("#EXT-X-ENDLIST");
    // Once ended, the directives are ignored.
    expect((await httpRequest(port, "/live/a.m3u8?_HLS_msn=3")).status).toBe(200);
  });

  it("refuses requests too far ahead with 400 (msn past last + 2, part past the Advance Part Limit)", async () => {
    const { port, source } = await start();
    // PART-TARGET 200 ms: the Advance Part Limit is 3 / 0.2 = 15 parts.
    expect(source.lastMsn).toBe(1);
    expect(source.lastPart).toBe(0);
    for (const query of [
      "_HLS_msn=4",
      "_HLS_msn=1&_HLS_part=16",
      "_HLS_msn=2&_HLS_part=15",
      "_HLS_msn=99999",
    ]) {
      const answer = await httpRequest(port, `/live/a.m3u8?${query}`);
      expect(answer.status, query).toBe(400);
      expect(json(answer), query).toMatchObject({ code: HlsRefusalCode.tooFarAhead });
    }
    // At the limits: held, not refused.
    const atLimits = ["_HLS_msn=3", "_HLS_msn=1&_HLS_part=15", "_HLS_msn=2&_HLS_part=14"].map((query) =>
      httpRequest(port, `/live/a.m3u8?${query}`),
    );
    await until(() => handler?.stats().held === 3, "three held requests");
    source.end();
    for (const answer of await Promise.all(atLimits)) expect(answer.status).toBe(200);
    expect(handler?.stats().refused.badRequest).toBe(4);
  });

  it("uses an Advance Part Limit of 3 parts when parts are a second or longer", async () => {
    const { port, source } = await start();
    source.partTargetMs = 1000;
    expect((await httpRequest(port, "/live/a.m3u8?_HLS_msn=1&_HLS_part=4")).status).toBe(400);
    const held = httpRequest(port, "/live/a.m3u8?_HLS_msn=1&_HLS_part=3");
    await until(() => handler?.stats().held === 1, "the held request");
    source.end();
    expect((await held).status).toBe(200);
  });

  it("answers at once for a segment that already left the playlist (RFC 8216bis 6.2.5.2)", async () => {
    const { port, source } = await start();
    source.completeSegment(); // 1 complete, 2 in progress
    source.addPart();
    source.completeSegment(); // 2 complete, 3 in progress
    source.firstMsn = 2;
    expect(source.has(0)).toBe(false);
    expect((await httpRequest(port, "/live/a.m3u8?_HLS_msn=0")).status).toBe(200);
    expect((await httpRequest(port, "/live/a.m3u8?_HLS_msn=0&_HLS_part=4")).status).toBe(200);
    expect(handler?.stats().held).toBe(0);
  });

  it("treats a part past the last part of a completed segment as part 0 of the next", async () => {
    const { port, source } = await start();
    source.strictParts = true;
    source.addPart(); // 1.1
    const pastLast = httpRequest(port, "/live/a.m3u8?_HLS_msn=1&_HLS_part=2");
    await until(() => handler?.stats().held === 1, "the held request");
    source.completeSegment(); // segment 1 ends with two parts; segment 2 has none yet
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(handler?.stats().held).toBe(1);
    source.addPart(); // 2.0
    const answer = await pastLast;
    expect(answer.status).toBe(200);
    expect(answer.body.toString()).toContain('URI="a/2.0.m4s"');
  });

  it("refuses malformed directives and _HLS_part without _HLS_msn with 400", async () => {
    const { port } = await start();
    for (const query of [
      "_HLS_part=1",
      "_HLS_msn=x",
      "_HLS_msn=-1",
      "_HLS_msn=1&_HLS_part=a",
      "_HLS_msn=1.5",
      "_HLS_msn=",
    ]) {
      const answer = await httpRequest(port, `/live/a.m3u8?${query}`);
      expect(answer.status, query).toBe(400);
      expect(json(answer), query).toMatchObject({ code: HlsRefusalCode.badDirective });
    }
  });

  it("ignores _HLS_skip (CAN-SKIP-UNTIL is not advertised)", async () => {
    const { port } = await start();
    const answer = await httpRequest(port, "/live/a.m3u8?_HLS_msn=1&_HLS_part=0&_HLS_skip=YES");
    expect(answer.status).toBe(200);
    expect(answer.body.toString()).not.toContain("EXT-X-SKIP");
  });

  it("answers 503 when the part does not appear in time", async () => {
    const { port, source } = await start({ blockingReloadTimeoutMs: 100 });
    const started = Date.now();
    const answer = await httpRequest(port, "/live/a.m3u8?_HLS_msn=1&_HLS_part=1");
    const waited = Date.now() - started;
    expect(answer.status).toBe(503);
    expect(answer.headers["retry-after"]).toBe("1");
    expect(json(answer)).toMatchObject({ code: HlsRefusalCode.blockingTimeout });
    expect(waited).toBeGreaterThanOrEqual(90);
    expect(handler?.stats()).toMatchObject({ held: 0, heldStreams: 0, refused: { blockingTimeout: 1 } });
    expect(source.listeners.size).toBe(0);
  });

  it("forgets a client that leaves while held", async () => {
    const { port, source } = await start();
    const controller = new AbortController();
    const answer = httpRequest(port, "/live/a.m3u8?_HLS_msn=1&_HLS_part=1", {
      signal: controller.signal,
    }).catch((error: Error) => error);
    await until(() => handler?.stats().held === 1, "the held request");
    controller.abort();
    expect(await answer).toBeInstanceOf(Error);
    await until(() => handler?.stats().held === 0, "the request to be forgotten");
    expect(source.listeners.size).toBe(0);
    source.addPart();
    expect(source.playlistQueries).toEqual([]);
  });

  it("holds a playlist asked for before the stream's first segment", async () => {
    const directory = new FakeDirectory();
    const source = directory.add(new FakeSource("live/b"));
    handler = hlsHandler(directory);
    const listening = await listenOnLoopback(handler);
    server = listening.server;
    const answer = httpRequest(listening.port, "/live/b.m3u8");
    await until(() => handler?.stats().held === 1, "the held request");
    source.addPart();
    const first = await answer;
    expect(first.status).toBe(200);
    expect(first.body.toString()).toContain('URI="b/0.0.m4s"');
  });

  it("answers held requests with 503 when the handler closes", async () => {
    const { port, source } = await start();
    const answer = httpRequest(port, "/live/a.m3u8?_HLS_msn=2");
    await until(() => handler?.stats().held === 1, "the held request");
    handler?.close();
    const closed = await answer;
    expect(closed.status).toBe(503);
    expect(json(closed)).toMatchObject({ code: HlsRefusalCode.closing });
    expect(source.listeners.size).toBe(0);
  });

  it("refuses one held request more than maxHeldRequests with 503", async () => {
    const { port, source } = await start({ maxHeldRequests: 2 });
    const held = [1, 2].map(() => httpRequest(port, "/live/a.m3u8?_HLS_msn=2"));
    await until(() => handler?.stats().held === 2, "two held requests");
    const refused = await httpRequest(port, "/live/a.m3u8?_HLS_msn=2");
    expect(refused.status).toBe(503);
    expect(json(refused)).toMatchObject({ code: HlsRefusalCode.tooManyHeld });
    source.end();
    for (const answer of await Promise.all(held)) expect(answer.status).toBe(200);
  });
});

describe("preload hints", () => {
  it("holds the hinted part until it is written, then serves it", async () => {
    const { port, source } = await start();
    expect(source.preloadHint).toBe("1.1.m4s");
    const answer = httpRequest(port, "/live/a/1.1.m4s");
    await until(() => handler?.stats().held === 1, "the held request");
    source.addPart();
    const part = await answer;
    expect(part.status).toBe(200);
    expect(part.body.toString()).toBe("part 1.1");
    expect(part.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(source.listeners.size).toBe(0);
  });

  it("answers 404 at once for a missing file that is not the hint, and when the stream ends", async () => {
    const { port, source } = await start();
    expect((await httpRequest(port, "/live/a/1.2.m4s")).status).toBe(404);
    const answer = httpRequest(port, "/live/a/1.1.m4s");
    await until(() => handler?.stats().held === 1, "the held request");
    source.end();
    expect((await answer).status).toBe(404);
  });
});

describe("thousands of held requests", () => {
  it("holds 5000 requests on one listener, answers them all from one change with one playlist, and leaves nothing", () => {
    const directory = new FakeDirectory();
    const source = directory.add(new FakeSource("live/a"));
    source.completeSegment();
    source.addPart();
    const hls = hlsHandler(directory);
    handler = hls;
    const count = 5000;
    const responses: FakeResponse[] = [];
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < count; i++) {
      const res = new FakeResponse();
      responses.push(res);
      // Half wait for the next part, half for the one after: two keys, two readiness checks.
      hls(fakeRequest(`/live/a.m3u8?_HLS_msn=1&_HLS_part=${1 + (i % 2)}`), res as never);
    }
    const heapHeld = process.memoryUsage().heapUsed;
    expect(hls.stats()).toMatchObject({ held: count, heldStreams: 1 });
    expect(source.listeners.size).toBe(1);
    expect(responses.every((res) => res.status === 0)).toBe(true);

    let hasCalls = 0;
    const has = source.has.bind(source);
    source.has = (msn, part) => {
      hasCalls += 1;
      return has(msn, part);
    };
    source.addPart();
    expect(hasCalls).toBe(2);
    expect(source.playlistQueries.length).toBe(1);
    expect(hls.stats().held).toBe(count / 2);
    source.addPart();
    expect(source.playlistQueries.length).toBe(2);
    expect(hls.stats()).toMatchObject({ held: 0, heldStreams: 0, served: { playlists: count } });
    expect(source.listeners.size).toBe(0);
    expect(responses.every((res) => res.status === 200)).toBe(true);
    // The responses of one change share one Buffer.
    expect(responses[0].body?.toString()).toBe(responses[2].body?.toString());
    // No listener left on the answered responses beyond the one that was there.
    expect(responses.every((res) => res.listenerCount("close") <= 1)).toBe(true);
    const perRequest = Math.round((heapHeld - heapBefore) / count);
    console.info(`5000 held requests: ~${perRequest} bytes of heap each (fake responses included)`);
  });

  it("gives polling viewers of an unchanged playlist the same bytes, encoded once", () => {
    const directory = new FakeDirectory();
    const source = directory.add(new FakeSource("live/a"));
    source.completeSegment();
    const text = source.playlist();
    source.playlist = () => text; // a segmenter's cached string
    const hls = hlsHandler(directory);
    handler = hls;
    const [a, b] = [new FakeResponse(), new FakeResponse()];
    hls(fakeRequest("/live/a.m3u8"), a as never);
    hls(fakeRequest("/live/a.m3u8"), b as never);
    expect(a.status).toBe(200);
    expect(a.body?.toString()).toBe(text);
    expect(b.body).toBe(a.body);
  });

  it("forgets 5000 clients that leave, and the sweep timer stops", () => {
    vi.useFakeTimers();
    const directory = new FakeDirectory();
    const source = directory.add(new FakeSource("live/a"));
    source.completeSegment();
    const hls = hlsHandler(directory, { blockingReloadTimeoutMs: 2000 });
    handler = hls;
    const responses = Array.from({ length: 5000 }, () => new FakeResponse());
    for (const res of responses) hls(fakeRequest("/live/a.m3u8?_HLS_msn=2"), res as never);
    expect(vi.getTimerCount()).toBe(1);
    for (const res of responses.slice(0, 4999)) res.abort();
    expect(hls.stats().held).toBe(1);
    vi.advanceTimersByTime(2500);
    expect(responses[4999].status).toBe(503);
    expect(hls.stats()).toMatchObject({ held: 0, heldStreams: 0, refused: { blockingTimeout: 1 } });
    expect(source.listeners.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("HeldRequestRegistry", () => {
  it("expires by deadline from one interval timer, in arrival order", () => {
    vi.useFakeTimers();
    const source = new FakeSource();
    const expired: string[] = [];
    const registry = new HeldRequestRegistry<{
      source: FakeSource;
      key: string;
      deadline: number;
      id: string;
    }>({ isReady: () => false, release: () => {}, expire: (held) => expired.push(held.id) }, 100);
    const now = Date.now();
    registry.hold({ source, key: "k", deadline: now + 150, id: "a" });
    registry.hold({ source, key: "k", deadline: now + 350, id: "b" });
    registry.hold({ source, key: "j", deadline: now + 350, id: "c" });
    expect(vi.getTimerCount()).toBe(1);
    expect(source.listeners.size).toBe(1);
    vi.advanceTimersByTime(200);
    expect(expired).toEqual(["a"]);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual(["a"]);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual(["a", "b", "c"]);
    expect(registry.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(source.listeners.size).toBe(0);
  });

  it("keeps one listener per stream and releases only ready keys", () => {
    const a = new FakeSource("live/a");
    const b = new FakeSource("live/b");
    const ready = new Set<string>();
    const released: string[] = [];
    const registry = new HeldRequestRegistry<{ source: FakeSource; key: string; deadline: number }>({
      isReady: (held) => ready.has(held.key),
      release: (held) => released.push(`${held.source.key}:${held.key}`),
      expire: () => {},
    });
    const far = Date.now() + 60_000;
    registry.hold({ source: a, key: "x", deadline: far });
    registry.hold({ source: a, key: "y", deadline: far });
    registry.hold({ source: b, key: "x", deadline: far });
    expect([a.listeners.size, b.listeners.size, registry.streamCount]).toEqual([1, 1, 2]);
    ready.add("x");
    a.emit();
    expect(released).toEqual(["live/a:x"]);
    expect(a.listeners.size).toBe(1);
    b.emit();
    expect(released).toEqual(["live/a:x", "live/b:x"]);
    expect(b.listeners.size).toBe(0);
    registry.expireAll();
    expect(registry.size).toBe(0);
    expect(a.listeners.size).toBe(0);
  });
});
