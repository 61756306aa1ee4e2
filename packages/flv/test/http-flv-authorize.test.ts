/**
 * The authorize hook on HTTP-FLV and WS-FLV: asked with the request's parts before a player reaches
 * the hub; a refusal is HTTP 401/403 JSON, or a WebSocket close code a browser can read.
 */
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { format } from "node:util";
import {
  type AuthorizeRequest,
  type AuthorizeResult,
  createMediaPacket,
  StreamHub,
  StreamSource,
} from "@onair/core";
import createDebug from "debug";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { waitFor } from "../../../test-support/media-tools.js";
import {
  createHttpFlvServer,
  FlvCloseCode,
  FlvRefusalCode,
  flvHandler,
  type HttpFlvServer,
} from "../src/index.js";
import { httpGet, json, webSocketOutcome } from "./http-flv-clients.js";

const FLV_SIGNATURE = Buffer.from("FLV");

describe("HTTP-FLV and WS-FLV authorize hook", () => {
  let hub: StreamHub;
  let server: HttpFlvServer;
  let port: number;
  const asked: AuthorizeRequest[] = [];

  const authorize = (request: AuthorizeRequest): AuthorizeResult | Promise<AuthorizeResult> => {
    asked.push(request);
    switch (request.query.get("token")) {
      case "good":
        return true;
      case "expired":
        return { allow: false, reason: "token expired", status: 401 };
      case "long":
        return { allow: false, reason: `é${"x".repeat(300)}`, status: 403 };
      case "throw":
        throw new Error("the key store is down");
      case "never":
        return new Promise(() => {});
      default:
        return false;
    }
  };

  beforeAll(async () => {
    hub = new StreamHub({ batchWindowMs: 0 });
    server = createHttpFlvServer({
      handler: hub,
      host: "127.0.0.1",
      port: 0,
      authorize,
      authorizeTimeoutMs: 200,
    });
    port = (await server.listen()).port;
    const source = new StreamSource({ key: "live/a", app: "live", name: "a", url: "", id: "src" });
    hub.handleReader(source);
    source.push(
      createMediaPacket("video", 0, Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64]), { sequenceHeader: true }),
    );
    source.push(createMediaPacket("video", 0, Buffer.alloc(8000, 0x17), { keyframe: true }));
  });

  afterEach(() => {
    asked.length = 0;
  });

  afterAll(async () => {
    hub.close();
    await server.close();
  });

  const players = (): number => hub.get("live/a")?.writerCount ?? 0;

  it("asks the hook with action, protocol, app, name, query and the peer's address", async () => {
    await httpGet(port, "/live/a.flv?token=good&x=1");
    expect(asked).toHaveLength(1);
    const request = asked[0];
    expect(request).toMatchObject({ action: "play", protocol: "http-flv", app: "live", name: "a" });
    expect(request.query.get("x")).toBe("1");
    expect(request.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);

    const ws = await webSocketOutcome(`ws://127.0.0.1:${port}/live/a.flv?token=good`, { bytesWanted: 13 });
    expect(ws.opened).toBe(true);
    expect(asked[1]).toMatchObject({ action: "play", protocol: "ws-flv", app: "live", name: "a" });
  });

  it("lets an allowed HTTP player stream FLV", async () => {
    const answer = await httpGet(port, "/live/a.flv?token=good");
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toBe("video/x-flv");
    expect(answer.body.subarray(0, 3)).toEqual(FLV_SIGNATURE);
  });

  it("refuses with 403 JSON and the reason, before the player reaches the hub", async () => {
    const refusedBefore = server.stats().refused.unauthorized;
    const answer = await httpGet(port, "/live/a.flv");
    expect(answer.status).toBe(403);
    expect(answer.headers["content-type"]).toContain("application/json");
    expect(json(answer)).toEqual({
      error: "forbidden",
      code: FlvRefusalCode.forbidden,
      reason: "play not authorized",
    });
    expect(players()).toBe(0);
    expect(server.stats().refused.unauthorized).toBe(refusedBefore + 1);
  });

  it("refuses with 401, WWW-Authenticate and the hook's reason", async () => {
    const answer = await httpGet(port, "/live/a.flv?token=expired");
    expect(answer.status).toBe(401);
    expect(answer.headers["www-authenticate"]).toMatch(/^Bearer/);
    expect(json(answer)).toEqual({
      error: "unauthorized",
      code: FlvRefusalCode.unauthorized,
      reason: "token expired",
    });
  });

  it("refuses (403) when the hook throws", async () => {
    const answer = await httpGet(port, "/live/a.flv?token=throw");
    expect(answer.status).toBe(403);
    expect(json(answer)).toMatchObject({ code: FlvRefusalCode.forbidden });
    expect(answer.body.toString()).not.toContain("key store");
  });

  it("refuses with 503 when the hook never answers", async () => {
    const before = server.stats().refused.authorizeTimeout;
    const answer = await httpGet(port, "/live/a.flv?token=never");
    expect(answer.status).toBe(503);
    expect(answer.headers["retry-after"]).toBe("5");
    expect(json(answer)).toMatchObject({ code: FlvRefusalCode.authorizeTimeout });
    expect(server.stats().refused.authorizeTimeout).toBe(before + 1);
  });

  it("asks before saying whether a stream is live: a refused client learns nothing", async () => {
    const answer = await httpGet(port, "/live/nobody.flv");
    expect(answer.status).toBe(403);
    expect((await httpGet(port, "/live/nobody.flv?token=good")).status).toBe(404);
  });

  it("authorizes HEAD like GET", async () => {
    expect((await httpGet(port, "/live/a.flv", { method: "HEAD" })).status).toBe(403);
    expect((await httpGet(port, "/live/a.flv?token=good", { method: "HEAD" })).status).toBe(200);
  });

  it("closes a refused WebSocket with 4403 / 4401 and the reason", async () => {
    const forbidden = await webSocketOutcome(`ws://127.0.0.1:${port}/live/a.flv`);
    expect(forbidden).toMatchObject({
      opened: true,
      closeCode: FlvCloseCode.forbidden,
      closeReason: "play not authorized",
      bytes: 0,
    });
    const expired = await webSocketOutcome(`ws://127.0.0.1:${port}/live/a.flv?token=expired`);
    expect(expired).toMatchObject({ closeCode: 4401, closeReason: "token expired", bytes: 0 });
    const thrown = await webSocketOutcome(`ws://127.0.0.1:${port}/live/a.flv?token=throw`);
    expect(thrown.closeCode).toBe(4403);
    const timedOut = await webSocketOutcome(`ws://127.0.0.1:${port}/live/a.flv?token=never`);
    expect(timedOut.closeCode).toBe(1013);
    expect(players()).toBe(0);
  });

  it("cuts a long close reason to 123 bytes of valid UTF-8", async () => {
    const outcome = await webSocketOutcome(`ws://127.0.0.1:${port}/live/a.flv?token=long`);
    expect(outcome.closeCode).toBe(4403);
    const reason = outcome.closeReason ?? "";
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
    expect(reason.startsWith("éxxx")).toBe(true);
    expect(reason.endsWith("…")).toBe(true);
  });

  it("an allowed WebSocket gets the FLV stream", async () => {
    const outcome = await webSocketOutcome(`ws://127.0.0.1:${port}/live/a.flv?token=good`, {
      bytesWanted: 8000,
    });
    expect(outcome.opened).toBe(true);
    expect(outcome.firstMessage?.subarray(0, 3)).toEqual(FLV_SIGNATURE);
    expect(outcome.bytes).toBeGreaterThanOrEqual(8000);
  });
});

describe("a client that leaves while the hook is thinking", () => {
  let hub: StreamHub;
  let server: HttpFlvServer;
  let port: number;
  /** Verdicts held back by the test: the hook waits on them. */
  const held: ((result: AuthorizeResult) => void)[] = [];
  /** Players the hub was given (its "play" event): none of these clients may ever reach it. */
  let plays = 0;
  /**
   * The server's debug lines (onair:flv:http). A verdict for an HTTP client that has left changes
   * nothing anyone can see; this line is the positive sign that the server got it and dropped it.
   */
  const logged: string[] = [];
  let debugNamespaces = "";
  let debugLog: typeof createDebug.log;

  beforeAll(async () => {
    debugNamespaces = createDebug.disable();
    createDebug.enable(debugNamespaces === "" ? "onair:flv:http" : `${debugNamespaces},onair:flv:http`);
    debugLog = createDebug.log;
    createDebug.log = (...args: unknown[]) => {
      logged.push(format(...args));
    };
    hub = new StreamHub({ batchWindowMs: 0 });
    hub.on("play", () => {
      plays += 1;
    });
    // A timeout far longer than the tests, so the verdict that arrives is always the test's own.
    server = createHttpFlvServer({
      handler: hub,
      host: "127.0.0.1",
      port: 0,
      authorize: () => new Promise<AuthorizeResult>((resolve) => held.push(resolve)),
      authorizeTimeoutMs: 600_000,
    });
    port = (await server.listen()).port;
    const source = new StreamSource({ key: "live/a", app: "live", name: "a", url: "", id: "src" });
    hub.handleReader(source);
    source.push(createMediaPacket("video", 0, Buffer.alloc(8000, 0x17), { keyframe: true }));
  });

  afterEach(() => {
    for (const resolve of held.splice(0)) resolve(false);
    logged.length = 0;
    plays = 0;
  });

  afterAll(async () => {
    hub.close();
    await server.close();
    createDebug.log = debugLog;
    createDebug.disable();
    if (debugNamespaces !== "") createDebug.enable(debugNamespaces);
  });

  it("an HTTP client never reaches the hub, though the hook allows it", async () => {
    const req = request({ host: "127.0.0.1", port, path: "/live/a.flv", agent: false });
    req.on("error", () => {});
    req.end();
    await waitFor(() => held.length === 1, 5000, "the hook is asked");
    req.destroy();
    // The HTTP parser reads the socket, so the server sees the client leave at once.
    await waitFor(() => server.stats().connections === 0, 5000, "the connection to close");
    held.shift()?.(true);
    await waitFor(
      () => logged.some((line) => line.includes(" left before live/a was authorized")),
      5000,
      "the server to drop the verdict",
    );
    expect(plays).toBe(0);
    expect(server.stats().players).toBe(0);
    expect(hub.get("live/a")?.writerCount).toBe(0);
  });

  it("a WebSocket client never reaches the hub, though the hook allows it", async () => {
    // The server's side of the upgrade, to see the client's FIN arrive there.
    let serverSide: Duplex | undefined;
    server.server.once("upgrade", (_req, socket: Duplex) => {
      serverSide = socket;
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/live/a.flv`);
    ws.on("error", () => {});
    await waitFor(() => held.length === 1, 5000, "the hook is asked");
    ws.terminate();
    // The server reads the upgrade's socket while the hook thinks, so it sees the client leave
    // and lets the connection go at once, before any verdict.
    await waitFor(() => server.stats().connections === 0, 5000, "the connection to close");
    expect(serverSide?.destroyed).toBe(true);
    held.shift()?.(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(plays).toBe(0);
    expect(server.stats().players).toBe(0);
    expect(hub.get("live/a")?.writerCount).toBe(0);
  });
});

describe("flvHandler in the app's own HTTP server", () => {
  let hub: StreamHub;
  let app: Server;
  let port: number;

  beforeAll(async () => {
    hub = new StreamHub({ batchWindowMs: 0 });
    const source = new StreamSource({ key: "live/b", app: "live", name: "b", url: "", id: "src" });
    hub.handleReader(source);
    source.push(createMediaPacket("video", 0, Buffer.alloc(8000, 0x17), { keyframe: true }));
    const handle = flvHandler(hub, {
      authorize: ({ protocol, query }) =>
        protocol === "http-flv" && query.get("token") === "good"
          ? true
          : { allow: false, reason: "no token", status: 401 },
    });
    app = createServer(handle);
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    port = (app.address() as AddressInfo).port;
  });

  afterAll(async () => {
    hub.close();
    app.closeAllConnections();
    await new Promise((resolve) => app.close(resolve));
  });

  it("refuses and allows through the same hook", async () => {
    const refused = await httpGet(port, "/live/b.flv");
    expect(refused.status).toBe(401);
    expect(json(refused)).toMatchObject({ error: "unauthorized", reason: "no token" });
    expect(hub.get("live/b")?.writerCount).toBe(0);
    const allowed = await httpGet(port, "/live/b.flv?token=good");
    expect(allowed.status).toBe(200);
    expect(allowed.body.subarray(0, 3)).toEqual(FLV_SIGNATURE);
  });
});

describe("an authorize hook that never answers", () => {
  it("holds no timer that keeps the process alive once its client has left and the server is closed", async () => {
    // Timers that keep the event loop alive (an unref'd timer is not listed).
    const liveTimers = (): number =>
      process.getActiveResourcesInfo().filter((resource) => resource === "Timeout").length;
    const before = liveTimers();
    const hub = new StreamHub({ batchWindowMs: 0 });
    let asked = 0;
    const server = createHttpFlvServer({
      handler: hub,
      host: "127.0.0.1",
      port: 0,
      authorize: () => {
        asked += 1;
        return new Promise<AuthorizeResult>(() => {});
      },
      authorizeTimeoutMs: 600_000,
    });
    const { port } = await server.listen();
    const req = request({ host: "127.0.0.1", port, path: "/live/a.flv", agent: false });
    req.on("error", () => {});
    req.end();
    await waitFor(() => asked === 1, 5000, "the hook is asked");
    req.destroy();
    await waitFor(() => server.stats().connections === 0, 5000, "the connection to close");
    await server.close();
    hub.close();
    // Before the fix, the hook's 600 s timeout timer was left here, holding the process open.
    expect(liveTimers()).toBe(before);
  });
});
