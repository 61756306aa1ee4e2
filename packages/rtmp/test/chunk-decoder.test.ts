import { describe, expect, it } from "vitest";
import { seededRandom as random } from "../../../test-support/seeded-random.js";
import { ChunkDecoder, type ChunkDecoderOptions } from "../src/codec/chunk-decoder.js";
import { ChunkEncoder, encodeChunks } from "../src/codec/chunk-encoder.js";
import { abortMessage, setChunkSizeMessage } from "../src/codec/control-messages.js";
import { MAX_CHUNK_SIZE, type RtmpMessage } from "../src/codec/rtmp-message.js";
import { RtmpErrorCode, RtmpProtocolError } from "../src/errors.js";
import { bytesOf, chunkVectors, pattern } from "./chunk-vectors.js";

/** Decode `pieces` pushed one after another, after a Set Chunk Size if the bytes start at another chunk size. */
function decode(pieces: Buffer[], options?: ChunkDecoderOptions, chunkSize = 128): RtmpMessage[] {
  const decoder = new ChunkDecoder(options);
  if (chunkSize !== 128) decoder.push(encodeChunks(setChunkSizeMessage(chunkSize), 128), () => {});
  const messages: RtmpMessage[] = [];
  for (const piece of pieces) decoder.push(piece, (message) => messages.push(message));
  return messages;
}

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

describe("ChunkDecoder golden vectors", () => {
  for (const vector of chunkVectors) {
    describe(vector.name, () => {
      it("decodes in one push", () => {
        expect(decode([vector.bytes], {}, vector.chunkSize)).toEqual(vector.messages);
      });

      it("decodes split at every byte offset", () => {
        for (let split = 1; split < vector.bytes.length; split++) {
          const pieces = [vector.bytes.subarray(0, split), vector.bytes.subarray(split)];
          expect(decode(pieces, {}, vector.chunkSize), `split at ${split}`).toEqual(vector.messages);
        }
      });

      it("decodes byte by byte", () => {
        const pieces = Array.from(vector.bytes, (byte) => Buffer.from([byte]));
        expect(decode(pieces, {}, vector.chunkSize)).toEqual(vector.messages);
      });

      it("counts every byte received", () => {
        const decoder = new ChunkDecoder();
        const start = encodeChunks(setChunkSizeMessage(vector.chunkSize), 128);
        decoder.push(start, () => {});
        decoder.push(vector.bytes.subarray(0, 5), () => {});
        decoder.push(vector.bytes.subarray(5), () => {});
        expect(decoder.bytesReceived).toBe(start.length + vector.bytes.length);
        expect(decoder.bufferedBytes).toBe(0);
      });
    });
  }
});

describe("ChunkDecoder", () => {
  it("starts at chunk size 128 and follows Set Chunk Size", () => {
    const decoder = new ChunkDecoder();
    expect(decoder.chunkSize).toBe(128);
    const sizes: number[] = [];
    decoder.push(encodeChunks(setChunkSizeMessage(MAX_CHUNK_SIZE), 128), () => sizes.push(decoder.chunkSize));
    expect(sizes).toEqual([MAX_CHUNK_SIZE]);
    expect(decoder.chunkSize).toBe(MAX_CHUNK_SIZE);
  });

  it("delivers a message that lies whole in one chunk as a view of the input, without a copy", () => {
    const bytes = encodeChunks(
      { chunkStreamId: 6, typeId: 9, messageStreamId: 1, timestamp: 0, payload: pattern(100, 1) },
      128,
    );
    const [message] = decode([bytes]);
    expect(message.payload.buffer).toBe(bytes.buffer);
    expect(message.payload.byteOffset).toBe(bytes.byteOffset + 12);
  });

  it("allocates exactly the message length for a message spanning chunks", () => {
    const payload = pattern(5000, 2); // above Node's 4 KiB pool threshold, so the ArrayBuffer is its own
    const bytes = encodeChunks(
      { chunkStreamId: 6, typeId: 9, messageStreamId: 1, timestamp: 0, payload },
      128,
    );
    const [message] = decode([bytes]);
    expect(message.payload).toEqual(payload);
    expect(message.payload.buffer.byteLength).toBe(5000);
  });

  it("keeps a chunk header split across pushes, one byte at a time, for every header form", () => {
    const message: RtmpMessage = {
      chunkStreamId: 65599,
      typeId: 9,
      messageStreamId: 7,
      timestamp: 0x7fffffff,
      payload: pattern(300, 3),
    };
    const bytes = encodeChunks(message, 100);
    const decoder = new ChunkDecoder();
    const out: RtmpMessage[] = [];
    decoder.push(encodeChunks(setChunkSizeMessage(100), 128), () => {});
    for (const byte of bytes) {
      decoder.push(Buffer.from([byte]), (m) => out.push(m));
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(300 + 18);
    }
    expect(out).toEqual([message]);
  });

  it("wraps timestamps mod 2^32 when deltas add up", () => {
    const bytes = bytesOf("04 ffffff 000001 08 01000000 fffffff0 61", "84 000020 62");
    const timestamps = decode([bytes]).map((m) => m.timestamp);
    expect(timestamps).toEqual([0xfffffff0, 0x10]);
  });

  it("takes the delta of a type 3 new message from its extended timestamp", () => {
    // Type 1 with extended delta 0x01000000, then a type 3 new message whose extended field says 0x01000005.
    const bytes = bytesOf(
      "04 000000 000001 08 01000000 61",
      "44 ffffff 000001 08 01000000 62",
      "c4 01000005 63",
    );
    expect(decode([bytes]).map((m) => m.timestamp)).toEqual([0, 0x01000000, 0x02000005]);
  });

  it("applies Abort also when the aborted chunk stream is idle or unknown", () => {
    const bytes = Buffer.concat([encodeChunks(abortMessage(9), 128), encodeChunks(abortMessage(2), 128)]);
    expect(decode([bytes]).map((m) => m.typeId)).toEqual([2, 2]);
  });

  describe("errors", () => {
    it("Set Chunk Size of 0 or with the top bit set", () => {
      for (const size of [0, 0x80000000, 0xffffffff]) {
        const bytes = encodeChunks(setChunkSizeMessage(1), 128);
        bytes.writeUInt32BE(size, bytes.length - 4);
        expectCode(() => decode([bytes]), RtmpErrorCode.chunkSize);
      }
    });

    it("Set Chunk Size or Abort with a short body", () => {
      expectCode(() => decode([bytesOf("02 000000 000002 01 00000000 0001")]), RtmpErrorCode.controlMessage);
      expectCode(() => decode([bytesOf("02 000000 000000 02 00000000")]), RtmpErrorCode.controlMessage);
    });

    it("a message over maxMessageSize, as soon as its header is read", () => {
      const header = bytesOf("06 000000 0003e9 09 01000000"); // 1001 bytes announced, none sent
      expectCode(() => decode([header], { maxMessageSize: 1000 }), RtmpErrorCode.messageSize);
      expect(decode([bytesOf("06 000000 0003e8 09 01000000")], { maxMessageSize: 1000 })).toEqual([]);
      // A type 1 header counts too.
      const type1 = bytesOf("06 000000 000001 09 01000000 00", "46 000000 0003e9 09");
      expectCode(() => decode([type1], { maxMessageSize: 1000 }), RtmpErrorCode.messageSize);
    });

    it("the 16 MiB default bounds the largest length a header can announce", () => {
      expect(decode([bytesOf("06 000000 ffffff 09 01000000")])).toEqual([]);
    });

    it("more chunk streams than maxChunkStreams", () => {
      const chunk = (csid: number) =>
        encodeChunks(
          { chunkStreamId: csid, typeId: 8, messageStreamId: 1, timestamp: 0, payload: Buffer.from("a") },
          128,
        );
      expect(decode([chunk(3), chunk(4), chunk(5), chunk(3)], { maxChunkStreams: 3 })).toHaveLength(4);
      expectCode(
        () => decode([chunk(3), chunk(4), chunk(5), chunk(6)], { maxChunkStreams: 3 }),
        RtmpErrorCode.chunkStreams,
      );
      expectCode(
        () => decode(Array.from({ length: 65 }, (_, i) => chunk(3 + i))),
        RtmpErrorCode.chunkStreams,
      );
    });

    it("a type 1, 2 or 3 first chunk on a chunk stream", () => {
      expectCode(() => decode([bytesOf("43 000000 000001 14 00")]), RtmpErrorCode.chunkHeader);
      expectCode(() => decode([bytesOf("83 000000 00")]), RtmpErrorCode.chunkHeader);
      expectCode(() => decode([bytesOf("c3 00")]), RtmpErrorCode.chunkHeader);
      expectCode(() => decode([bytesOf("80 00 000000")]), RtmpErrorCode.chunkHeader);
      // Only type 1 on chunk stream 2 is let through (librtmp).
      expectCode(() => decode([bytesOf("82 000000 00")]), RtmpErrorCode.chunkHeader);
    });

    it("a new message header in the middle of a message", () => {
      const bytes = bytesOf(
        "03 000000 0000c8 14 00000000",
        pattern(128, 1),
        "03 000000 000001 14 00000000 00",
      );
      expectCode(() => decode([bytes]), RtmpErrorCode.chunkHeader);
      const type2 = bytesOf("03 000000 0000c8 14 00000000", pattern(128, 1), "83 000000");
      expectCode(() => decode([type2]), RtmpErrorCode.chunkHeader);
    });

    it("bad options", () => {
      expect(() => new ChunkDecoder({ maxMessageSize: 0 })).toThrow(RangeError);
      expect(() => new ChunkDecoder({ maxChunkStreams: Number.NaN })).toThrow(RangeError);
    });
  });
});

describe("round trip: encoders → ChunkDecoder", () => {
  const CHUNK_SIZES = [1, 2, 3, 127, 128, 129, 4096, 65536, MAX_CHUNK_SIZE];

  function randomMessages(next: () => number, count: number): RtmpMessage[] {
    const pool = [2, 3, 4, 5, 6, 8, 63, 64, 200, 319, 320, 1000, 65599];
    const clocks = new Map<number, number>();
    const messages: RtmpMessage[] = [];
    for (let i = 0; i < count; i++) {
      const chunkStreamId = pool[Math.floor(next() * pool.length)];
      let timestamp = clocks.get(chunkStreamId) ?? Math.floor(next() * 1000);
      const roll = next();
      if (roll < 0.5) timestamp += [0, 20, 23, 40][Math.floor(next() * 4)];
      else if (roll < 0.6) timestamp += 0xffffff + Math.floor(next() * 100);
      else if (roll < 0.7) timestamp = 0xffffffff - Math.floor(next() * 50);
      else if (roll < 0.8) timestamp = Math.floor(next() * 0x100000000);
      else if (roll < 0.9) timestamp -= Math.floor(next() * 100);
      timestamp = timestamp >>> 0;
      clocks.set(chunkStreamId, timestamp);
      const sizeRoll = next();
      const size =
        sizeRoll < 0.1 ? 0 : sizeRoll < 0.8 ? Math.floor(next() * 300) : Math.floor(next() * 100_001);
      const typeId = [3, 4, 5, 6, 8, 9, 15, 17, 18, 20, 22, 255][Math.floor(next() * 12)];
      const messageStreamId = next() < 0.8 ? Math.floor(next() * 3) : Math.floor(next() * 0x100000000);
      messages.push({ chunkStreamId, typeId, messageStreamId, timestamp, payload: pattern(size, i) });
    }
    return messages;
  }

  /** Encode with Set Chunk Size messages interleaved; returns the bytes and what the decoder must deliver. */
  function encodeAll(
    next: () => number,
    messages: RtmpMessage[],
    mode: "ChunkEncoder" | "encodeChunks" | "mixed",
  ): { bytes: Buffer; expected: RtmpMessage[] } {
    const encoder = new ChunkEncoder();
    let chunkSize = 128;
    const parts: Buffer[] = [];
    const expected: RtmpMessage[] = [];
    const send = (message: RtmpMessage, shared: boolean) => {
      if (shared) {
        parts.push(encodeChunks(message, chunkSize));
        encoder.reset(message.chunkStreamId);
      } else {
        parts.push(encoder.encode(message));
      }
      expected.push(message);
    };
    for (const message of messages) {
      if (next() < 0.15) {
        const size = next() < 0.3 ? MAX_CHUNK_SIZE : CHUNK_SIZES[Math.floor(next() * CHUNK_SIZES.length)];
        send(setChunkSizeMessage(size), mode === "encodeChunks");
        chunkSize = size;
        encoder.chunkSize = size;
      }
      send(message, mode === "encodeChunks" || (mode === "mixed" && next() < 0.5));
    }
    return { bytes: Buffer.concat(parts), expected };
  }

  /** Push `bytes` in random pieces. */
  function decodeInPieces(next: () => number, bytes: Buffer): RtmpMessage[] {
    const pieces: Buffer[] = [];
    for (let at = 0; at < bytes.length; ) {
      const length = next() < 0.3 ? 1 + Math.floor(next() * 20) : 1 + Math.floor(next() * 70_000);
      pieces.push(bytes.subarray(at, at + length));
      at += length;
    }
    return decode(pieces);
  }

  for (const mode of ["ChunkEncoder", "encodeChunks", "mixed"] as const) {
    it(`${mode}: random messages, chunk sizes and splits`, () => {
      for (let seed = 1; seed <= 30; seed++) {
        const next = random(seed);
        const messages = randomMessages(next, 60);
        const { bytes, expected } = encodeAll(next, messages, mode);
        const decoded = decodeInPieces(next, bytes);
        expect(decoded.length, `seed ${seed}`).toBe(expected.length);
        for (let i = 0; i < expected.length; i++) {
          // Buffer.equals: toEqual walks a 100 kB Buffer element by element.
          const { payload, ...header } = decoded[i];
          const { payload: expectedPayload, ...expectedHeader } = expected[i];
          expect(header, `seed ${seed}, message ${i}`).toEqual(expectedHeader);
          expect(payload.equals(expectedPayload), `seed ${seed}, message ${i} payload`).toBe(true);
        }
      }
    });
  }
});
