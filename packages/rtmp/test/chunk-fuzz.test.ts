/**
 * Hostile input for the chunk decoder: random bytes, chunk-shaped random bytes and mutated valid
 * streams, from a seeded PRNG. The decoder must deliver messages or throw RtmpProtocolError,
 * never anything else; hold no more than twice the bytes pushed, and no more than maxMessageSize
 * per chunk stream plus one header; give every byte back to the shared budget on dispose; and
 * decode the same whether the bytes come in one piece or many.
 */
import { ByteBudget } from "@onair/core";
import { describe, expect, it } from "vitest";
import { seededRandom as random } from "../../../test-support/seeded-random.js";
import { ChunkDecoder } from "../src/codec/chunk-decoder.js";
import { ChunkEncoder } from "../src/codec/chunk-encoder.js";
import { setChunkSizeMessage } from "../src/codec/control-messages.js";
import { RtmpProtocolError } from "../src/errors.js";
import { chunkVectors, pattern } from "./chunk-vectors.js";

const MAX_MESSAGE_SIZE = 1024;
const MAX_CHUNK_STREAMS = 8;
const MAX_HEADER_LENGTH = 18;

type Next = () => number;
const below = (next: Next, n: number) => Math.floor(next() * n);

interface Outcome {
  /** Each delivered message as "csid type stream timestamp payload-hex". */
  messages: string[];
  /** The RtmpProtocolError code, if decoding stopped on one. */
  error: string | undefined;
}

/** Decode `pieces`, checking the memory bound after every push. */
function run(pieces: Buffer[]): Outcome {
  // Large enough never to refuse here: a budget that refuses makes the outcome depend on the split.
  const budget = new ByteBudget(1024 * 1024 * 1024);
  const decoder = new ChunkDecoder({
    maxMessageSize: MAX_MESSAGE_SIZE,
    maxChunkStreams: MAX_CHUNK_STREAMS,
    budget,
  });
  const messages: string[] = [];
  try {
    for (const piece of pieces) {
      decoder.push(piece, (m) => {
        expect(m.payload.length).toBeLessThanOrEqual(MAX_MESSAGE_SIZE);
        messages.push(
          `${m.chunkStreamId} ${m.typeId} ${m.messageStreamId} ${m.timestamp} ${m.payload.toString("hex")}`,
        );
      });
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(
        MAX_CHUNK_STREAMS * MAX_MESSAGE_SIZE + MAX_HEADER_LENGTH,
      );
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(2 * decoder.bytesReceived);
      expect(budget.used).toBeLessThanOrEqual(decoder.bufferedBytes);
    }
  } catch (error) {
    if (!(error instanceof RtmpProtocolError)) throw error;
    return { messages, error: error.code };
  } finally {
    decoder.dispose();
    expect(budget.used).toBe(0);
  }
  return { messages, error: undefined };
}

function randomPieces(next: Next, bytes: Buffer): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const length = next() < 0.5 ? 1 + below(next, 4) : 1 + below(next, 300);
    pieces.push(bytes.subarray(at, at + length));
    at += length;
  }
  return pieces;
}

/** Whole or in pieces, the outcome is the same. */
function check(next: Next, bytes: Buffer): Outcome {
  const whole = run([bytes]);
  expect(run(randomPieces(next, bytes))).toEqual(whole);
  return whole;
}

function randomBytes(next: Next, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = below(next, 256);
  return bytes;
}

/** Random chunks that mostly parse: plausible headers with random fields, bodies mostly of the announced length. */
function chunkShapedBytes(next: Next): Buffer {
  const parts: Buffer[] = [];
  const lengths = new Map<number, number>();
  for (let i = 0, count = 1 + below(next, 20); i < count; i++) {
    const csidForm = below(next, 10);
    const csid =
      csidForm < 7 ? 2 + below(next, 6) : csidForm < 9 ? 64 + below(next, 4) : 320 + below(next, 4);
    const known = lengths.get(csid);
    const format = known === undefined || next() < 0.3 ? 0 : below(next, 4);
    const basic =
      csid < 64
        ? Buffer.from([(format << 6) | csid])
        : csid < 320
          ? Buffer.from([format << 6, csid - 64])
          : Buffer.from([(format << 6) | 1, (csid - 64) & 0xff, (csid - 64) >> 8]);
    const header = randomBytes(next, [11, 7, 3, 0][format]);
    let length = known ?? 0;
    if (format <= 1) {
      // A length that is mostly small, sometimes over the limit.
      length = next() < 0.95 ? below(next, 300) : below(next, 0x1000000);
      header.writeUIntBE(length, 3, 3);
      header[6] = next() < 0.1 ? 1 + below(next, 2) : 8 + below(next, 2); // sometimes Set Chunk Size or Abort
      lengths.set(csid, length);
    }
    if (format <= 2 && next() < 0.1) header.writeUIntBE(0xffffff, 0, 3);
    const extended =
      format <= 2 && header.readUIntBE(0, 3) === 0xffffff ? randomBytes(next, 4) : Buffer.alloc(0);
    const bodyLength = next() < 0.8 ? Math.min(length, 128) : below(next, 200);
    parts.push(basic, header, extended, randomBytes(next, bodyLength));
  }
  return Buffer.concat(parts);
}

/** A valid stream of random messages at random chunk sizes, from the compressing encoder. */
function validStream(next: Next): Buffer {
  const encoder = new ChunkEncoder();
  const parts: Buffer[] = [];
  let timestamp = below(next, 0x2000000);
  for (let i = 0, count = 1 + below(next, 8); i < count; i++) {
    if (next() < 0.3) {
      const size = 1 + below(next, 200);
      parts.push(encoder.encode(setChunkSizeMessage(size)));
      encoder.chunkSize = size;
    }
    timestamp += next() < 0.2 ? 0x1000000 : below(next, 50);
    parts.push(
      encoder.encode({
        chunkStreamId: 3 + below(next, 4),
        typeId: 8 + below(next, 2),
        messageStreamId: below(next, 2),
        timestamp,
        payload: pattern(below(next, 600), i),
      }),
    );
  }
  return Buffer.concat(parts);
}

function mutate(next: Next, source: Buffer): Buffer {
  const bytes = Buffer.from(source);
  const edits = 1 + below(next, 4);
  let result = bytes;
  for (let e = 0; e < edits && result.length > 0; e++) {
    const at = below(next, result.length);
    switch (below(next, 5)) {
      case 0: // flip a bit
        result[at] ^= 1 << below(next, 8);
        break;
      case 1: // replace a byte
        result[at] = below(next, 256);
        break;
      case 2: // delete a run
        result = Buffer.concat([result.subarray(0, at), result.subarray(at + 1 + below(next, 8))]);
        break;
      case 3: // insert random bytes
        result = Buffer.concat([
          result.subarray(0, at),
          randomBytes(next, 1 + below(next, 8)),
          result.subarray(at),
        ]);
        break;
      default: // truncate
        result = result.subarray(0, at);
    }
  }
  return result;
}

describe("chunk decoder fuzzing", () => {
  it("random bytes", () => {
    const next = random(1);
    for (let i = 0; i < 2000; i++) check(next, randomBytes(next, below(next, 2000)));
  });

  it("chunk-shaped random bytes", () => {
    const next = random(2);
    let delivered = 0;
    for (let i = 0; i < 3000; i++) delivered += check(next, chunkShapedBytes(next)).messages.length;
    // The generator must reach past the first header, or this test proves little.
    expect(delivered).toBeGreaterThan(3000);
  });

  it("mutated golden vectors", () => {
    const next = random(3);
    for (let i = 0; i < 3000; i++) {
      const vector = chunkVectors[below(next, chunkVectors.length)];
      check(next, mutate(next, vector.bytes));
    }
  });

  it("mutated valid streams", () => {
    const next = random(4);
    let delivered = 0;
    for (let i = 0; i < 1500; i++) {
      const bytes = validStream(next);
      delivered += check(next, mutate(next, bytes)).messages.length;
    }
    expect(delivered).toBeGreaterThan(1500);
  });

  it("many chunk streams each holding a partial message hold only the bytes received", () => {
    const budget = new ByteBudget(1024 * 1024);
    const decoder = new ChunkDecoder({
      maxMessageSize: MAX_MESSAGE_SIZE,
      maxChunkStreams: MAX_CHUNK_STREAMS,
      budget,
    });
    const header = (csid: number) => Buffer.from([csid, 0, 0, 0, 0, 0x04, 0x00, 9, 1, 0, 0, 0]); // 1024 bytes
    for (let csid = 3; csid < 3 + MAX_CHUNK_STREAMS; csid++) {
      decoder.push(Buffer.concat([header(csid), randomBytes(random(csid), 128)]), () => {});
    }
    expect(decoder.bufferedBytes).toBeGreaterThanOrEqual(MAX_CHUNK_STREAMS * 128);
    expect(decoder.bufferedBytes).toBeLessThanOrEqual(2 * MAX_CHUNK_STREAMS * 128);
    expect(budget.used).toBe(decoder.bufferedBytes);
    expect(() => decoder.push(header(3 + MAX_CHUNK_STREAMS), () => {})).toThrow(RtmpProtocolError);
  });
});
