/** RtmpClient against our own server: refusals reach the client as RtmpStatusError with the server's code. */
import { createMediaPacket, type MediaPacket, StreamHub } from "@onair/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../../test-support/media-tools.js";
import { createRtmpServer, RtmpClient, type RtmpServer, RtmpStatusError } from "../src/index.js";

const avcHeader = createMediaPacket("video", 0, Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f]), {
  sequenceHeader: true,
});
const keyframe = (t: number) =>
  createMediaPacket("video", t, Buffer.from([0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65]), { keyframe: true });
const interframe = (t: number) =>
  createMediaPacket("video", t, Buffer.from([0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41]));
const audio = (t: number) => createMediaPacket("audio", t, Buffer.from([0xaf, 1, 0x21, 0x10]));

describe("RtmpClient with the onair server", () => {
  let hub: StreamHub;
  let server: RtmpServer;
  let base: string;

  beforeAll(async () => {
    // No republish grace: "ends the player when the publisher unpublishes" checks the end comes at once.
    hub = new StreamHub({ playWaitTimeoutMs: 300, republishGraceMs: 0 });
    server = createRtmpServer({
      handler: hub,
      host: "127.0.0.1",
      port: 0,
      authorize: ({ action, query }) =>
        action === "play" ||
        query.get("key") === "ok" || { allow: false, reason: "publishing needs ?key=ok" },
    });
    base = `rtmp://127.0.0.1:${(await server.listen()).port}/live`;
  });

  afterAll(async () => {
    hub.close();
    await server.close();
  });

  it("publishes packets that a second client plays back byte for byte, timestamps kept", async () => {
    const publisher = await RtmpClient.connect(base);
    const writer = await publisher.publish("roundtrip?key=ok");
    const player = await RtmpClient.connect(base);
    const reader = await player.play("roundtrip");
    const got: MediaPacket[] = [];
    reader.attach({ packet: (p) => got.push(p), end: () => {} });
    const sent = [avcHeader, keyframe(0), audio(10), interframe(40), audio(33), keyframe(0x1000000 + 5)];
    for (const p of sent) writer.write(p);
    await waitFor(() => got.length >= sent.length, 5000, "packets");
    expect(
      got.map((p) => [p.kind, p.timestamp, p.payload.toString("hex"), p.keyframe, p.sequenceHeader]),
    ).toEqual(
      sent.map((p) => [p.kind, p.timestamp, p.payload.toString("hex"), p.keyframe, p.sequenceHeader]),
    );
    writer.close();
    publisher.close();
    player.close();
  });

  it("is refused by the authorize hook with the reason", async () => {
    const client = await RtmpClient.connect(base);
    const error = await client.publish("nokey").catch((e: Error) => e);
    expect(error).toBeInstanceOf(RtmpStatusError);
    expect((error as RtmpStatusError).status).toBe("NetStream.Publish.Unauthorized");
    expect((error as RtmpStatusError).message).toContain("publishing needs ?key=ok");
    await waitFor(() => client.closed, 2000, "server to close the refused client");
  });

  it("gets NetStream.Publish.BadName for a key already live", async () => {
    const first = await RtmpClient.connect(base);
    await first.publish("taken?key=ok");
    const second = await RtmpClient.connect(base);
    const error = await second.publish("taken?key=ok").catch((e: Error) => e);
    expect((error as RtmpStatusError).status).toBe("NetStream.Publish.BadName");
    expect(hub.isLive("live/taken")).toBe(true);
    first.close();
    second.close();
  });

  it("gets NetStream.Play.StreamNotFound when nothing is published in time", async () => {
    const client = await RtmpClient.connect(base);
    const error = await client.play("nothing").catch((e: Error) => e);
    expect((error as RtmpStatusError).status).toBe("NetStream.Play.StreamNotFound");
    client.close();
  });

  it("ends the player when the publisher unpublishes", async () => {
    const publisher = await RtmpClient.connect(base);
    const writer = await publisher.publish("short?key=ok");
    const player = await RtmpClient.connect(base);
    const reader = await player.play("short");
    const ended = new Promise<Error | undefined>((resolve) =>
      reader.attach({ packet: () => {}, end: resolve }),
    );
    writer.write(keyframe(0));
    writer.close();
    expect(await ended).toBeUndefined();
    publisher.close();
    player.close();
    await waitFor(() => server.connectionCount === 0, 5000, "connections closed");
  });
});
