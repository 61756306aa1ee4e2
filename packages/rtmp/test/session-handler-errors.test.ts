/**
 * A throwing handler or hub listener never becomes an unhandled rejection: the session closes the
 * one connection that hit it with ERR_RTMP_HANDLER, and other connections go on.
 */
import { type Handler, StreamHub, type StreamReader, type StreamWriter } from "@onair/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RtmpErrorCode, ServerSession } from "../src/index.js";
import { command, connectCommand, mediaMessage, RecordingTransport, settle } from "./session-fakes.js";

const keyframe = Buffer.from([0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65]);

function session(handler: Handler, remote = "127.0.0.1:5000") {
  const transport = new RecordingTransport(remote);
  const server = new ServerSession(transport, { handler, chunkSize: 4096 });
  server.handleMessage(connectCommand("live"));
  server.handleMessage(command("createStream", 2, null));
  return { transport, server };
}

describe("server session with a throwing handler", () => {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown): void => {
    rejections.push(reason);
  };
  beforeEach(() => {
    rejections.length = 0;
    process.on("unhandledRejection", onRejection);
  });
  afterEach(() => {
    process.off("unhandledRejection", onRejection);
  });

  it("a hub publish listener that throws: no unhandled rejection, the key is not left held", async () => {
    const hub = new StreamHub();
    hub.on("publish", () => {
      throw new Error("listener bug");
    });
    const publisher = session(hub);
    publisher.server.handleMessage(command("publish", 0, null, ["cam", "live"], 1));
    await settle();
    await settle();
    expect(rejections).toEqual([]);
    // A hub that emits safely starts the publish; one that lets the throw through has it failed and
    // the key released. Either way the session answered and nothing escaped.
    const codes = publisher.transport.statusCodes();
    if (codes.includes("NetStream.Publish.Start")) {
      expect(publisher.transport.closed).toBe("open");
      expect(hub.isLive("live/cam")).toBe(true);
    } else {
      expect(codes).toEqual(["NetStream.Publish.Failed"]);
      expect((publisher.transport.closed as { code?: string }).code).toBe(RtmpErrorCode.handler);
      expect(hub.isLive("live/cam")).toBe(false);
    }
    hub.close();
  });

  it("handleReader throws: that publisher fails with ERR_RTMP_HANDLER, another publishes and plays", async () => {
    const hub = new StreamHub({ batchWindowMs: 0 });
    const handler: Handler = {
      handleReader(reader: StreamReader) {
        if (reader.info.name === "bad") throw new Error("handler bug");
        hub.handleReader(reader);
      },
      handleWriter: (writer: StreamWriter) => hub.handleWriter(writer),
    };
    const bad = session(handler, "127.0.0.1:1");
    const good = session(handler, "127.0.0.1:2");
    const player = session(handler, "127.0.0.1:3");
    bad.server.handleMessage(command("publish", 0, null, ["bad", "live"], 1));
    good.server.handleMessage(command("publish", 0, null, ["good", "live"], 1));
    await settle();
    player.server.handleMessage(command("play", 0, null, ["good"], 1));
    await settle();
    good.server.handleMessage(mediaMessage("video", 0, keyframe, 1));
    await settle();

    expect(rejections).toEqual([]);
    expect(bad.transport.statusCodes()).toEqual(["NetStream.Publish.Failed"]);
    const error = bad.transport.closed as Error & { code?: string; cause?: unknown };
    expect(error.code).toBe(RtmpErrorCode.handler);
    expect((error.cause as Error).message).toBe("handler bug");
    expect(bad.server.state).toBe("connected");
    // The session ignores what the closing connection still sends.
    bad.server.handleMessage(mediaMessage("video", 0, keyframe, 1));

    expect(good.transport.closed).toBe("open");
    expect(good.transport.statusCodes()).toEqual(["NetStream.Publish.Start"]);
    expect(player.transport.statusCodes()).toContain("NetStream.Play.Start");
    expect(Buffer.concat(player.transport.raw).includes(keyframe)).toBe(true);
    hub.close();
  });

  it("handleWriter throws: that player fails with ERR_RTMP_HANDLER", async () => {
    const handler: Handler = {
      handleReader: () => {},
      handleWriter: () => {
        throw new Error("writer bug");
      },
    };
    const player = session(handler);
    player.server.handleMessage(command("play", 0, null, ["cam"], 1));
    await settle();
    expect(rejections).toEqual([]);
    expect(player.transport.statusCodes()).toEqual(["NetStream.Play.Failed"]);
    expect((player.transport.closed as { code?: string }).code).toBe(RtmpErrorCode.handler);
  });
});
