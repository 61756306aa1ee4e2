/**
 * What partial messages cost: memory is taken as bytes arrive, never on an announced length, and
 * it is bounded per decoder (`maxBufferedBytes`) and across decoders (a shared `ByteBudget`), and
 * given back when a message completes, is aborted, or the decoder is disposed.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { ByteBudget } from "@onair/core";
import { describe, expect, it } from "vitest";
import { ChunkDecoder, type ChunkDecoderOptions } from "../src/codec/chunk-decoder.js";
import { encodeChunks } from "../src/codec/chunk-encoder.js";
import { abortMessage, setChunkSizeMessage } from "../src/codec/control-messages.js";
import { MAX_CHUNK_SIZE, type RtmpMessage } from "../src/codec/rtmp-message.js";
import { RtmpErrorCode, RtmpProtocolError } from "../src/errors.js";
import { pattern } from "./chunk-vectors.js";

const SIXTEEN_MB = 0xffffff; // the largest length a header can announce, under the 16 MiB default

/** A type 0 header on `chunkStreamId` announcing a video message of `length` bytes. */
function header(chunkStreamId: number, length: number): Buffer {
  const bytes = Buffer.from([chunkStreamId, 0, 0, 0, 0, 0, 0, 9, 1, 0, 0, 0]);
  bytes.writeUIntBE(length, 4, 3);
  return bytes;
}

/** A decoder whose chunk size is 0x7fffffff, so pushed bytes after a header are all payload. */
function bigChunkDecoder(options: ChunkDecoderOptions = {}): ChunkDecoder {
  const decoder = new ChunkDecoder(options);
  decoder.push(encodeChunks(setChunkSizeMessage(MAX_CHUNK_SIZE), 128), () => {});
  return decoder;
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

describe("ChunkDecoder memory", () => {
  it("a 16 MB message trickled in costs only the bytes received, and they come back on dispose", () => {
    const budget = new ByteBudget(256 * 1024 * 1024);
    const decoder = bigChunkDecoder({ budget });
    decoder.push(header(6, SIXTEEN_MB), () => {});
    expect(decoder.bufferedBytes).toBe(0);
    let received = 0;
    for (const size of [1, 1, 1, 7, 100, 1000, 10, 1]) {
      for (let i = 0; i < 200; i++) {
        decoder.push(pattern(size, i), () => expect.unreachable("the message is not complete"));
        received += size;
        expect(decoder.bufferedBytes).toBeGreaterThanOrEqual(received);
        expect(decoder.bufferedBytes).toBeLessThanOrEqual(2 * received);
        expect(budget.used).toBe(decoder.bufferedBytes);
      }
    }
    expect(received).toBeLessThan(250_000);
    decoder.dispose();
    expect(decoder.bufferedBytes).toBe(0);
    expect(budget.used).toBe(0);
    decoder.dispose(); // idempotent
    expect(budget.used).toBe(0);
    expect(() => decoder.push(Buffer.from([0]), () => {})).toThrow("after dispose");
  });

  it("64 chunk streams each announcing 16 MB hold only what each received", () => {
    const budget = new ByteBudget(256 * 1024 * 1024);
    const decoder = new ChunkDecoder({ budget });
    // Chunk size 100 (sent on chunk stream 2, the first of the 64): chunk streams take turns.
    decoder.push(encodeChunks(setChunkSizeMessage(100), 128), () => {});
    const csids = [...Array.from({ length: 60 }, (_, i) => 3 + i), 64, 65, 66]; // 1- and 2-byte basic headers
    const basicHeader = (format: number, csid: number) =>
      Buffer.from(csid < 64 ? [(format << 6) | csid] : [format << 6, csid - 64]);
    const announce = (csid: number) =>
      Buffer.concat([basicHeader(0, csid), header(0, SIXTEEN_MB).subarray(1)]);
    let received = 0;
    for (const csid of csids) {
      decoder.push(Buffer.concat([announce(csid), pattern(100, csid)]), () => expect.unreachable());
      received += 100;
    }
    for (let round = 0; round < 3; round++) {
      for (const csid of csids) {
        decoder.push(Buffer.concat([basicHeader(3, csid), pattern(100, round)]), () => expect.unreachable());
        received += 100;
      }
    }
    // One more chunk, byte by byte.
    decoder.push(basicHeader(3, 3), () => {});
    for (let i = 0; i < 100; i++) decoder.push(Buffer.from([i]), () => {});
    received += 100;
    expect(received).toBe(63 * 400 + 100);
    expect(decoder.bufferedBytes).toBeGreaterThanOrEqual(received);
    expect(decoder.bufferedBytes).toBeLessThanOrEqual(2 * received);
    expect(budget.used).toBe(decoder.bufferedBytes);
    // All 64 chunk streams are open: a 65th is refused.
    expect(codeOf(() => decoder.push(announce(67), () => {}))).toBe(RtmpErrorCode.chunkStreams);
    decoder.dispose();
    expect(budget.used).toBe(0);
  });

  it("gives the bytes back when the message completes and when it is aborted", () => {
    const budget = new ByteBudget(1024 * 1024);
    const decoder = bigChunkDecoder({ budget });
    const payload = pattern(50_000, 1);
    const messages: RtmpMessage[] = [];
    decoder.push(header(6, payload.length), () => {});
    for (let at = 0; at < payload.length; at += 999) {
      decoder.push(payload.subarray(at, at + 999), (m) => messages.push(m));
    }
    expect(messages).toHaveLength(1);
    expect(messages[0].payload.equals(payload)).toBe(true);
    expect(decoder.bufferedBytes).toBe(0);
    expect(budget.used).toBe(0);

    // At chunk size 300, two whole chunks of a 1000-byte message, then an Abort between chunks.
    decoder.push(encodeChunks(setChunkSizeMessage(300), MAX_CHUNK_SIZE), () => {});
    decoder.push(Buffer.concat([header(7, 1000), pattern(300, 2)]), () => {});
    decoder.push(Buffer.concat([Buffer.from([0xc7]), pattern(300, 3)]), () => {});
    expect(budget.used).toBeGreaterThanOrEqual(600);
    decoder.push(encodeChunks(abortMessage(7), 300), () => {});
    expect(decoder.bufferedBytes).toBe(0);
    expect(budget.used).toBe(0);
    // Chunk stream 7 starts over, from nothing.
    const after: RtmpMessage[] = [];
    decoder.push(Buffer.concat([header(7, 3), Buffer.from("abc")]), (m) => after.push(m));
    expect(after.map((m) => m.payload.toString())).toEqual(["abc"]);
  });

  it("keeps a large share of a pushed Buffer by reference, counting the whole Buffer", () => {
    const decoder = bigChunkDecoder();
    const payload = pattern(100_000, 4);
    const first = Buffer.concat([header(6, payload.length), payload.subarray(0, 60_000)]);
    decoder.push(first, () => {});
    expect(decoder.bufferedBytes).toBe(first.length);
    const messages: RtmpMessage[] = [];
    decoder.push(Buffer.from(payload.subarray(60_000)), (m) => messages.push(m));
    expect(messages[0].payload.equals(payload)).toBe(true);
    // The delivered payload is a Buffer of its own, not a view that keeps the pushed ones alive.
    expect(messages[0].payload.buffer.byteLength).toBe(payload.length);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it("copies a small piece of a large pushed Buffer instead of keeping the Buffer", () => {
    const decoder = new ChunkDecoder();
    // A complete 60 KB message at chunk size 0x7fffffff, then 10 bytes of a 16 MB one, in one push.
    const big = pattern(60_000, 5);
    const push = Buffer.concat([
      encodeChunks(setChunkSizeMessage(MAX_CHUNK_SIZE), 128),
      header(4, big.length),
      big,
      header(6, SIXTEEN_MB),
      pattern(10, 6),
    ]);
    decoder.push(push, () => {});
    expect(decoder.bufferedBytes).toBeLessThanOrEqual(20);
  });

  it("a partial message never holds more than its length", () => {
    const decoder = bigChunkDecoder();
    const payload = pattern(1000, 9);
    // 600 bytes kept by reference to their 612-byte push, then 399 more: keeping them too would
    // hold more than 1000, so everything moves into one Buffer of the message's length.
    decoder.push(Buffer.concat([header(6, 1000), payload.subarray(0, 600)]), () => {});
    expect(decoder.bufferedBytes).toBe(612);
    decoder.push(Buffer.from(payload.subarray(600, 999)), () => {});
    expect(decoder.bufferedBytes).toBe(1000);
    const messages: RtmpMessage[] = [];
    decoder.push(Buffer.from(payload.subarray(999)), (m) => messages.push(m));
    expect(messages[0].payload.equals(payload)).toBe(true);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it("maxBufferedBytes bounds all chunk streams together", () => {
    const decoder = new ChunkDecoder({ maxBufferedBytes: 10_000 });
    // At chunk size 4000 each push is one whole chunk, so three chunk streams hold 4000 bytes each.
    decoder.push(encodeChunks(setChunkSizeMessage(4000), 128), () => {});
    decoder.push(Buffer.concat([header(4, SIXTEEN_MB), pattern(4000, 1)]), () => {});
    decoder.push(Buffer.concat([header(5, SIXTEEN_MB), pattern(4000, 2)]), () => {});
    expect(decoder.bufferedBytes).toBeGreaterThanOrEqual(8000);
    expect(decoder.bufferedBytes).toBeLessThanOrEqual(10_000);
    expect(
      codeOf(() => decoder.push(Buffer.concat([header(6, SIXTEEN_MB), pattern(4000, 3)]), () => {})),
    ).toBe(RtmpErrorCode.bufferLimit);
  });

  it("the default maxBufferedBytes lets one largest message through, bytes trickling", () => {
    const decoder = bigChunkDecoder({ maxMessageSize: 100_000 });
    const payload = pattern(100_000, 7);
    const messages: RtmpMessage[] = [];
    decoder.push(header(6, payload.length), () => {});
    for (let at = 0; at < payload.length; at += 10) {
      decoder.push(payload.subarray(at, at + 10), (m) => messages.push(m));
    }
    expect(messages[0].payload.equals(payload)).toBe(true);
  });

  it("a shared budget refuses the decoder that would go over, and not the others", () => {
    // a and b may hold up to their messages' lengths (40 000 + 20 000): room for both, not for c too.
    const budget = new ByteBudget(70_000);
    const [a, b, c] = [1, 2, 3].map(() => bigChunkDecoder({ budget }));
    const payloadA = pattern(40_000, 1);
    const payloadB = pattern(20_000, 2);
    a.push(header(6, payloadA.length), () => {});
    b.push(header(6, payloadB.length), () => {});
    c.push(header(6, SIXTEEN_MB), () => {});
    for (let at = 0; at < 30_000; at += 100) a.push(payloadA.subarray(at, at + 100), () => {});
    for (let at = 0; at < 10_000; at += 100) b.push(payloadB.subarray(at, at + 100), () => {});
    expect(budget.used).toBe(a.bufferedBytes + b.bufferedBytes);
    expect(budget.used).toBeGreaterThanOrEqual(40_000);
    expect(budget.used).toBeLessThanOrEqual(60_000);
    let cCode: string | undefined;
    for (let i = 0; i < 300 && cCode === undefined; i++) {
      cCode = codeOf(() => c.push(pattern(100, i), () => {}));
    }
    expect(cCode).toBe(RtmpErrorCode.serverBufferLimit);
    c.dispose();
    // a and b finish their messages.
    const done: Buffer[] = [];
    for (let at = 30_000; at < payloadA.length; at += 100)
      a.push(payloadA.subarray(at, at + 100), (m) => done.push(m.payload));
    for (let at = 10_000; at < payloadB.length; at += 100)
      b.push(payloadB.subarray(at, at + 100), (m) => done.push(m.payload));
    expect(done.map((p) => p.length)).toEqual([40_000, 20_000]);
    expect(done[0].equals(payloadA) && done[1].equals(payloadB)).toBe(true);
    expect(budget.used).toBe(0);
  });

  it("a connection closed from inside onMessage takes nothing from the budget afterwards", () => {
    const budget = new ByteBudget(1024 * 1024);
    const decoder = bigChunkDecoder({ budget });
    const push = Buffer.concat([header(4, 3), Buffer.from("abc"), header(6, SIXTEEN_MB), pattern(5000, 1)]);
    decoder.push(push, () => decoder.dispose());
    expect(budget.used).toBe(0);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it("many tiny chunks of one message in one push leave no bookkeeping behind (JS heap the budgets never see)", () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const decoder = new ChunkDecoder();
    const noop = () => {};
    decoder.push(encodeChunks(setChunkSizeMessage(1), 128), noop);
    // Chunk size 1: on each of 60 chunk streams a 1 MB message, 32 768 one-byte chunks of it in
    // one 64 KiB push, then an Abort (itself in four 1-byte chunks). 4 MB in, nothing held after.
    const pushes: Buffer[] = [];
    for (let chunkStreamId = 3; chunkStreamId < 63; chunkStreamId++) {
      const chunks = Buffer.alloc(2 * 32_767, 0);
      for (let i = 0; i < chunks.length; i += 2) chunks[i] = 0xc0 | chunkStreamId;
      pushes.push(Buffer.concat([header(chunkStreamId, 1 << 20), Buffer.from([0x17]), chunks]));
      const abort = encodeChunks(abortMessage(chunkStreamId), 1);
      pushes.push(abort);
    }
    gc();
    const before = process.memoryUsage().heapUsed;
    for (const push of pushes) decoder.push(push, noop);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    expect(decoder.bufferedBytes).toBe(0);
    // 32 768 ranges kept per chunk stream would be about 35 MB; a few chunk streams' worth is noise.
    expect(grown).toBeLessThan(4 * 1024 * 1024);
  });
});
