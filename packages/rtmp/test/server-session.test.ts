/** The server session as a state machine: feed it decoded messages, read what it sends. */
import { type ByteOutput, StreamHub, StreamSource } from "@onair/core";
import { describe, expect, it } from "vitest";
import {
  type AmfObject,
  type Authorize,
  decodeCommand,
  encodeAmf0,
  MessageType,
  RtmpErrorCode,
  type RtmpMessage,
  ServerSession,
  type SessionTransport,
} from "../src/index.js";

class FakeTransport implements SessionTransport {
  sent: RtmpMessage[] = [];
  raw: Buffer[] = [];
  closed: Error | undefined | "open" = "open";
  chunkSize = 128;
  remoteAddress = "127.0.0.1:5000";
  output: ByteOutput = {
    write: (chunk: Buffer) => {
      this.raw.push(chunk);
      return true;
    },
    writableLength: 0,
  };
  send(message: RtmpMessage): void {
    this.sent.push(message);
  }
  setChunkSize(size: number): void {
    this.chunkSize = size;
  }
  close(error?: Error): void {
    this.closed = error;
  }
  /** Names and status codes of the commands sent, in order. */
  commands(): string[] {
    return this.sent
      .filter((m) => m.typeId === MessageType.commandAmf0)
      .map((m) => {
        const c = decodeCommand(m);
        const info = c.args[0] as AmfObject | undefined;
        return c.name === "onStatus" || c.name === "_error" ? `${c.name}:${String(info?.code)}` : c.name;
      });
  }
}

function command(
  name: string,
  transactionId: number,
  commandObject: unknown,
  args: unknown[],
  streamId = 0,
): RtmpMessage {
  return {
    chunkStreamId: 3,
    typeId: MessageType.commandAmf0,
    messageStreamId: streamId,
    timestamp: 0,
    payload: encodeAmf0([name, transactionId, commandObject as null, ...(args as null[])]),
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

function connected(options: { authorize?: Authorize; hub?: StreamHub } = {}) {
  const transport = new FakeTransport();
  const hub = options.hub ?? new StreamHub({ playWaitTimeoutMs: 1000 });
  const session = new ServerSession(transport, {
    handler: hub,
    authorize: options.authorize,
    chunkSize: 4096,
  });
  session.handleMessage(
    command("connect", 1, { app: "live", tcUrl: "rtmp://127.0.0.1/live?token=abc", objectEncoding: 0 }, []),
  );
  return { transport, hub, session };
}

describe("ServerSession", () => {
  it("answers connect with window, bandwidth, chunk size and NetConnection.Connect.Success", () => {
    const { transport, session } = connected();
    expect(session.state).toBe("connected");
    expect(transport.sent.map((m) => m.typeId).slice(0, 2)).toEqual([
      MessageType.windowAckSize,
      MessageType.setPeerBandwidth,
    ]);
    expect(transport.chunkSize).toBe(4096);
    const result = decodeCommand(transport.sent[transport.sent.length - 1]);
    expect(result.name).toBe("_result");
    expect(result.transactionId).toBe(1);
    expect((result.args[0] as AmfObject).code).toBe("NetConnection.Connect.Success");
  });

  it("refuses anything but connect first with ERR_RTMP_STATE", () => {
    const session = new ServerSession(new FakeTransport(), { handler: new StreamHub() });
    expect(() => session.handleMessage(command("createStream", 2, null, []))).toThrowError(
      expect.objectContaining({ code: RtmpErrorCode.state }),
    );
  });

  it("runs the ffmpeg publish sequence and feeds media to the hub", async () => {
    const { transport, hub, session } = connected();
    session.handleMessage(command("releaseStream", 2, null, ["cam"]));
    session.handleMessage(command("FCPublish", 3, null, ["cam"]));
    session.handleMessage(command("createStream", 4, null, []));
    const created = decodeCommand(transport.sent[transport.sent.length - 1]);
    expect(created.name).toBe("_result");
    expect(created.args[0]).toBe(1);
    session.handleMessage(command("publish", 5, null, ["cam?key=1", "live"], 1));
    await tick();
    expect(transport.commands()).toContain("onStatus:NetStream.Publish.Start");
    expect(hub.isLive("live/cam")).toBe(true);
    const stream = hub.get("live/cam");
    expect(stream?.reader?.info.query?.get("key")).toBe("1");
    expect(stream?.reader?.info.query?.get("token")).toBe("abc");
    session.handleMessage({
      chunkStreamId: 5,
      typeId: MessageType.dataAmf0,
      messageStreamId: 1,
      timestamp: 0,
      payload: encodeAmf0(["@setDataFrame", "onMetaData", { width: 320 }]),
    });
    session.handleMessage({
      chunkStreamId: 6,
      typeId: MessageType.video,
      messageStreamId: 1,
      timestamp: 0,
      payload: Buffer.from([0x17, 0, 0, 0, 0, 1, 2]),
    });
    session.handleMessage({
      chunkStreamId: 6,
      typeId: MessageType.video,
      messageStreamId: 1,
      timestamp: 40,
      payload: Buffer.from([0x17, 1, 0, 0, 0, 9]),
    });
    expect(stream?.stats().packets).toBe(3);
    session.handleMessage(command("FCUnpublish", 6, null, ["cam"]));
    expect(hub.isLive("live/cam")).toBe(false);
  });

  it("tells a second publisher NetStream.Publish.BadName and closes it", async () => {
    const hub = new StreamHub();
    hub.handleReader(new StreamSource({ key: "live/cam", app: "live", name: "cam", url: "", id: "other" }));
    const { transport, session } = connected({ hub });
    session.handleMessage(command("createStream", 2, null, []));
    session.handleMessage(command("publish", 0, null, ["cam", "live"], 1));
    await tick();
    expect(transport.commands()).toContain("onStatus:NetStream.Publish.BadName");
    expect(transport.closed).toBeUndefined();
  });

  it("refuses a publish the authorize hook denies, with its reason", async () => {
    const { transport, hub, session } = connected({
      authorize: async ({ action, query }) =>
        action === "play" || query.get("token") === "right" || { allow: false, reason: "bad token" },
    });
    session.handleMessage(command("createStream", 2, null, []));
    session.handleMessage(command("publish", 0, null, ["cam", "live"], 1));
    await tick();
    const status = transport.sent
      .filter((m) => m.typeId === MessageType.commandAmf0)
      .map((m) => decodeCommand(m))
      .find((c) => c.name === "onStatus");
    expect(status?.args[0]).toMatchObject({
      code: "NetStream.Publish.Unauthorized",
      description: "bad token",
    });
    expect(hub.isLive("live/cam")).toBe(false);
  });

  it("plays: Reset, Start and data start, then media as shared chunks; StreamNotFound on timeout", async () => {
    const hub = new StreamHub({ playWaitTimeoutMs: 50 });
    const source = new StreamSource({ key: "live/cam", app: "live", name: "cam", url: "", id: "pub" });
    hub.handleReader(source);
    const { transport, session } = connected({ hub });
    session.handleMessage(command("createStream", 2, null, []));
    session.handleMessage(command("play", 0, null, ["cam", -2000], 1));
    await tick();
    expect(transport.commands()).toEqual([
      "_result",
      "_result",
      "onStatus:NetStream.Play.Reset",
      "onStatus:NetStream.Play.Start",
      "onStatus:NetStream.Data.Start",
    ]);
    source.end();
    expect(transport.commands().slice(-2)).toEqual([
      "onStatus:NetStream.Play.UnpublishNotify",
      "onStatus:NetStream.Play.Stop",
    ]);

    session.handleMessage(command("createStream", 3, null, []));
    session.handleMessage(command("play", 0, null, ["missing"], 2));
    await new Promise((r) => setTimeout(r, 100));
    expect(transport.commands().at(-1)).toBe("onStatus:NetStream.Play.StreamNotFound");
  });

  it("ends its publisher when closed", async () => {
    const { hub, session } = connected();
    session.handleMessage(command("createStream", 2, null, []));
    session.handleMessage(command("publish", 0, null, ["cam", "live"], 1));
    await tick();
    expect(hub.isLive("live/cam")).toBe(true);
    session.close();
    session.close();
    expect(hub.isLive("live/cam")).toBe(false);
  });
});
