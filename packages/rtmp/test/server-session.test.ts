/** The server session as a state machine: feed it decoded messages, read what it sends. */
import { type ByteOutput, createMediaPacket, StreamHub, StreamSource } from "@onair/core";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type AmfObject,
  type Authorize,
  ChunkDecoder,
  decodeCommand,
  encodeAmf0,
  encodeChunks,
  MessageType,
  RtmpErrorCode,
  type RtmpMessage,
  ServerSession,
  type SessionTransport,
  setChunkSizeMessage,
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

/** Let pending promises (authorize, hub hand-offs) and zero-delay timers run, on the fake clock. */
const tick = () => vi.advanceTimersByTimeAsync(0);

/** Decode what a player was sent on its byte output (media chunks), at its chunk size. */
function decodeOutput(chunks: Buffer[], chunkSize: number): RtmpMessage[] {
  const decoder = new ChunkDecoder();
  decoder.push(encodeChunks(setChunkSizeMessage(chunkSize), 128), () => {});
  const messages: RtmpMessage[] = [];
  for (const chunk of chunks) decoder.push(chunk, (message) => messages.push(message));
  return messages;
}

function connected(options: { authorize?: Authorize; hub?: StreamHub; chunkSize?: number } = {}) {
  const transport = new FakeTransport();
  const hub = options.hub ?? new StreamHub({ playWaitTimeoutMs: 1000 });
  const session = new ServerSession(transport, {
    handler: hub,
    authorize: options.authorize,
    chunkSize: options.chunkSize ?? 4096,
  });
  session.handleMessage(
    command("connect", 1, { app: "live", tcUrl: "rtmp://127.0.0.1/live?token=abc", objectEncoding: 0 }, []),
  );
  return { transport, hub, session };
}

describe("ServerSession", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

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

  it("plays: Reset, Start and data start, then media as shared chunks", async () => {
    // batchWindowMs 0: each turn's packets are flushed at once, so no window timer is involved.
    const hub = new StreamHub({ batchWindowMs: 0, republishGraceMs: 5000 });
    const source = new StreamSource({ key: "live/cam", app: "live", name: "cam", url: "", id: "pub" });
    hub.handleReader(source);
    const first = connected({ hub });
    const second = connected({ hub });
    const smallChunks = connected({ hub, chunkSize: 128 });
    for (const { session } of [first, second, smallChunks]) {
      session.handleMessage(command("createStream", 2, null, []));
      session.handleMessage(command("play", 0, null, ["cam", -2000], 1));
    }
    await tick();
    expect(first.transport.commands()).toEqual([
      "_result",
      "_result",
      "onStatus:NetStream.Play.Reset",
      "onStatus:NetStream.Play.Start",
      "onStatus:NetStream.Data.Start",
    ]);
    expect(first.transport.raw).toEqual([]);

    const sequenceHeader = Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f]);
    const keyframe = Buffer.concat([Buffer.from([0x17, 1, 0, 0, 0]), Buffer.alloc(5000, 0xab)]); // > one 4096-byte chunk
    const audio = Buffer.from([0xaf, 1, 0x21, 0x10]);
    const interFrame = Buffer.from([0x27, 1, 0, 0, 0, 9, 9]);
    // Three packets in one turn (one batch), then one more in the next.
    source.push(createMediaPacket("video", 0, sequenceHeader, { sequenceHeader: true }));
    source.push(createMediaPacket("video", 0, keyframe, { keyframe: true }));
    source.push(createMediaPacket("audio", 10, audio));
    await tick();
    source.push(createMediaPacket("video", 40, interFrame));
    await tick();

    // The same chunk size and stream id: every write is the very same Buffer, encoded once.
    expect(first.transport.raw.length).toBeGreaterThanOrEqual(2);
    expect(second.transport.raw).toHaveLength(first.transport.raw.length);
    first.transport.raw.forEach((bytes, i) => {
      expect(second.transport.raw[i]).toBe(bytes);
    });
    // Another chunk size: its own Buffers.
    for (const bytes of smallChunks.transport.raw) expect(first.transport.raw).not.toContain(bytes);

    const expected = [
      { typeId: MessageType.video, timestamp: 0, payload: sequenceHeader },
      { typeId: MessageType.video, timestamp: 0, payload: keyframe },
      { typeId: MessageType.audio, timestamp: 10, payload: audio },
      { typeId: MessageType.video, timestamp: 40, payload: interFrame },
    ].map((m) => expect.objectContaining({ ...m, messageStreamId: 1 }));
    expect(decodeOutput(first.transport.raw, 4096)).toEqual(expected);
    expect(decodeOutput(smallChunks.transport.raw, 128)).toEqual(expected);

    // The publisher left: players wait out the republish grace, then hear the stream ended.
    source.end();
    await vi.advanceTimersByTimeAsync(4999);
    expect(first.transport.commands()).not.toContain("onStatus:NetStream.Play.UnpublishNotify");
    await vi.advanceTimersByTimeAsync(1);
    for (const { transport } of [first, second, smallChunks]) {
      expect(transport.commands().slice(-2)).toEqual([
        "onStatus:NetStream.Play.UnpublishNotify",
        "onStatus:NetStream.Play.Stop",
      ]);
    }
  });

  it("tells a player of a stream that never comes NetStream.Play.StreamNotFound after the wait", async () => {
    const hub = new StreamHub({ playWaitTimeoutMs: 50 });
    const { transport, session } = connected({ hub });
    session.handleMessage(command("createStream", 2, null, []));
    session.handleMessage(command("play", 0, null, ["missing"], 1));
    await vi.advanceTimersByTimeAsync(49);
    expect(transport.commands()).not.toContain("onStatus:NetStream.Play.StreamNotFound");
    await vi.advanceTimersByTimeAsync(1);
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
