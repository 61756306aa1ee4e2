/** Review: static push of streams live before it starts, and of a stream republished within the grace. */
import { StreamHub } from "@onair/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { staticPush } from "../src/index.js";
import { aacHeader, avcHeader, gopPackets, type OnairPeer, publish, startOnair } from "./fixtures.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function onair(): Promise<OnairPeer> {
  const peer = await startOnair();
  cleanups.push(() => peer.close());
  return peer;
}

describe("staticPush (review)", () => {
  it("pushes a stream live before it started, keeps one push across a republish within the grace, stops after", async () => {
    const local = new StreamHub({ batchWindowMs: 0, republishGraceMs: 300 });
    cleanups.push(() => local.close());
    const remote = await onair();
    const first = publish(local, "live", "cam");
    for (const p of [avcHeader(), aacHeader(), ...gopPackets(0, 1)]) first.push(p);
    const pushes = staticPush(local, {
      rules: [{ app: "live", urls: [`${remote.url("in")}/`] }],
      reconnect: { initialDelayMs: 50, random: () => 0 },
    });
    cleanups.push(() => pushes.stop());
    expect(pushes.relays.map((r) => r.url)).toEqual([remote.url("in/cam")]);
    const [relay] = pushes.relays;
    await vi.waitFor(() => expect(relay.state).toBe("live"), 5000);
    await vi.waitFor(() => expect(remote.hub.get("in/cam")?.stats().packets ?? 0).toBeGreaterThan(0), 5000);

    // The publisher leaves and comes back within the grace: the same push carries on.
    first.end();
    const second = publish(local, "live", "cam");
    for (const p of [avcHeader(), aacHeader(), ...gopPackets(0, 1)]) second.push(p);
    expect(pushes.relays).toEqual([relay]);
    expect(relay.state).toBe("live");
    const before = remote.hub.get("in/cam")?.stats().packets ?? 0;
    for (const p of gopPackets(200, 1)) second.push(p);
    await vi.waitFor(
      () => expect(remote.hub.get("in/cam")?.stats().packets ?? 0).toBeGreaterThan(before),
      5000,
    );
    expect(relay.attempts).toBe(1);

    // It leaves for good: after the grace the push stops and leaves the list.
    second.end();
    await vi.waitFor(() => expect(relay.state).toBe("stopped"), 5000);
    expect(pushes.relays).toEqual([]);
    await vi.waitFor(() => expect(remote.hub.isLive("in/cam")).toBe(false), 5000);
  });

  it("one push per remote when a rule lists the same URL spelled twice", async () => {
    const local = new StreamHub({ batchWindowMs: 0, republishGraceMs: 0 });
    cleanups.push(() => local.close());
    const remote = await onair();
    const base = remote.url("in");
    const pushes = staticPush(local, {
      rules: [
        { app: "live", urls: [base, base.replace("/in", "//in/")] },
        { app: "live", urls: [`${base}/`] },
      ],
    });
    cleanups.push(() => pushes.stop());
    const src = publish(local, "live", "cam");
    cleanups.push(() => src.end());
    expect(pushes.relays).toHaveLength(1);
  });
});
