import { describe, expect, it } from "vitest";
import {
  abortMessage,
  acknowledgementMessage,
  type ControlMessage,
  decodeControlMessage,
  setChunkSizeMessage,
  setPeerBandwidthMessage,
  userControlMessage,
  windowAckSizeMessage,
} from "../src/codec/control-messages.js";
import { MessageType, type RtmpMessage, UserControlEvent } from "../src/codec/rtmp-message.js";
import { RtmpErrorCode, RtmpProtocolError } from "../src/errors.js";

function expectCode(run: () => unknown, code: string): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(RtmpProtocolError);
  expect((caught as RtmpProtocolError).code).toBe(code);
}

function body(typeId: number, hex: string): RtmpMessage {
  return {
    chunkStreamId: 2,
    typeId,
    messageStreamId: 0,
    timestamp: 0,
    payload: Buffer.from(hex.replace(/\s+/g, ""), "hex"),
  };
}

interface ControlVector {
  name: string;
  built: RtmpMessage;
  typeId: number;
  /** The body, big-endian. */
  payload: string;
  decoded: ControlMessage;
}

const vectors: ControlVector[] = [
  {
    name: "Set Chunk Size 4096",
    built: setChunkSizeMessage(4096),
    typeId: 1,
    payload: "00001000", // 0 + 31-bit size
    decoded: { type: "setChunkSize", size: 4096 },
  },
  {
    name: "Set Chunk Size 0x7fffffff, the largest",
    built: setChunkSizeMessage(0x7fffffff),
    typeId: 1,
    payload: "7fffffff",
    decoded: { type: "setChunkSize", size: 0x7fffffff },
  },
  {
    name: "Abort chunk stream 6",
    built: abortMessage(6),
    typeId: 2,
    payload: "00000006",
    decoded: { type: "abort", chunkStreamId: 6 },
  },
  {
    name: "Acknowledgement 0xfffffffe",
    built: acknowledgementMessage(0xfffffffe),
    typeId: 3,
    payload: "fffffffe",
    decoded: { type: "acknowledgement", sequenceNumber: 0xfffffffe },
  },
  {
    name: "Window Acknowledgement Size 2 500 000",
    built: windowAckSizeMessage(2_500_000),
    typeId: 5,
    payload: "002625a0",
    decoded: { type: "windowAckSize", size: 2_500_000 },
  },
  {
    name: "Set Peer Bandwidth 2 500 000, dynamic",
    built: setPeerBandwidthMessage(2_500_000, 2),
    typeId: 6,
    payload: "002625a0 02", // window, limit type 2
    decoded: { type: "setPeerBandwidth", size: 2_500_000, limitType: 2 },
  },
  {
    name: "Set Peer Bandwidth hard",
    built: setPeerBandwidthMessage(5_000_000, 0),
    typeId: 6,
    payload: "004c4b40 00",
    decoded: { type: "setPeerBandwidth", size: 5_000_000, limitType: 0 },
  },
  {
    name: "User Control Stream Begin 1",
    built: userControlMessage(UserControlEvent.streamBegin, 1),
    typeId: 4,
    payload: "0000 00000001", // event 0, stream id
    decoded: { type: "userControl", event: 0, streamId: 1 },
  },
  {
    name: "User Control Stream EOF 1",
    built: userControlMessage(UserControlEvent.streamEof, 1),
    typeId: 4,
    payload: "0001 00000001",
    decoded: { type: "userControl", event: 1, streamId: 1 },
  },
  {
    name: "User Control Stream Dry 3",
    built: userControlMessage(UserControlEvent.streamDry, 3),
    typeId: 4,
    payload: "0002 00000003",
    decoded: { type: "userControl", event: 2, streamId: 3 },
  },
  {
    name: "User Control Set Buffer Length 3000 ms on stream 1",
    built: userControlMessage(UserControlEvent.setBufferLength, 1, 3000),
    typeId: 4,
    payload: "0003 00000001 00000bb8", // event 3, stream id, buffer ms
    decoded: { type: "userControl", event: 3, streamId: 1, extra: 3000 },
  },
  {
    name: "User Control Stream Is Recorded 1",
    built: userControlMessage(UserControlEvent.streamIsRecorded, 1),
    typeId: 4,
    payload: "0004 00000001",
    decoded: { type: "userControl", event: 4, streamId: 1 },
  },
  {
    name: "User Control Ping Request, timestamp in extra",
    built: userControlMessage(UserControlEvent.pingRequest, 0, 123456),
    typeId: 4,
    payload: "0006 0001e240", // event 6, timestamp
    decoded: { type: "userControl", event: 6, streamId: 123456, extra: 123456 },
  },
  {
    name: "User Control Ping Response echoing a decoded ping's streamId",
    built: userControlMessage(UserControlEvent.pingResponse, 123456),
    typeId: 4,
    payload: "0007 0001e240",
    decoded: { type: "userControl", event: 7, streamId: 123456, extra: 123456 },
  },
  {
    name: "User Control unknown event (FMS BufferEmpty 31)",
    built: userControlMessage(31, 1),
    typeId: 4,
    payload: "001f 00000001",
    decoded: { type: "userControl", event: 31, streamId: 1 },
  },
];

describe("control message vectors", () => {
  for (const vector of vectors) {
    it(vector.name, () => {
      const { built } = vector;
      expect(built.chunkStreamId).toBe(2);
      expect(built.messageStreamId).toBe(0);
      expect(built.timestamp).toBe(0);
      expect(built.typeId).toBe(vector.typeId);
      expect(built.payload.toString("hex")).toBe(vector.payload.replace(/\s+/g, ""));
      expect(decodeControlMessage(built)).toEqual(vector.decoded);
    });
  }
});

describe("decodeControlMessage", () => {
  it("ignores bytes after the fields", () => {
    expect(decodeControlMessage(body(1, "00000080 ff"))).toEqual({ type: "setChunkSize", size: 128 });
    expect(decodeControlMessage(body(4, "0000 00000001 ffff"))).toEqual({
      type: "userControl",
      event: 0,
      streamId: 1,
    });
  });

  it("passes unknown user control events on, with a stream id of 0 when there is none", () => {
    expect(decodeControlMessage(body(4, "001a"))).toEqual({ type: "userControl", event: 26, streamId: 0 });
    expect(decodeControlMessage(body(4, "0005 00000009"))).toEqual({
      type: "userControl",
      event: 5,
      streamId: 9,
    });
  });

  it("refuses bodies too short for their fields", () => {
    const short = [
      body(MessageType.setChunkSize, ""),
      body(MessageType.setChunkSize, "000080"),
      body(MessageType.abort, "000006"),
      body(MessageType.acknowledgement, "00"),
      body(MessageType.windowAckSize, "002625"),
      body(MessageType.setPeerBandwidth, "002625a0"),
      body(MessageType.userControl, ""),
      body(MessageType.userControl, "00"),
      body(MessageType.userControl, "0000 000001"),
      body(MessageType.userControl, "0003 00000001 000bb8"),
      body(MessageType.userControl, "0006 0001e2"),
    ];
    for (const message of short) {
      expectCode(() => decodeControlMessage(message), RtmpErrorCode.controlMessage);
    }
  });

  it("refuses bad values and non-control types", () => {
    expectCode(() => decodeControlMessage(body(1, "00000000")), RtmpErrorCode.controlMessage);
    expectCode(() => decodeControlMessage(body(1, "80000000")), RtmpErrorCode.controlMessage);
    expectCode(() => decodeControlMessage(body(6, "002625a0 03")), RtmpErrorCode.controlMessage);
    expectCode(() => decodeControlMessage(body(MessageType.audio, "00000000")), RtmpErrorCode.controlMessage);
  });
});

describe("control message builders refuse what the body cannot carry", () => {
  it("chunk size outside 1..0x7fffffff", () => {
    for (const size of [0, -1, 0x80000000, 1.5, Number.NaN]) {
      expectCode(() => setChunkSizeMessage(size), RtmpErrorCode.chunkSize);
    }
  });

  it("numbers that are not unsigned 32-bit", () => {
    expectCode(() => abortMessage(-1), RtmpErrorCode.controlMessage);
    expectCode(() => acknowledgementMessage(0x100000000), RtmpErrorCode.controlMessage);
    expectCode(() => windowAckSizeMessage(1.5), RtmpErrorCode.controlMessage);
    expectCode(() => setPeerBandwidthMessage(-5, 2), RtmpErrorCode.controlMessage);
    expectCode(() => setPeerBandwidthMessage(5, 3 as 2), RtmpErrorCode.controlMessage);
    expectCode(() => userControlMessage(0x10000, 1), RtmpErrorCode.controlMessage);
    expectCode(() => userControlMessage(0, -1), RtmpErrorCode.controlMessage);
    expectCode(() => userControlMessage(3, 1, -1), RtmpErrorCode.controlMessage);
  });

  it("Set Buffer Length defaults to 0 ms; extra is ignored by other events", () => {
    expect(userControlMessage(3, 1).payload.toString("hex")).toBe("00030000000100000000");
    expect(userControlMessage(0, 1, 99).payload.toString("hex")).toBe("000000000001");
  });
});
