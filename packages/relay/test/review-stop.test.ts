/** Review: stop() in every state leaves no socket or timer behind (counted with getActiveResourcesInfo). */
import { createServer as createHttpServer } from "node:http";
import type { Socket } from "node:net";
import { StreamHub } from "@onair/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RelayPull, RelayPush } from "../src/index.js";
import { aacHeader, avcHeader, gopPackets, type OnairPeer, publish, startOnair } from "./fixtures.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

async function onair(options: ConstructorParameters<typeof StreamHub>[0] = {}): Promise<OnairPeer> {
  const peer = await startOnair(options);
  cleanups.push(() => peer.close());
  return peer;
}

function hub(): StreamHub {
  const h = new StreamHub({ batchWindowMs: 0 });
  cleanups.push(() => h.close());
  return h;
}

/**
 * Waits until the remote has no connection left and this process holds no more sockets or timers
 * than at `baseline` (checked between sleeps, when no timer of the test itself is pending).
 */
async function settled(remote: OnairPeer | undefined, baseline: Record<string, number>): Promise<void> {
  const deadline = performance.now() + 3000;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const now = resources();
    const clean =
      (remote === undefined || remote.server.stats().connections === 0) &&
      (now.TCPSocketWrap ?? 0) === (baseline.TCPSocketWrap ?? 0) &&
      (now.Timeout ?? 0) <= (baseline.Timeout ?? 0);
    if (clean) return;
    if (performance.now() > deadline) {
      expect({ connections: remote?.server.stats().connections ?? 0, ...now }).toEqual({
        connections: 0,
        ...baseline,
      });
    }
  }
}

const fast = { reconnect: { initialDelayMs: 50, random: () => 0 } };

describe("stop() leaves nothing behind (review)", () => {
  it("pull: connected (remote stream not there yet), then live", async () => {
    const remote = await onair({ playWaitTimeoutMs: 60_000 });
    const local = hub();
    const baseline = resources();
    const pull = new RelayPull(local, { app: "here", name: "cam", url: remote.url("live/cam"), ...fast });
    pull.start();
    await vi.waitFor(() => expect(pull.state).toBe("connected"), 5000);
    pull.stop();
    await settled(remote, baseline);

    const src = publish(remote.hub, "live", "cam");
    for (const p of [avcHeader(), aacHeader(), ...gopPackets(0, 1)]) src.push(p);
    const again = new RelayPull(local, { app: "here", name: "cam", url: remote.url("live/cam"), ...fast });
    again.start();
    await vi.waitFor(() => expect(again.state).toBe("live"), 5000);
    again.stop();
    expect(local.isLive("here/cam")).toBe(false);
    await settled(remote, baseline);
    src.end();
  });

  it("push: waiting for its local stream, then live", async () => {
    const remote = await onair();
    const local = new StreamHub({ batchWindowMs: 0, playWaitTimeoutMs: 60_000 });
    cleanups.push(() => local.close());
    const baseline = resources();
    const waiting = new RelayPush(local, { app: "live", name: "cam", url: remote.url("in/cam"), ...fast });
    waiting.start();
    await vi.waitFor(() => expect(remote.hub.isLive("in/cam")).toBe(true), 5000);
    waiting.stop();
    expect(local.get("live/cam")).toBeUndefined();
    await settled(remote, baseline);

    const src = publish(local, "live", "cam");
    for (const p of [avcHeader(), aacHeader(), ...gopPackets(0, 1)]) src.push(p);
    const push = new RelayPush(local, { app: "live", name: "cam", url: remote.url("in/cam"), ...fast });
    push.start();
    await vi.waitFor(() => expect(push.state).toBe("live"), 5000);
    push.stop();
    expect(local.get("live/cam")?.writerCount).toBe(0);
    await settled(remote, baseline);
    src.end();
  });

  it("HTTP-FLV pull: connecting to a remote that never answers", async () => {
    const sockets = new Set<Socket>();
    const server = createHttpServer(() => {});
    server.on("connection", (s) => sockets.add(s));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const local = hub();
    const baseline = resources();
    const pull = new RelayPull(local, { app: "here", name: "cam", url: `http://127.0.0.1:${port}/a/b.flv` });
    pull.start();
    await vi.waitFor(() => expect(sockets.size).toBe(1), 5000);
    pull.stop();
    await vi.waitFor(() => expect([...sockets].every((s) => s.destroyed)).toBe(true), 3000);
    await settled(undefined, baseline);
  });

  it("RTMP pull and push: stop() while connecting closes the connection once the connect settles", async () => {
    const remote = await onair();
    const local = hub();
    const src = publish(local, "live", "cam");
    src.push(avcHeader());
    const baseline = resources();
    const pull = new RelayPull(local, { app: "here", name: "cam", url: remote.url("live/cam"), ...fast });
    const push = new RelayPush(local, { app: "live", name: "cam", url: remote.url("in/cam"), ...fast });
    const after: string[] = [];
    pull.start();
    push.start();
    expect([pull.state, push.state]).toEqual(["connecting", "connecting"]);
    pull.stop();
    push.stop();
    for (const relay of [pull, push]) relay.on("connected", () => after.push("connected"));
    await settled(remote, baseline);
    expect(after).toEqual([]);
    expect(remote.hub.isLive("in/cam")).toBe(false);
    src.end();
  });

  // Not covered: a remote that accepts TCP and never answers keeps the socket of a stopped
  // relay until connectTimeoutMs, as RtmpClient.connect cannot be cancelled (see the review report).
});
