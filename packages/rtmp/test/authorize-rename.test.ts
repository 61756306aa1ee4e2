/**
 * A publish the authorize hook allows under another name (`{ allow: true, name }`, channel keys)
 * goes live under that name; the name the client asked for is in no StreamInfo.
 */
import { type ByteOutput, StreamHub, type StreamInfo } from "@onair/core";
import { describe, expect, it } from "vitest";
import {
  type AmfObject,
  type Authorize,
  decodeCommand,
  encodeAmf0,
  MessageType,
  type RtmpMessage,
  ServerSession,
  type SessionTransport,
} from "../src/index.js";

class RecordingTransport implements SessionTransport {
  sent: RtmpMessage[] = [];
  closed = false;
  chunkSize = 128;
  remoteAddress = "127.0.0.1:5000";
  output: ByteOutput = { write: () => true, writableLength: 0 };
  send(message: RtmpMessage): void {
    this.sent.push(message);
  }
  setChunkSize(size: number): void {
    this.chunkSize = size;
  }
  close(): void {
    this.closed = true;
  }
  statuses(): AmfObject[] {
    return this.sent
      .filter((m) => m.typeId === MessageType.commandAmf0)
      .map((m) => decodeCommand(m))
      .filter((c) => c.name === "onStatus")
      .map((c) => c.args[0] as AmfObject);
  }
}

function command(name: string, transactionId: number, args: unknown[], streamId = 0): RtmpMessage {
  return {
    chunkStreamId: 3,
    typeId: MessageType.commandAmf0,
    messageStreamId: streamId,
    timestamp: 0,
    payload: encodeAmf0([name, transactionId, null, ...(args as null[])]),
  };
}

const KEY = "k3yK3yk3y";

function publishWith(authorize: Authorize, hub = new StreamHub()) {
  const transport = new RecordingTransport();
  const session = new ServerSession(transport, { handler: hub, authorize });
  session.handleMessage(
    encodeConnect({ app: "live", tcUrl: "rtmp://127.0.0.1:1935/live", objectEncoding: 0 }),
  );
  session.handleMessage(command("createStream", 2, []));
  session.handleMessage(command("publish", 3, [`${KEY}?x=1`, "live"], 1));
  return { transport, session, hub };
}

function encodeConnect(object: AmfObject): RtmpMessage {
  return {
    chunkStreamId: 3,
    typeId: MessageType.commandAmf0,
    messageStreamId: 0,
    timestamp: 0,
    payload: encodeAmf0(["connect", 1, object]),
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("authorize renames a publish", () => {
  it("publishes APP/KEY live as APP/ROOM, with the room in key, name and url", async () => {
    const seen: string[] = [];
    const hub = new StreamHub();
    const published: StreamInfo[] = [];
    hub.on("publish", (info) => published.push(info));
    const { transport, session } = publishWith(async ({ action, name }) => {
      seen.push(`${action} ${name}`);
      return name === KEY ? { allow: true, name: "room1" } : false;
    }, hub);
    await settle();
    expect(seen).toEqual([`publish ${KEY}`]);
    expect(hub.isLive("live/room1")).toBe(true);
    expect(hub.isLive(`live/${KEY}`)).toBe(false);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      key: "live/room1",
      app: "live",
      name: "room1",
      url: "rtmp://127.0.0.1:1935/live/room1",
    });
    expect(published[0].query?.get("x")).toBe("1");
    expect(JSON.stringify(published[0])).not.toContain(KEY);
    const start = transport.statuses().find((s) => s.code === "NetStream.Publish.Start");
    expect(start).toBeDefined();
    expect(JSON.stringify(start)).not.toContain(KEY);
    // ffmpeg ends with FCUnpublish of the name it published: the key.
    session.handleMessage(command("FCUnpublish", 4, [KEY]));
    expect(hub.isLive("live/room1")).toBe(false);
  });

  it("leaves the name alone when the hook allows without one, and ignores a name for play", async () => {
    const hub = new StreamHub({ playWaitTimeoutMs: 1000 });
    publishWith(async () => true, hub);
    await settle();
    expect(hub.isLive(`live/${KEY}`)).toBe(true);

    const transport = new RecordingTransport();
    const player = new ServerSession(transport, {
      handler: hub,
      authorize: async ({ action }) => (action === "play" ? { allow: true, name: "elsewhere" } : false),
    });
    player.handleMessage(encodeConnect({ app: "live", tcUrl: "rtmp://127.0.0.1/live" }));
    player.handleMessage(command("createStream", 2, []));
    player.handleMessage(command("play", 3, [KEY], 1));
    await settle();
    expect(hub.get(`live/${KEY}`)?.writerCount).toBe(1);
    expect(hub.get("live/elsewhere")).toBeUndefined();
    player.close();
  });

  it("refuses a publish the hook renames to a bad name, without going live", async () => {
    const hub = new StreamHub();
    const { transport } = publishWith(async () => ({ allow: true, name: "../x" }), hub);
    await settle();
    expect(hub.streams()).toHaveLength(0);
    expect(transport.statuses().map((s) => s.code)).toEqual(["NetStream.Publish.Unauthorized"]);
    expect(transport.closed).toBe(true);
  });
});
