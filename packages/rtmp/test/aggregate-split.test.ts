/**
 * Aggregate messages (type 22): split into their sub-messages with timestamps rebased to the
 * aggregate's, malformed ones refused whole; a publishing session feeds their audio, video and
 * data to the handler and drops a malformed one without closing the publisher.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Handler, MediaPacket, StreamReader } from "@onair/core";
import { FlvDemuxer, type FlvTag } from "@onair/flv";
import { afterAll, describe, expect, it } from "vitest";
import { hasCommand, makeFlvFile, tempDir } from "../../../test-support/media-tools.js";
import { splitAggregate } from "../src/codec/aggregate.js";
import { encodeAmf0 } from "../src/codec/amf0.js";
import { MessageType, type RtmpMessage } from "../src/codec/rtmp-message.js";
import { RtmpErrorCode, RtmpProtocolError } from "../src/errors.js";
import { ServerSession, type SessionTransport } from "../src/session/server-session.js";
import { bytesOf } from "./chunk-vectors.js";

function aggregate(timestamp: number, body: Buffer): RtmpMessage {
  return { chunkStreamId: 6, typeId: MessageType.aggregate, messageStreamId: 1, timestamp, payload: body };
}

/** Two sub-messages: audio at 1000 ms and video at 1020 ms, as Wowza writes them. */
const twoTags = bytesOf(
  "08", //       type 8, audio
  "000002", //   size 2
  "0003e8", //   timestamp 1000 (low 24 bits)
  "00", //       timestamp extended (high 8 bits)
  "000000", //   stream id 0
  "af01", //     body: AAC raw
  "0000000d", // back pointer: 11 + 2
  "09", //       type 9, video
  "000003", //   size 3
  "0003fc", //   timestamp 1020
  "00",
  "000000",
  "270100", //   body: inter frame
  "0000000e", // back pointer: 11 + 3
);

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RtmpProtocolError);
    return (error as RtmpProtocolError).code;
  }
  return undefined;
}

describe("splitAggregate", () => {
  it("splits a byte vector and rebases the first timestamp onto the aggregate's", () => {
    const parts = splitAggregate(aggregate(5000, twoTags));
    expect(parts).toEqual([
      {
        chunkStreamId: 6,
        typeId: 8,
        messageStreamId: 1,
        timestamp: 5000,
        payload: Buffer.from("af01", "hex"),
      },
      {
        chunkStreamId: 6,
        typeId: 9,
        messageStreamId: 1,
        timestamp: 5020,
        payload: Buffer.from("270100", "hex"),
      },
    ]);
    // Views of the aggregate, no copies.
    expect(parts[0].payload.buffer).toBe(twoTags.buffer);
  });

  it("reads the extended timestamp byte as the top 8 bits, and wraps mod 2^32", () => {
    const body = bytesOf("08 000001 000010 01 000000 aa 0000000c", "08 000001 000030 01 000000 bb 0000000c");
    // First sub-message at 0x01000010; the aggregate says 10: offset wraps below zero.
    expect(splitAggregate(aggregate(10, body)).map((m) => m.timestamp)).toEqual([10, 10 + 0x20]);
    expect(splitAggregate(aggregate(0x01000010, body)).map((m) => m.timestamp)).toEqual([
      0x01000010, 0x01000030,
    ]);
    const late = bytesOf("08 000001 fffff0 ff 000000 aa 0000000c", "08 000001 000010 00 000000 bb 0000000c");
    // Sub-messages 0xfffffff0 then 0x10 (wrapped): the distance 0x20 is kept.
    expect(splitAggregate(aggregate(100, late)).map((m) => m.timestamp)).toEqual([100, 100 + 0x20]);
  });

  it("takes a missing last back pointer, and an empty aggregate", () => {
    expect(splitAggregate(aggregate(0, twoTags.subarray(0, twoTags.length - 4)))).toHaveLength(2);
    expect(splitAggregate(aggregate(0, Buffer.alloc(0)))).toEqual([]);
  });

  it("refuses a header cut short, a body longer than what is left, and stray bytes", () => {
    for (let cut = 1; cut < twoTags.length; cut++) {
      const body = twoTags.subarray(0, cut);
      const fits = cut === 13 || cut === 17 || cut === 31 || cut === 35; // after a body or a back pointer
      const code = codeOf(() => splitAggregate(aggregate(0, body)));
      expect(code, `cut at ${cut}`).toBe(fits ? undefined : RtmpErrorCode.aggregate);
    }
    const tooLong = Buffer.from(twoTags);
    tooLong.writeUIntBE(0xffffff, 1, 3);
    expect(codeOf(() => splitAggregate(aggregate(0, tooLong)))).toBe(RtmpErrorCode.aggregate);
  });
});

/** A publishing session over a fake transport, whose handler records the packets. */
function publishingSession(): { session: ServerSession; packets: MediaPacket[]; closed: () => unknown } {
  const packets: MediaPacket[] = [];
  let closedWith: unknown = "open";
  const handler: Handler = {
    handleReader(reader: StreamReader) {
      reader.attach({ packet: (packet) => packets.push(packet), end: () => {} });
    },
    handleWriter(writer) {
      writer.close();
    },
  };
  const transport: SessionTransport = {
    output: { write: () => true, writableLength: 0 },
    chunkSize: 128,
    remoteAddress: "127.0.0.1:5000",
    send: () => {},
    setChunkSize: () => {},
    close: (error) => {
      closedWith = error;
    },
  };
  const session = new ServerSession(transport, { handler });
  const command = (values: unknown[], streamId = 0): RtmpMessage => ({
    chunkStreamId: 3,
    typeId: MessageType.commandAmf0,
    messageStreamId: streamId,
    timestamp: 0,
    payload: encodeAmf0(values as null[]),
  });
  session.handleMessage(command(["connect", 1, { app: "live", tcUrl: "rtmp://127.0.0.1/live" }]));
  session.handleMessage(command(["createStream", 2, null]));
  session.handleMessage(command(["publish", 3, null, "cam", "live"], 1));
  return { session, packets, closed: () => closedWith };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("ServerSession and aggregates", () => {
  it("feeds the audio, video and data of an aggregate to the handler, and drops a malformed one", async () => {
    const { session, packets, closed } = publishingSession();
    await settle();
    const metadata = encodeAmf0(["onMetaData", { width: 320 }]);
    const script = Buffer.alloc(11);
    script[0] = MessageType.dataAmf0;
    script.writeUIntBE(metadata.length, 1, 3);
    const body = Buffer.concat([script, metadata, Buffer.alloc(4), twoTags]);
    session.handleMessage(aggregate(2000, body));
    expect(packets.map((p) => [p.kind, p.timestamp])).toEqual([
      ["script", 2000],
      ["audio", 3000],
      ["video", 3020],
    ]);
    expect(packets[0].payload.equals(metadata)).toBe(true);

    session.handleMessage(aggregate(4000, twoTags.subarray(0, 20)));
    expect(packets).toHaveLength(3);
    session.handleMessage(aggregate(4000, twoTags));
    expect(packets).toHaveLength(5);
    expect(closed()).toBe("open");
  });

  describe("an aggregate built from the tags of a real FLV file (ffmpeg)", () => {
    const dir = tempDir("onair-aggregate-");
    afterAll(() => dir.remove());

    it("gives back every tag with its body and its timestamp moved by the rebase", async () => {
      // An interop test fails, never skips, when ffmpeg is missing.
      expect(hasCommand("ffmpeg"), "ffmpeg is needed for this test").toBe(true);
      const path = join(dir.path, "one-second.flv");
      await makeFlvFile(path, { seconds: 1 });
      const file = readFileSync(path);
      const tags: FlvTag[] = [];
      new FlvDemuxer().push(file, (tag) => tags.push(tag));
      expect(tags.length).toBeGreaterThan(30);
      // After the 9-byte FLV header and the first 4-byte back pointer, an FLV file is exactly an
      // aggregate body: tag header, body, back pointer, again and again.
      const parts = splitAggregate(aggregate(90_000 + tags[0].timestamp, file.subarray(13)));
      expect(parts.map((p) => p.typeId)).toEqual(
        tags.map((t) => ({ audio: 8, video: 9, script: 18 })[t.kind]),
      );
      parts.forEach((part, i) => {
        expect(part.timestamp).toBe(tags[i].timestamp + 90_000);
        expect(part.payload.equals(tags[i].body)).toBe(true);
      });

      const { session, packets } = publishingSession();
      await settle();
      session.handleMessage(aggregate(90_000 + tags[0].timestamp, file.subarray(13)));
      expect(packets).toHaveLength(tags.length);
      expect(packets.filter((p) => p.kind === "video" && p.keyframe).length).toBeGreaterThan(0);
      expect(packets.map((p) => p.timestamp)).toEqual(tags.map((t) => t.timestamp + 90_000));
    });
  });
});
