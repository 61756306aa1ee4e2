/** Message stream ids are reused, so every player keeps sharing one encoded Buffer per packet. */
import { StreamHub } from "@onair/core";
import { describe, expect, it } from "vitest";
import { ServerSession } from "../src/index.js";
import { command, connectCommand, mediaMessage, RecordingTransport, settle } from "./session-fakes.js";

const avcHeader = Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f]);
const keyframe = Buffer.from([0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65, 0x88]);

function session(hub: StreamHub, remote: string) {
  const transport = new RecordingTransport(remote);
  const server = new ServerSession(transport, { handler: hub, chunkSize: 4096 });
  server.handleMessage(connectCommand("live"));
  return { transport, server };
}

function createStream(s: ReturnType<typeof session>, transactionId: number): number {
  s.server.handleMessage(command("createStream", transactionId, null));
  return s.transport.lastResult() as number;
}

describe("server session message stream ids", () => {
  it("hands out the lowest free id, even after 2000 createStream/deleteStream loops", () => {
    const hub = new StreamHub();
    const s = session(hub, "127.0.0.1:1");
    for (let i = 0; i < 2000; i++) {
      const id = createStream(s, 2 + i);
      expect(id).toBe(1);
      s.server.handleMessage(command("deleteStream", 0, null, [id]));
    }
    expect(createStream(s, 5000)).toBe(1);
    expect(createStream(s, 5001)).toBe(2);
    expect(createStream(s, 5002)).toBe(3);
    s.server.handleMessage(command("deleteStream", 0, null, [2]));
    expect(createStream(s, 5003)).toBe(2);
    expect(createStream(s, 5004)).toBe(4);
    hub.close();
  });

  it("players on two connections share the encoded Buffer after one of them looped 2000 times", async () => {
    const hub = new StreamHub({ batchWindowMs: 0 });
    const publisher = session(hub, "127.0.0.1:2");
    const looping = session(hub, "127.0.0.1:3");
    const plain = session(hub, "127.0.0.1:4");
    for (let i = 0; i < 2000; i++) {
      const id = createStream(looping, 2 + i);
      looping.server.handleMessage(command("deleteStream", 0, null, [id]));
    }
    const publishId = createStream(publisher, 2);
    publisher.server.handleMessage(command("publish", 0, null, ["cam", "live"], publishId));
    await settle();
    expect(publisher.transport.statusCodes()).toContain("NetStream.Publish.Start");
    for (const player of [looping, plain]) {
      const id = createStream(player, 9000);
      player.server.handleMessage(command("play", 0, null, ["cam"], id));
    }
    await settle();
    publisher.server.handleMessage(mediaMessage("video", 0, avcHeader, publishId));
    publisher.server.handleMessage(mediaMessage("video", 40, keyframe, publishId));
    await settle();
    expect(looping.transport.raw.length).toBeGreaterThanOrEqual(1);
    expect(Buffer.concat(looping.transport.raw).includes(keyframe)).toBe(true);
    expect(looping.transport.raw.length).toBe(plain.transport.raw.length);
    // Same object, not just equal bytes: the packet was encoded once for both players.
    for (const [i, bytes] of looping.transport.raw.entries()) expect(bytes).toBe(plain.transport.raw[i]);
    hub.close();
  });
});

describe("a stream id deleted and created again while authorize runs", () => {
  it("starts the command sent on the new id, never the one sent before the delete", async () => {
    const hub = new StreamHub();
    const asked: { name: string; allow: (ok: boolean) => void }[] = [];
    const transport = new RecordingTransport("127.0.0.1:6");
    const server = new ServerSession(transport, {
      handler: hub,
      authorize: ({ name }) => new Promise<boolean>((allow) => asked.push({ name, allow })),
    });
    server.handleMessage(connectCommand("live"));
    server.handleMessage(command("createStream", 2, null));
    expect(transport.lastResult()).toBe(1);
    server.handleMessage(command("publish", 0, null, ["old", "live"], 1));
    server.handleMessage(command("deleteStream", 0, null, [1]));
    server.handleMessage(command("createStream", 3, null));
    expect(transport.lastResult()).toBe(1);
    server.handleMessage(command("publish", 0, null, ["new", "live"], 1));
    await settle();
    expect(asked.map((a) => a.name)).toEqual(["old", "new"]);
    // The deleted publish's verdict comes first: it must not take the new command's id.
    asked[0].allow(true);
    await settle();
    expect(transport.statusCodes()).toEqual([]);
    expect(hub.isLive("live/old")).toBe(false);
    asked[1].allow(true);
    await settle();
    expect(transport.statusCodes()).toEqual(["NetStream.Publish.Start"]);
    const started = transport.commands().find((c) => c.name === "onStatus");
    expect((started?.args[0] as { details?: string } | undefined)?.details).toBe("new");
    expect(hub.isLive("live/old")).toBe(false);
    expect(hub.isLive("live/new")).toBe(true);
    expect(transport.closed).toBe("open");
    hub.close();
  });
});
