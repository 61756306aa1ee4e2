/** Relays against in-process onair servers: states and events, reconnects, the hub's policies. */
import { createServer, type Server } from "node:http";
import { type MediaPacket, StreamHub } from "@onair/core";
import { createHttpFlvServer } from "@onair/flv";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  parseRelayUrl,
  pushTargetUrl,
  RelayError,
  RelayErrorCode,
  RelayPull,
  RelayPush,
  RelayRegistry,
  staticPush,
} from "../src/index.js";
import {
  aacHeader,
  avcHeader,
  gopPackets,
  keyframe,
  type OnairPeer,
  publish,
  RecordingWriter,
  recordEvents,
  startOnair,
} from "./fixtures.js";

const fast = { reconnect: { initialDelayMs: 50, factor: 2, random: () => 0 } };
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function onair(...args: Parameters<typeof startOnair>): Promise<OnairPeer> {
  const peer = await startOnair(...args);
  cleanups.push(() => peer.close());
  return peer;
}

function hub(options: ConstructorParameters<typeof StreamHub>[0] = {}): StreamHub {
  const h = new StreamHub({ batchWindowMs: 0, ...options });
  cleanups.push(() => h.close());
  return h;
}

const videoKeyframes = (packets: MediaPacket[]) =>
  packets.filter((p) => p.kind === "video" && p.keyframe && !p.sequenceHeader);

function thrown(f: () => unknown): RelayError {
  try {
    f();
  } catch (error) {
    return error as RelayError;
  }
  throw new Error("did not throw");
}

describe("URLs and options", () => {
  it("takes an RTMP URL apart: app, stream name with its query, a display form without secrets", () => {
    const url = parseRelayUrl("rtmp://user:pw@example.com:1936/live/sub/cam?token=abc", false);
    expect(url).toMatchObject({
      protocol: "rtmp",
      connectUrl: "rtmp://example.com:1936/live/sub",
      streamName: "cam?token=abc",
      display: "rtmp://example.com:1936/live/sub/cam",
    });
    expect(parseRelayUrl("http://h:7001/live/cam.flv?k=1", true)).toMatchObject({
      protocol: "http",
      display: "http://h:7001/live/cam.flv",
    });
    expect(pushTargetUrl("rtmp://h/app/?token=x", "cam")).toBe("rtmp://h/app/cam?token=x");
    expect(pushTargetUrl("rtmp://h:1935/app", "cam")).toBe("rtmp://h:1935/app/cam");
  });

  it("refuses bad URLs and names at construction with a clear message", () => {
    const h = hub();
    const cases: [() => unknown, string, string][] = [
      [() => new RelayPull(h, { app: "a", name: "b", url: "nonsense" }), RelayErrorCode.badUrl, "not a URL"],
      [
        () => new RelayPull(h, { app: "a", name: "b", url: "ftp://h/a/b" }),
        RelayErrorCode.badUrl,
        "scheme must be",
      ],
      [
        () => new RelayPull(h, { app: "a", name: "b", url: "rtmp://h/onlyapp" }),
        RelayErrorCode.badUrl,
        "app and a stream name",
      ],
      [
        () => new RelayPush(h, { app: "a", name: "b", url: "http://h/a/b.flv" }),
        RelayErrorCode.badUrl,
        "rtmp:// URLs only",
      ],
      [
        () => new RelayPush(h, { app: "a", name: "b", url: "rtmps://h/a/b" }),
        RelayErrorCode.badUrl,
        "rtmps is not supported",
      ],
      [
        () => new RelayPull(h, { app: "a/x", name: "b", url: "rtmp://h/a/b" }),
        RelayErrorCode.badOption,
        'bad app "a/x"',
      ],
      [
        () => new RelayPull(h, { app: "a", name: "..", url: "rtmp://h/a/b" }),
        RelayErrorCode.badOption,
        "bad stream name",
      ],
      [
        () => new RelayPull(h, { app: "a", name: "b", url: "rtmp://h/a/b", connectTimeoutMs: 0 }),
        RelayErrorCode.badOption,
        "connectTimeoutMs",
      ],
      [
        () => staticPush(h, { rules: [{ app: "live", urls: ["http://h/x"] }] }),
        RelayErrorCode.badUrl,
        "rtmp:// URLs only",
      ],
    ];
    for (const [make, code, message] of cases) {
      const error = thrown(make);
      expect(error).toBeInstanceOf(RelayError);
      expect(error.code).toBe(code);
      expect(error.message).toContain(message);
    }
  });
});

describe("RelayPull", () => {
  it("retries until the remote stream starts, publishes it, keeps local players across a remote restart, and stops cleanly", async () => {
    const remote = await onair({ playWaitTimeoutMs: 100, republishGraceMs: 0 });
    const local = hub(); // default republish grace: 10 s
    const player = new RecordingWriter("here", "cam");
    local.handleWriter(player);
    const pull = new RelayPull(local, { app: "here", name: "cam", url: remote.url("live/cam"), ...fast });
    const events = recordEvents(pull);
    pull.start();
    // Not published on the remote yet: NetStream.Play.StreamNotFound after 100 ms, twice.
    await vi.waitFor(() => expect(events).toContain("retrying:3:100"), 5000);
    expect(events.slice(0, 6)).toEqual([
      "connecting:1",
      "connected",
      expect.stringMatching(/^disconnected:/),
      "retrying:2:50",
      "connecting:2",
      "connected",
    ]);
    const first = publish(remote.hub, "live", "cam");
    for (const p of [avcHeader(), aacHeader(), ...gopPackets(0, 1)]) first.push(p);
    await vi.waitFor(() => expect(pull.state).toBe("live"), 5000);
    // Joined before or after the first GOP (the remote's GOP cache has it): 2 keyframes either way.
    for (const p of gopPackets(200, 1)) first.push(p);
    await vi.waitFor(() => expect(videoKeyframes(player.packets).length).toBe(2), 5000);
    expect(pull.state).toBe("live");
    expect(events.filter((e) => e === "live")).toHaveLength(1);
    expect(local.get("here/cam")?.stats().publisher?.url).toBe(remote.url("live/cam"));
    expect(pull.reader?.info.key).toBe("here/cam");
    const lastBefore = player.packets.at(-1)?.timestamp ?? 0;

    // The remote publisher leaves: the pull loses its stream and retries from the first delay
    // (it had been live), while the local player stays for the republish grace.
    first.end();
    await vi.waitFor(
      () => expect(events.indexOf("disconnected:ERR_RELAY_REMOTE_ENDED")).toBeGreaterThan(0),
      5000,
    );
    const afterLive = events.slice(events.indexOf("live"));
    // Before it went live the delays had grown to 100 ms; after a live connection they start again at 50.
    expect(afterLive.slice(0, 3)).toEqual([
      "live",
      "disconnected:ERR_RELAY_REMOTE_ENDED",
      expect.stringMatching(/^retrying:\d+:50$/),
    ]);
    expect(player.closed).toBe(false);
    const second = publish(remote.hub, "live", "cam");
    for (const p of [avcHeader(), aacHeader(), ...gopPackets(0, 1)]) second.push(p);
    await vi.waitFor(() => expect(events.filter((e) => e === "live")).toHaveLength(2), 5000);
    await vi.waitFor(() => expect(videoKeyframes(player.packets).length).toBe(3), 5000);
    expect(player.discontinuities).toBe(1);
    expect(player.closed).toBe(false);
    // The hub rebased the new connection's timestamps (from 0 again) to run forward.
    expect(videoKeyframes(player.packets)[2].timestamp).toBeGreaterThan(lastBefore);
    expect(local.counters().republishes).toBe(1);

    pull.stop();
    pull.stop();
    expect(pull.state).toBe("stopped");
    expect(events.at(-1)).toBe("stopped");
    expect(local.isLive("here/cam")).toBe(false);
    await vi.waitFor(() => expect(remote.hub.get("live/cam")?.writerCount ?? 0).toBe(0), 5000);
    // No connection left behind: the remote server sees none.
    await vi.waitFor(() => expect(remote.server.stats().connections).toBe(0), 5000);
  });

  it("retries when the local key is taken (ERR_STREAM_BUSY) and stops when the hub closes", async () => {
    const remote = await onair();
    const src = publish(remote.hub, "live", "cam");
    src.push(avcHeader());
    const local = hub();
    const squatter = publish(local, "here", "cam");
    const pull = new RelayPull(local, { app: "here", name: "cam", url: remote.url("live/cam"), ...fast });
    const events = recordEvents(pull);
    pull.start();
    await vi.waitFor(() => expect(events).toContain("disconnected:ERR_STREAM_BUSY"), 5000);
    squatter.end();
    await vi.waitFor(() => expect(pull.state).toBe("live"), 5000);
    local.close();
    expect(pull.state).toBe("stopped");
    expect(events.at(-1)).toBe("stopped:ERR_STREAM_CLOSED");
  });

  it("pulls HTTP-FLV from another onair, and retries on an HTTP error", async () => {
    const remote = await onair();
    const flv = createHttpFlvServer({ handler: remote.hub, host: "127.0.0.1", port: 0 });
    const port = (await flv.listen()).port;
    cleanups.push(() => flv.close());
    const src = publish(remote.hub, "live", "cam");
    for (const p of [avcHeader(), aacHeader(), ...gopPackets(0, 1)]) src.push(p);
    const local = hub();
    const player = new RecordingWriter("here", "cam");
    local.handleWriter(player);
    const pull = new RelayPull(local, {
      app: "here",
      name: "cam",
      url: `http://127.0.0.1:${port}/live/cam.flv`,
      ...fast,
    });
    const events = recordEvents(pull);
    pull.start();
    await vi.waitFor(
      () => expect(player.packets.some((p) => p.kind === "video" && p.sequenceHeader)).toBe(true),
      5000,
    );
    for (const p of gopPackets(200, 2)) src.push(p);
    await vi.waitFor(() => expect(videoKeyframes(player.packets).length).toBeGreaterThanOrEqual(2), 5000);
    expect(events.slice(0, 3)).toEqual(["connecting:1", "connected", "live"]);
    const header = player.packets.find((p) => p.kind === "video" && p.sequenceHeader);
    expect(header?.payload.equals(avcHeader().payload)).toBe(true);
    pull.stop();

    const notFound: Server = createServer((_req, res) => {
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => notFound.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => notFound.close(resolve)));
    const address = notFound.address();
    const missing = new RelayPull(local, {
      app: "here",
      name: "other",
      url: `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/live/x.flv`,
      ...fast,
    });
    const missingEvents = recordEvents(missing);
    missing.start();
    await vi.waitFor(() => expect(missingEvents).toContain("retrying:2:50"), 5000);
    expect(missingEvents[1]).toBe("disconnected:ERR_RELAY_HTTP_STATUS");
    expect(missing.lastError?.message).toContain("answered HTTP 404");
    missing.stop();
  });
});

describe("RelayPush", () => {
  it("pushes the local stream, comes back after the remote restarts, and stops when the local stream ends", async () => {
    const local = hub({ republishGraceMs: 0 });
    const src = publish(local, "live", "cam");
    for (const p of [avcHeader(), aacHeader(), ...gopPackets(0, 1)]) src.push(p);
    let remote = await startOnair();
    const port = remote.port;
    const remotePlayer = new RecordingWriter("in", "cam");
    remote.hub.handleWriter(remotePlayer);
    const push = new RelayPush(local, { app: "live", name: "cam", url: remote.url("in/cam"), ...fast });
    const events = recordEvents(push);
    push.start();
    await vi.waitFor(() => expect(videoKeyframes(remotePlayer.packets).length).toBe(1), 5000);
    expect(events).toEqual(["connecting:1", "connected", "live"]);
    expect(remotePlayer.packets.filter((p) => p.sequenceHeader).map((p) => p.kind)).toEqual([
      "video",
      "audio",
    ]);
    expect(
      local
        .get("live/cam")
        ?.stats()
        .players.map((p) => p.url),
    ).toEqual([remote.url("in/cam")]);

    await remote.close();
    await vi.waitFor(() => expect(events).toContain("retrying:2:50"), 5000);
    expect(push.state === "retrying" || push.state === "connecting").toBe(true);
    remote = await startOnair({}, port);
    cleanups.push(() => remote.close());
    const again = new RecordingWriter("in", "cam");
    remote.hub.handleWriter(again);
    await vi.waitFor(() => expect(events.filter((e) => e === "live")).toHaveLength(2), 5000);
    for (const p of gopPackets(400, 1)) src.push(p);
    await vi.waitFor(() => expect(videoKeyframes(again.packets).length).toBeGreaterThanOrEqual(1), 5000);
    expect(again.packets.some((p) => p.kind === "video" && p.sequenceHeader)).toBe(true);

    src.end();
    await vi.waitFor(() => expect(push.state).toBe("stopped"), 5000);
    expect(events.at(-1)).toBe("stopped");
    expect(local.get("live/cam")).toBeUndefined();
    await vi.waitFor(() => expect(remote.hub.isLive("in/cam")).toBe(false), 5000);
    await vi.waitFor(() => expect(remote.server.stats().connections).toBe(0), 5000);
  });

  it("is closed by the hub's slow-player policy like any player, then retries", async () => {
    const local = hub({ slowPlayer: { skipBytes: 1000, closeBytes: 2000 } });
    const src = publish(local, "live", "cam");
    src.push(avcHeader());
    const remote = await onair();
    const push = new RelayPush(local, { app: "live", name: "cam", url: remote.url("in/cam"), ...fast });
    const events = recordEvents(push);
    push.start();
    await vi.waitFor(() => expect(push.state).toBe("live"), 5000);
    src.push(keyframe(0, 64 * 1024));
    await vi.waitFor(() => expect(events).toContain("disconnected:ERR_STREAM_SLOW_PLAYER"), 5000);
    expect(events).toContain("retrying:2:50");
    expect(local.counters().slowPlayersClosed).toBe(1);
    await vi.waitFor(() => expect(events.filter((e) => e === "live")).toHaveLength(2), 5000);
    push.stop();
    expect(local.get("live/cam")?.writerCount).toBe(0);
  });
});

describe("staticPush", () => {
  it("pushes each stream of the app to every URL + /NAME while it is live", async () => {
    const local = hub({ republishGraceMs: 0 });
    const remote = await onair();
    const pushes = staticPush(local, {
      rules: [{ app: "live", urls: [remote.url("in"), `${remote.url("in2")}?token=t`] }],
      ...fast,
    });
    cleanups.push(() => pushes.stop());
    const other = publish(local, "other", "cam");
    const src = publish(local, "live", "cam");
    for (const p of [avcHeader(), aacHeader(), ...gopPackets(0, 1)]) src.push(p);
    await vi.waitFor(() => {
      expect(remote.hub.isLive("in/cam")).toBe(true);
      expect(remote.hub.isLive("in2/cam")).toBe(true);
    }, 5000);
    expect(pushes.relays.map((r) => r.url).sort()).toEqual([
      remote.url("in/cam"),
      `${remote.url("in2/cam")}?token=t`,
    ]);
    expect(remote.hub.get("in2/cam")?.stats().publisher?.query?.get("token")).toBe("t");
    expect(remote.hub.isLive("in/other")).toBe(false);
    src.end();
    await vi.waitFor(() => expect(pushes.relays).toHaveLength(0), 5000);
    await vi.waitFor(() => expect(remote.hub.isLive("in/cam")).toBe(false), 5000);
    other.end();
    pushes.stop();
    pushes.stop();
  });
});

describe("RelayRegistry", () => {
  it("starts and stops by (app, name, url), lists states, and stops all on close", async () => {
    const local = hub();
    const remote = await onair({ playWaitTimeoutMs: 5000 });
    const registry = new RelayRegistry(local, fast);
    const pull = registry.startPull({ app: "here", name: "cam", url: remote.url("live/cam") });
    expect(registry.startPull({ app: "here", name: "cam", url: remote.url("live/cam") })).toBe(pull);
    const taken = thrown(() =>
      registry.startPull({ app: "here", name: "cam", url: remote.url("live/other") }),
    );
    expect(taken.code).toBe(RelayErrorCode.exists);
    expect(taken.message).toContain("already pulled from");
    expect(thrown(() => registry.startPush({ app: "live", name: "x", url: "rtmp://h/app" })).code).toBe(
      RelayErrorCode.badUrl,
    );
    const pushA = registry.startPush({ app: "live", name: "x", url: remote.url("a/x") });
    registry.startPush({ app: "live", name: "x", url: remote.url("b/x") });
    await vi.waitFor(() => expect(pull.state).toBe("connected"), 5000);
    expect(registry.list().map((s) => [s.kind, s.key, s.url])).toEqual([
      ["pull", "here/cam", remote.url("live/cam")],
      ["push", "live/x", remote.url("a/x")],
      ["push", "live/x", remote.url("b/x")],
    ]);
    expect(registry.list()[0]).toMatchObject({ state: "connected", attempts: 1 });
    expect(registry.stopPush({ app: "live", name: "x", url: remote.url("a/x") })).toBe(1);
    expect(pushA.state).toBe("stopped");
    expect(registry.list()).toHaveLength(2);
    expect(registry.stopPush({ app: "live", name: "nope" })).toBe(0);
    registry.close();
    expect(pull.state).toBe("stopped");
    expect(registry.list()).toEqual([]);
    expect(thrown(() => registry.startPull({ app: "a", name: "b", url: remote.url("a/b") })).code).toBe(
      RelayErrorCode.closed,
    );
  });
});
