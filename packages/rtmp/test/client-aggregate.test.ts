/**
 * The client session reads what a server sends a player as ServerSession reads a publisher:
 * aggregate messages (type 22, Wowza/FMS) split into their tags with rebased timestamps, and data
 * messages passed on byte-exact (an ECMA array stays one); a malformed one of either is dropped and
 * the stream goes on. A fake transport plays the server: no sockets, no timers.
 */
import { createMediaPacket, type MediaPacket, StreamHub } from "@onair/core";
import { describe, expect, it } from "vitest";
import { encodeAmf0 } from "../src/codec/amf0.js";
import {
  type AmfValue,
  ClientSession,
  type ClientTransport,
  commandMessage,
  decodeCommand,
  MessageType,
  type RtmpMessage,
  statusMessage,
} from "../src/index.js";
import { bytesOf } from "./chunk-vectors.js";
import { sessionPair } from "./client-session-duplex.js";

const STREAM_ID = 1;

/** A server that accepts connect, createStream (stream 1) and play, answering on a microtask. */
function fakeServer(): { transport: ClientTransport; attach(session: ClientSession): void } {
  let session: ClientSession | undefined;
  const reply = (message: RtmpMessage): void => queueMicrotask(() => session?.handleMessage(message));
  const transport: ClientTransport = {
    remoteAddress: "10.0.0.1:1935",
    bufferedBytes: 0,
    setChunkSize: () => {},
    close: (error) => session?.close(error),
    send: (message) => {
      if (message.typeId !== MessageType.commandAmf0) return;
      const { name, transactionId } = decodeCommand(message);
      const result = (...args: AmfValue[]) =>
        reply(commandMessage({ name: "_result", transactionId, commandObject: null, args }));
      if (name === "connect") result({ code: "NetConnection.Connect.Success" });
      else if (name === "createStream") result(STREAM_ID);
      else if (name === "play") {
        reply(statusMessage(STREAM_ID, { level: "status", code: "NetStream.Play.Start", description: "" }));
      }
    },
  };
  return { transport, attach: (s) => (session = s) };
}

/** A client playing "cam" from the fake server, and the packets it reads. */
async function playing(): Promise<{ session: ClientSession; got: MediaPacket[]; ended: () => boolean }> {
  const server = fakeServer();
  const session = new ClientSession(server.transport, { url: new URL("rtmp://10.0.0.1/live") });
  server.attach(session);
  await session.connect();
  const reader = await session.play("cam");
  const got: MediaPacket[] = [];
  let ended = false;
  reader.attach({ packet: (p) => got.push(p), end: () => (ended = true) });
  return { session, got, ended: () => ended };
}

/** One FLV tag inside an aggregate body: 11-byte header, body, back pointer. */
function tag(typeId: number, timestamp: number, body: Buffer, backPointer = true): Buffer {
  const header = Buffer.alloc(11);
  header[0] = typeId;
  header.writeUIntBE(body.length, 1, 3);
  header.writeUIntBE(timestamp & 0xffffff, 4, 3);
  header[7] = timestamp >>> 24;
  const back = Buffer.alloc(backPointer ? 4 : 0);
  if (backPointer) back.writeUInt32BE(11 + body.length);
  return Buffer.concat([header, body, back]);
}

function message(typeId: number, timestamp: number, payload: Buffer): RtmpMessage {
  return { chunkStreamId: 6, typeId, messageStreamId: STREAM_ID, timestamp, payload };
}

const videoBody = Buffer.from([0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65]);
const audioBody = Buffer.from([0xaf, 1, 0x21, 0x10]);
/** "onMetaData", ECMA array { width: 320 }, as ffmpeg writes it. */
const onMetaData = bytesOf(
  "02 000a",
  Buffer.from("onMetaData"),
  "08 00000001", //                        ECMA array, 1 entry
  "0005",
  Buffer.from("width"),
  "00 4074000000000000", //                number 320
  "000009", //                             object end
);
const shape = (p: MediaPacket) => [p.kind, p.timestamp, p.payload.toString("hex")];

describe("client session: aggregates and metadata from the server", () => {
  it("splits an aggregate of audio, video and data into packets with rebased timestamps", async () => {
    const { session, got } = await playing();
    // Tag timestamps 1000, 1020, 1040 in an aggregate stamped 5000: they become 5000, 5020, 5040.
    const body = Buffer.concat([
      tag(MessageType.video, 1000, videoBody),
      tag(MessageType.audio, 1020, audioBody),
      tag(MessageType.dataAmf0, 1040, onMetaData, false), // last back pointer left out
    ]);
    session.handleMessage(message(MessageType.aggregate, 5000, body));
    expect(got.map(shape)).toEqual([
      ["video", 5000, videoBody.toString("hex")],
      ["audio", 5020, audioBody.toString("hex")],
      ["script", 5040, onMetaData.toString("hex")],
    ]);
    expect(got[0].keyframe).toBe(true);
  });

  it("drops a malformed aggregate and keeps playing", async () => {
    const { session, got, ended } = await playing();
    const whole = tag(MessageType.video, 0, videoBody);
    // The sub-message announces more bytes than the aggregate holds.
    session.handleMessage(message(MessageType.aggregate, 40, whole.subarray(0, 15)));
    expect(got).toEqual([]);
    session.handleMessage(message(MessageType.audio, 60, audioBody));
    expect(got.map(shape)).toEqual([["audio", 60, audioBody.toString("hex")]]);
    expect(session.closed).toBe(false);
    expect(ended()).toBe(false);
  });

  it("passes an ECMA-array onMetaData on byte-identical, with or without @setDataFrame", async () => {
    const { session, got } = await playing();
    session.handleMessage(message(MessageType.dataAmf0, 0, onMetaData));
    const setDataFrame = encodeAmf0(["@setDataFrame"]);
    session.handleMessage(message(MessageType.dataAmf0, 10, Buffer.concat([setDataFrame, onMetaData])));
    session.handleMessage(message(MessageType.dataAmf3, 20, Buffer.concat([Buffer.from([0]), onMetaData])));
    expect(got.map(shape)).toEqual([
      ["script", 0, onMetaData.toString("hex")],
      ["script", 10, onMetaData.toString("hex")],
      ["script", 20, onMetaData.toString("hex")],
    ]);
    expect(got[0].payload[13]).toBe(0x08); // an ECMA array still, not re-encoded as an object (0x03)
  });

  it("skips |RtmpSampleAccess and drops metadata that does not start with a name, never fatal", async () => {
    const { session, got, ended } = await playing();
    session.handleMessage(message(MessageType.dataAmf0, 0, encodeAmf0(["|RtmpSampleAccess", true, true])));
    session.handleMessage(message(MessageType.dataAmf0, 0, Buffer.from([0x03, 0, 0, 9]))); // an object, no name
    session.handleMessage(message(MessageType.dataAmf0, 0, Buffer.from([0x02, 0, 10, 0x6f]))); // name cut short
    expect(got).toEqual([]);
    // An ECMA array without its end marker is not decoded, so it passes as it came.
    const unterminated = onMetaData.subarray(0, onMetaData.length - 3);
    session.handleMessage(message(MessageType.dataAmf0, 5, unterminated));
    expect(got.map(shape)).toEqual([["script", 5, unterminated.toString("hex")]]);
    expect(session.closed).toBe(false);
    expect(ended()).toBe(false);
  });

  it("ignores aggregates and data for a stream it does not play", async () => {
    const { session, got } = await playing();
    const other = {
      ...message(MessageType.aggregate, 0, tag(MessageType.audio, 0, audioBody)),
      messageStreamId: 7,
    };
    session.handleMessage(other);
    session.handleMessage({ ...message(MessageType.dataAmf0, 0, onMetaData), messageStreamId: 7 });
    expect(got).toEqual([]);
  });

  it("through the server session and a hub, an ECMA-array onMetaData reaches the client player byte-identical", async () => {
    const hub = new StreamHub({ batchWindowMs: 0, republishGraceMs: 0 });
    try {
      const publisher = sessionPair({ url: "rtmp://10.0.0.1/live", handler: hub });
      await publisher.client.connect();
      const writer = await publisher.client.publish("cam");
      writer.write(createMediaPacket("script", 0, onMetaData));
      const player = sessionPair({ url: "rtmp://10.0.0.1/live", handler: hub });
      await player.client.connect();
      const reader = await player.client.play("cam");
      const got: MediaPacket[] = [];
      reader.attach({ packet: (p) => got.push(p), end: () => {} });
      await new Promise((resolve) => setImmediate(resolve));
      expect(got.filter((p) => p.kind === "script").map((p) => p.payload.toString("hex"))).toEqual([
        onMetaData.toString("hex"),
      ]);
    } finally {
      hub.close();
    }
  });
});
