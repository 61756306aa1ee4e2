/** The client session against the server session over an in-memory pipe: no sockets, no timers. */
import { createMediaPacket, type MediaPacket, StreamHub } from "@onair/core";
import { afterEach, describe, expect, it } from "vitest";
import { RtmpStatusError } from "../src/index.js";
import { sessionPair } from "./client-session-duplex.js";

const avcHeader = createMediaPacket("video", 0, Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f]), {
  sequenceHeader: true,
});
const keyframe = (t: number) =>
  createMediaPacket("video", t, Buffer.from([0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65]), { keyframe: true });
const audio = (t: number) => createMediaPacket("audio", t, Buffer.from([0xaf, 1, 0x21, 0x10]));

/** Run queued deliveries until nothing is left (each hop of the pipe is a microtask). */
async function drain(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

const shape = (p: MediaPacket) => [p.kind, p.timestamp, p.payload.toString("hex"), p.keyframe];

describe("client session with the server session, in memory", () => {
  let hub: StreamHub;
  afterEach(() => hub.close());

  it("connects, publishes, and a second pair plays the packets back", async () => {
    hub = new StreamHub({ batchWindowMs: 0, republishGraceMs: 0 });
    const publisher = sessionPair({ url: "rtmp://10.0.0.1/live?token=t", handler: hub });
    await publisher.client.connect();
    expect(publisher.server.state).toBe("connected");
    expect(publisher.server.app).toBe("live");
    const writer = await publisher.client.publish("cam");
    expect(hub.isLive("live/cam")).toBe(true);
    expect(writer.info).toMatchObject({ key: "live/cam", app: "live", name: "cam" });

    const player = sessionPair({ url: "rtmp://10.0.0.1/live", handler: hub });
    await player.client.connect();
    const reader = await player.client.play("cam");
    const got: MediaPacket[] = [];
    let ended: { error?: Error } | undefined;
    reader.attach({ packet: (p) => got.push(p), end: (error) => (ended = { error }) });
    const sent = [avcHeader, keyframe(0), audio(20), keyframe(0x1000000 + 1)];
    for (const packet of sent) writer.write(packet);
    await drain();
    expect(got.map(shape)).toEqual(sent.map(shape));

    writer.close();
    await drain();
    expect(hub.isLive("live/cam")).toBe(false);
    expect(ended).toEqual({ error: undefined });
    expect(publisher.closedWith).toBeUndefined();
  });

  it("a refused publish rejects with the server's code and reason, and the connection closes", async () => {
    hub = new StreamHub();
    const pair = sessionPair({
      url: "rtmp://10.0.0.1/live",
      handler: hub,
      authorize: ({ query }) => query.get("key") === "ok" || { allow: false, reason: "needs ?key=ok" },
    });
    await pair.client.connect();
    const error = await pair.client.publish("cam").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RtmpStatusError);
    expect(error).toMatchObject({ status: "NetStream.Publish.Unauthorized" });
    expect((error as Error).message).toContain("needs ?key=ok");
    await drain();
    expect(pair.client.closed).toBe(true);
    expect(hub.isLive("live/cam")).toBe(false);
  });

  it("a rejected connect (bad app name) rejects connect() with NetConnection.Connect.Rejected", async () => {
    hub = new StreamHub();
    const pair = sessionPair({ url: "rtmp://10.0.0.1/a/b", handler: hub });
    const error = await pair.client.connect().catch((e: unknown) => e);
    expect(error).toMatchObject({ status: "NetConnection.Connect.Rejected" });
    expect((error as Error).message).toContain('must not contain "/"');
    await drain();
    expect(pair.client.closed).toBe(true);
  });

  it("a status listener that throws changes nothing: the publish still starts", async () => {
    hub = new StreamHub();
    const pair = sessionPair({ url: "rtmp://10.0.0.1/live", handler: hub });
    const seen: string[] = [];
    pair.client.on("status", () => {
      throw new Error("listener bug");
    });
    pair.client.on("status", (info) => seen.push(info.code));
    await pair.client.connect();
    const writer = await pair.client.publish("cam");
    expect(writer.streamId).toBe(1);
    expect(seen).toEqual(["NetStream.Publish.Start"]);
    expect(pair.closedWith).toBeUndefined();
  });

  it("play of a stream that never starts rejects with NetStream.Play.StreamNotFound", async () => {
    hub = new StreamHub({ playWaitTimeoutMs: 0 });
    const pair = sessionPair({ url: "rtmp://10.0.0.1/live", handler: hub });
    await pair.client.connect();
    const error = await pair.client.play("nothing").catch((e: unknown) => e);
    expect(error).toMatchObject({ status: "NetStream.Play.StreamNotFound" });
  });

  it("the connection closing fails pending calls and ends the publish writer", async () => {
    hub = new StreamHub({ republishGraceMs: 0 });
    const pair = sessionPair({ url: "rtmp://10.0.0.1/live", handler: hub });
    await pair.client.connect();
    const writer = await pair.client.publish("cam");
    let writerEnded = false;
    writer.onClose(() => {
      writerEnded = true;
    });
    const pending = pair.client.call("someCommandWithoutReply");
    const closeEvents: (Error | undefined)[] = [];
    pair.client.on("close", (error) => closeEvents.push(error));
    pair.server.close();
    pair.client.close();
    await expect(pending).rejects.toThrow("connection closed");
    expect(writerEnded).toBe(true);
    expect(closeEvents).toEqual([undefined]);
    expect(hub.isLive("live/cam")).toBe(false);
  });
});
