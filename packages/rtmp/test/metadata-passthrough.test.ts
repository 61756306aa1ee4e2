/**
 * Data messages become FLV script tags byte-exact: "@setDataFrame" is stripped by offset, the rest
 * (an ECMA array stays an ECMA array) is passed on untouched, and one that does not start with an
 * AMF0 string is dropped while the publisher goes on.
 */
import { type Handler, type MediaPacket, StreamHub, type StreamReader, type StreamWriter } from "@onair/core";
import { describe, expect, it } from "vitest";
import { encodeAmf0 } from "../src/codec/amf0.js";
import { MessageType, type RtmpMessage } from "../src/codec/rtmp-message.js";
import { scriptTagBody } from "../src/codec/script-data.js";
import { RtmpErrorCode, RtmpProtocolError } from "../src/errors.js";
import { ServerSession, type SessionTransport } from "../src/session/server-session.js";
import { bytesOf } from "./chunk-vectors.js";

const setDataFrame = bytesOf("02 000d", Buffer.from("@setDataFrame")); // AMF0 string, length 13
/** "onMetaData", ECMA array { width: 320, height: 240 }, as ffmpeg writes it. */
const onMetaData = bytesOf(
  "02 000a",
  Buffer.from("onMetaData"),
  "08 00000002", //                        ECMA array, 2 entries (a count hint)
  "0005",
  Buffer.from("width"),
  "00 4074000000000000", //                number 320
  "0006",
  Buffer.from("height"),
  "00 406e000000000000", //                number 240
  "000009", //                             object end
);

function data(payload: Buffer, typeId: number = MessageType.dataAmf0, timestamp = 0): RtmpMessage {
  return { chunkStreamId: 5, typeId, messageStreamId: 1, timestamp, payload };
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RtmpProtocolError);
    return (error as RtmpProtocolError).code;
  }
  return undefined;
}

describe("scriptTagBody", () => {
  it("strips @setDataFrame by offset and leaves an ECMA array byte for byte", () => {
    const body = scriptTagBody(data(Buffer.concat([setDataFrame, onMetaData])));
    expect(body.equals(onMetaData)).toBe(true);
    expect(body[13]).toBe(0x08); // still an ECMA array, not re-encoded as an object (0x03)
  });

  it("passes other data messages on as they are", () => {
    const text = encodeAmf0(["onTextData", { text: "hi" }]);
    expect(scriptTagBody(data(text))).toBe(text);
    expect(scriptTagBody(data(onMetaData)).equals(onMetaData)).toBe(true);
  });

  it("drops the format byte of a type 15 (AMF3) data message", () => {
    const body = scriptTagBody(
      data(Buffer.concat([Buffer.from([0]), setDataFrame, onMetaData]), MessageType.dataAmf3),
    );
    expect(body.equals(onMetaData)).toBe(true);
    // Without the format byte too.
    expect(scriptTagBody(data(onMetaData, MessageType.dataAmf3)).equals(onMetaData)).toBe(true);
  });

  it("does not decode the rest: an ECMA array without its end marker goes through", () => {
    const noEnd = onMetaData.subarray(0, onMetaData.length - 3);
    expect(scriptTagBody(data(Buffer.concat([setDataFrame, noEnd]))).equals(noEnd)).toBe(true);
  });

  it("refuses a body that does not start with a whole AMF0 string", () => {
    expect(codeOf(() => scriptTagBody(data(encodeAmf0([1, "onMetaData"]))))).toBe(RtmpErrorCode.amfType);
    expect(codeOf(() => scriptTagBody(data(Buffer.alloc(0))))).toBe(RtmpErrorCode.amfTruncated);
    for (let cut = 1; cut < setDataFrame.length; cut++) {
      expect(codeOf(() => scriptTagBody(data(setDataFrame.subarray(0, cut))))).toBe(
        RtmpErrorCode.amfTruncated,
      );
    }
    // @setDataFrame followed by nothing, by a cut name, or by a non-string.
    expect(codeOf(() => scriptTagBody(data(setDataFrame)))).toBe(RtmpErrorCode.amfTruncated);
    const cutName = Buffer.concat([setDataFrame, onMetaData.subarray(0, 8)]);
    expect(codeOf(() => scriptTagBody(data(cutName)))).toBe(RtmpErrorCode.amfTruncated);
    const numberNext = Buffer.concat([setDataFrame, encodeAmf0([5])]);
    expect(codeOf(() => scriptTagBody(data(numberNext)))).toBe(RtmpErrorCode.amfType);
  });
});

function command(values: unknown[], streamId = 0): RtmpMessage {
  return {
    chunkStreamId: 3,
    typeId: MessageType.commandAmf0,
    messageStreamId: streamId,
    timestamp: 0,
    payload: encodeAmf0(values as null[]),
  };
}

function session(handler: Handler): { session: ServerSession; closed: () => unknown } {
  let closedWith: unknown = "open";
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
  const created = new ServerSession(transport, { handler });
  created.handleMessage(command(["connect", 1, { app: "live", tcUrl: "rtmp://127.0.0.1/live" }]));
  created.handleMessage(command(["createStream", 2, null]));
  created.handleMessage(command(["publish", 3, null, "cam", "live"], 1));
  return { session: created, closed: () => closedWith };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("ServerSession metadata", () => {
  it("hands the handler the metadata byte-identical, and drops a bad one without closing the publisher", async () => {
    const packets: MediaPacket[] = [];
    const recorder: Handler = {
      handleReader: (reader: StreamReader) =>
        reader.attach({ packet: (p) => packets.push(p), end: () => {} }),
      handleWriter: (writer) => writer.close(),
    };
    const { session: publisher, closed } = session(recorder);
    await settle();
    publisher.handleMessage(data(Buffer.concat([setDataFrame, onMetaData])));
    expect(packets).toHaveLength(1);
    expect(packets[0].kind).toBe("script");
    expect(packets[0].payload.equals(onMetaData)).toBe(true);

    // A name cut short: dropped. Then the publisher goes on.
    publisher.handleMessage(data(Buffer.concat([setDataFrame, onMetaData.subarray(0, 6)])));
    publisher.handleMessage(data(Buffer.from([0x05]))); // AMF0 null: no name
    expect(packets).toHaveLength(1);
    publisher.handleMessage({ ...data(Buffer.from([0x17, 1, 0, 0, 0, 9])), typeId: MessageType.video });
    expect(packets.map((p) => p.kind)).toEqual(["script", "video"]);
    expect(closed()).toBe("open");
  });

  it("the hub keeps it as the stream's metadata (ECMA array intact) for a player that joins", async () => {
    const hub = new StreamHub();
    const { session: publisher, closed } = session(hub);
    await settle();
    const noEnd = onMetaData.subarray(0, onMetaData.length - 3); // used to close the publisher
    publisher.handleMessage(data(Buffer.concat([setDataFrame, noEnd])));
    publisher.handleMessage(data(Buffer.concat([setDataFrame, onMetaData])));
    expect(closed()).toBe("open");
    const written: MediaPacket[] = [];
    const player: StreamWriter = {
      info: { key: "live/cam", app: "live", name: "cam", url: "", id: "player" },
      start: () => {},
      write: (packet) => written.push(packet),
      flush: () => {},
      bufferedBytes: 0,
      close: () => {},
      onClose: () => {},
    };
    hub.handleWriter(player);
    await settle();
    const scripts = written.filter((p) => p.kind === "script");
    expect(scripts).toHaveLength(1);
    expect(scripts[0].payload.equals(onMetaData)).toBe(true);
  });
});
