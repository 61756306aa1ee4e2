/** Review: RelayPush edge cases — the local stream ending while a push connects; the writer's contract. */
import { StreamHub } from "@onair/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RelayPush } from "../src/index.js";
import {
  aacHeader,
  avcHeader,
  gopPackets,
  type OnairPeer,
  publish,
  recordEvents,
  startOnair,
} from "./fixtures.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function onair(): Promise<OnairPeer> {
  const peer = await startOnair();
  cleanups.push(() => peer.close());
  return peer;
}

function hub(republishGraceMs = 10_000): StreamHub {
  const h = new StreamHub({ batchWindowMs: 0, playWaitTimeoutMs: 60_000, republishGraceMs });
  cleanups.push(() => h.close());
  return h;
}

describe("RelayPush (review)", () => {
  it("stops when the local stream ends while it connects, instead of publishing nothing to the remote", async () => {
    const remote = await onair();
    const local = hub();
    const src = publish(local, "live", "cam");
    for (const p of [avcHeader(), aacHeader(), ...gopPackets(0, 1)]) src.push(p);
    const push = new RelayPush(local, { app: "live", name: "cam", url: remote.url("in/cam") });
    const events = recordEvents(push);
    push.start();
    expect(push.state).toBe("connecting");
    src.end();
    expect(local.get("live/cam")).toBeUndefined();
    await vi.waitFor(() => expect(push.state).toBe("stopped"), 5000);
    expect(events).not.toContain("live");
    expect(events.at(-1)).toBe("stopped");
    expect(local.get("live/cam")).toBeUndefined();
    await vi.waitFor(() => expect(remote.server.stats().connections).toBe(0), 5000);
    expect(remote.hub.isLive("in/cam")).toBe(false);
  });

  it("started before its stream exists, still waits for it (as documented)", async () => {
    const remote = await onair();
    const local = hub(0);
    const push = new RelayPush(local, { app: "live", name: "cam", url: remote.url("in/cam") });
    cleanups.push(() => push.stop());
    push.start();
    await vi.waitFor(() => expect(remote.hub.isLive("in/cam")).toBe(true), 5000);
    const src = publish(local, "live", "cam");
    for (const p of [avcHeader(), aacHeader(), ...gopPackets(0, 1)]) src.push(p);
    await vi.waitFor(() => expect(remote.hub.get("in/cam")?.stats().packets ?? 0).toBeGreaterThan(0), 5000);
    src.end();
    await vi.waitFor(() => expect(push.state).toBe("stopped"), 5000);
  });

  it("its writer: bufferedBytes is the socket's backlog, close is idempotent, onClose after close runs at once", async () => {
    const remote = await onair();
    const local = hub();
    const src = publish(local, "live", "cam");
    src.push(avcHeader());
    const push = new RelayPush(local, { app: "live", name: "cam", url: remote.url("in/cam") });
    cleanups.push(() => push.stop());
    push.start();
    await vi.waitFor(() => expect(push.state).toBe("live"), 5000);
    const writer = push.writer;
    if (writer === undefined) throw new Error("no writer");
    expect(writer.bufferedBytes).toBe(0);
    // A write bigger than the socket takes at once stays in its buffer, and bufferedBytes says so.
    writer.write(gopPackets(0, 1)[0]);
    const big = { ...gopPackets(0, 1)[0], payload: Buffer.alloc(8 * 1024 * 1024, 1) };
    writer.write(big);
    expect(writer.bufferedBytes).toBeGreaterThan(1024 * 1024);
    const closes: (Error | undefined)[] = [];
    writer.onClose((error) => closes.push(error));
    writer.close();
    writer.close();
    expect(writer.closed).toBe(true);
    expect(writer.closedByHub).toBe(true);
    writer.onClose((error) => closes.push(error));
    expect(closes).toEqual([undefined, undefined]);
    await vi.waitFor(() => expect(push.state).toBe("stopped"), 5000);
    src.end();
  });
});
