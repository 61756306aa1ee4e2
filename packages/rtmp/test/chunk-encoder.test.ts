import { describe, expect, it } from "vitest";
import { ChunkDecoder } from "../src/codec/chunk-decoder.js";
import { ChunkEncoder, encodeChunks } from "../src/codec/chunk-encoder.js";
import { MAX_CHUNK_SIZE, MessageType, type RtmpMessage } from "../src/codec/rtmp-message.js";
import { RtmpErrorCode, RtmpProtocolError } from "../src/errors.js";
import { bytesOf, chunkVectors, pattern } from "./chunk-vectors.js";

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

/** The chunk size after `message` is sent at `chunkSize`. */
function chunkSizeAfter(message: RtmpMessage, chunkSize: number): number {
  return message.typeId === MessageType.setChunkSize ? message.payload.readUInt32BE(0) : chunkSize;
}

function message(
  chunkStreamId: number,
  timestamp: number,
  payload: Buffer,
  typeId = 9,
  messageStreamId = 1,
): RtmpMessage {
  return { chunkStreamId, typeId, messageStreamId, timestamp, payload };
}

/** The fmt bits of the first byte. */
const formatOf = (bytes: Buffer) => bytes[0] >>> 6;

describe("encodeChunks reproduces the type 0 golden vectors", () => {
  for (const vector of chunkVectors.filter((v) => v.encoder === "encodeChunks" || v.encoder === "both")) {
    it(vector.name, () => {
      let chunkSize = vector.chunkSize;
      const parts = vector.messages.map((m) => {
        const bytes = encodeChunks(m, chunkSize);
        chunkSize = chunkSizeAfter(m, chunkSize);
        return bytes;
      });
      expect(Buffer.concat(parts).toString("hex")).toBe(vector.bytes.toString("hex"));
    });
  }
});

describe("ChunkEncoder reproduces the compressed golden vectors", () => {
  for (const vector of chunkVectors.filter((v) => v.encoder === "ChunkEncoder" || v.encoder === "both")) {
    it(vector.name, () => {
      const encoder = new ChunkEncoder({ chunkSize: vector.chunkSize });
      const parts = vector.messages.map((m) => {
        const bytes = encoder.encode(m);
        encoder.chunkSize = chunkSizeAfter(m, encoder.chunkSize);
        return bytes;
      });
      expect(Buffer.concat(parts).toString("hex")).toBe(vector.bytes.toString("hex"));
    });
  }
});

describe("encodeChunks", () => {
  it("writes the same bytes whatever came before (shareable)", () => {
    const m = message(6, 5000, pattern(500, 1));
    const first = encodeChunks(m, 128);
    encodeChunks(message(6, 1000, pattern(10, 2)), 128);
    expect(encodeChunks(m, 128)).toEqual(first);
  });

  it("sizes the output exactly: headers + payload, no slack", () => {
    // 300 bytes at 100: type 0 (12) + 2 continuations (1 + 4 extended each) + extended (4) + payload.
    const bytes = encodeChunks(message(6, 0x1000000, pattern(300, 3)), 100);
    expect(bytes.length).toBe(12 + 4 + 300 + 2 * 5);
  });

  it("takes timestamps mod 2^32", () => {
    const bytes = encodeChunks(message(4, 0x100000005, Buffer.from("a")), 128);
    expect(bytes.subarray(0, 4).toString("hex")).toBe("04000005");
  });

  it("refuses what a chunk header cannot carry", () => {
    const ok = message(4, 0, Buffer.from("a"));
    expectCode(() => encodeChunks(ok, 0), RtmpErrorCode.chunkSize);
    expectCode(() => encodeChunks(ok, MAX_CHUNK_SIZE + 1), RtmpErrorCode.chunkSize);
    expectCode(() => encodeChunks(ok, 1.5), RtmpErrorCode.chunkSize);
    expectCode(() => encodeChunks({ ...ok, chunkStreamId: 1 }, 128), RtmpErrorCode.chunkHeader);
    expectCode(() => encodeChunks({ ...ok, chunkStreamId: 65600 }, 128), RtmpErrorCode.chunkHeader);
    expectCode(() => encodeChunks({ ...ok, typeId: 256 }, 128), RtmpErrorCode.chunkHeader);
    expectCode(() => encodeChunks({ ...ok, messageStreamId: -1 }, 128), RtmpErrorCode.chunkHeader);
    expectCode(
      () => encodeChunks({ ...ok, payload: Buffer.alloc(0x1000000) }, 128),
      RtmpErrorCode.messageSize,
    );
    expect(encodeChunks({ ...ok, payload: Buffer.alloc(0xffffff) }, MAX_CHUNK_SIZE).length).toBe(
      12 + 0xffffff,
    );
  });
});

describe("ChunkEncoder header choice", () => {
  it("type 0 first, then 1, 2, 3 as fields repeat", () => {
    const encoder = new ChunkEncoder();
    const formats = [
      message(6, 0, pattern(10, 1)), //        new chunk stream: 0
      message(6, 40, pattern(20, 2)), //       new length: 1
      message(6, 80, pattern(20, 3)), //       same length and type, delta 40 again but last delta from type 1: 3
      message(6, 100, pattern(20, 4)), //      delta 20: 2
      message(6, 120, pattern(20, 5)), //      delta 20 again: 3
      message(6, 120, pattern(20, 6), 8), //   other type: 1
    ].map((m) => formatOf(encoder.encode(m)));
    expect(formats).toEqual([0, 1, 3, 2, 3, 1]);
  });

  it("type 0 for another message stream, a timestamp going back, or wrapping", () => {
    const encoder = new ChunkEncoder();
    encoder.encode(message(6, 1000, pattern(10, 1)));
    expect(formatOf(encoder.encode(message(6, 1040, pattern(10, 1), 9, 2)))).toBe(0);
    expect(formatOf(encoder.encode(message(6, 1000, pattern(10, 1), 9, 2)))).toBe(0);
    encoder.encode(message(6, 0xfffffff0, pattern(10, 1), 9, 2));
    expect(formatOf(encoder.encode(message(6, 0x10, pattern(10, 1), 9, 2)))).toBe(0);
  });

  it("no type 3 new message straight after a type 0 (decoders disagree on its delta)", () => {
    const encoder = new ChunkEncoder();
    encoder.encode(message(4, 20, pattern(10, 1)));
    expect(formatOf(encoder.encode(message(4, 40, pattern(10, 1))))).toBe(2);
  });

  it("keeps chunk streams apart", () => {
    const encoder = new ChunkEncoder();
    encoder.encode(message(4, 0, pattern(10, 1), 8));
    expect(formatOf(encoder.encode(message(6, 0, pattern(10, 1))))).toBe(0);
    expect(formatOf(encoder.encode(message(4, 20, pattern(10, 1), 8)))).toBe(2);
  });

  it("reset forgets one chunk stream or all", () => {
    const encoder = new ChunkEncoder();
    encoder.encode(message(4, 0, pattern(10, 1)));
    encoder.encode(message(6, 0, pattern(10, 1)));
    encoder.reset(4);
    expect(formatOf(encoder.encode(message(4, 20, pattern(10, 1))))).toBe(0);
    expect(formatOf(encoder.encode(message(6, 20, pattern(10, 1))))).toBe(2);
    encoder.reset();
    expect(formatOf(encoder.encode(message(4, 40, pattern(10, 1))))).toBe(0);
    expect(formatOf(encoder.encode(message(6, 40, pattern(10, 1))))).toBe(0);
  });

  it("shared type 0 bytes interleaved on a chunk stream decode right after reset", () => {
    const encoder = new ChunkEncoder();
    const decoder = new ChunkDecoder();
    const out: number[] = [];
    const push = (bytes: Buffer) => decoder.push(bytes, (m) => out.push(m.timestamp));
    push(encoder.encode(message(6, 0, pattern(10, 1))));
    push(encoder.encode(message(6, 40, pattern(10, 1))));
    push(encodeChunks(message(6, 5000, pattern(10, 1)), 128));
    encoder.reset(6);
    push(encoder.encode(message(6, 5040, pattern(10, 1))));
    expect(out).toEqual([0, 40, 5000, 5040]);
  });

  it("uses a new chunk size from the next message on", () => {
    const encoder = new ChunkEncoder({ chunkSize: 4 });
    expect(encoder.encode(message(3, 0, pattern(6, 1))).length).toBe(12 + 6 + 1);
    encoder.chunkSize = 6;
    expect(encoder.encode(message(3, 0, pattern(6, 1))).length).toBe(4 + 6);
  });

  it("refuses a bad chunk size", () => {
    expectCode(() => new ChunkEncoder({ chunkSize: 0 }), RtmpErrorCode.chunkSize);
    const encoder = new ChunkEncoder();
    expect(encoder.chunkSize).toBe(128);
    expectCode(() => {
      encoder.chunkSize = 0x80000000;
    }, RtmpErrorCode.chunkSize);
    expect(encoder.chunkSize).toBe(128);
  });

  it("writes an extended delta on a type 1 header and its continuations", () => {
    const encoder = new ChunkEncoder({ chunkSize: 2 });
    encoder.encode(message(5, 0, Buffer.from("a")));
    expect(encoder.encode(message(5, 0x1000000, Buffer.from("bcd"))).toString("hex")).toBe(
      bytesOf("45 ffffff 000003 09 01000000", "6263", "c5 01000000", "64").toString("hex"),
    );
  });
});
