/**
 * ChunkDecoder: random bytes, chunk-shaped bytes (valid headers with random fields, lengths near
 * the limits, Set Chunk Size and Abort messages with odd values), mutated golden vectors, and
 * valid streams from the encoders (with Set Chunk Size changes and aborted messages) that must
 * decode to exactly what was encoded. Every input is decoded twice, whole and in random pieces:
 * the two must agree.
 *
 * Oracle: only RtmpProtocolError; no message over maxMessageSize; after every push the bytes held
 * are at most twice the bytes pushed (memory is taken as bytes arrive), within maxChunkStreams ×
 * maxMessageSize and maxBufferedBytes, and a shared ByteBudget is never overdrawn and is whole
 * again after dispose(); control messages it delivers decode or throw RtmpProtocolError.
 */
import { ByteBudget } from "@onair/core";
import {
  abortMessage,
  ChunkDecoder,
  type ChunkDecoderOptions,
  ChunkEncoder,
  decodeControlMessage,
  encodeChunks,
  RtmpErrorCode,
  type RtmpMessage,
  RtmpProtocolError,
  setChunkSizeMessage,
} from "@onair/rtmp";
import { chunkVectors } from "../../packages/rtmp/test/chunk-vectors.js";
import type { FuzzRandom, RandomPool } from "../fuzz-random.js";
import { expectThat, type FuzzTarget, type FuzzTargetFactory, hexOf, typedErrorCode } from "../harness.js";
import { INTERESTING_NUMBERS, InputBuilder, OutcomeHash, Splitter } from "../input-builder.js";

/** The longest chunk header: 3-byte basic header, 11-byte type 0 header, 4-byte extended timestamp. */
const MAX_HEADER_LENGTH = 18;
const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
const DEFAULT_MAX_CHUNK_STREAMS = 64;
const MESSAGE_SIZES = [1, 64, 300, 1024, 4096, 65_536] as const;
const CHUNK_STREAM_COUNTS = [1, 2, 3, 8, 64] as const;
/** ChunkDecoder's default maxBufferedBytes is maxMessageSize plus this. */
const DEFAULT_BUFFERED_BEYOND_MESSAGE = 1024 * 1024;
const BUFFERED_LIMITS = [1, 100, 1000, 4096, 70_000] as const;
const BUFFER_LIMIT_CODES = new Set<string>([RtmpErrorCode.bufferLimit, RtmpErrorCode.serverBufferLimit]);
const CONTROL_TYPES = new Set([1, 2, 3, 4, 5, 6]);

/** The golden vectors as a decoder starting at chunk size 128 must see them. */
function goldenStreams(): Buffer[] {
  return chunkVectors.map((vector) =>
    vector.chunkSize === 128
      ? vector.bytes
      : Buffer.concat([encodeChunks(setChunkSizeMessage(vector.chunkSize), 128), vector.bytes]),
  );
}

class ChunkDecoderTarget implements FuzzTarget {
  readonly #pool: RandomPool;
  readonly #input = new InputBuilder(1 << 17);
  readonly #splitter = new Splitter();
  readonly #hash = new OutcomeHash();
  readonly #expected = new OutcomeHash();
  readonly #golden = goldenStreams();
  #options: ChunkDecoderOptions = {};
  #maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE;
  #maxChunkStreams = DEFAULT_MAX_CHUNK_STREAMS;
  #maxBufferedBytes = DEFAULT_MAX_MESSAGE_SIZE + DEFAULT_BUFFERED_BEYOND_MESSAGE;
  /** A shared ByteBudget's limit for this case, or undefined for none. */
  #budgetLimit: number | undefined;
  readonly #wholePrefixes: number[] = [];
  readonly #splitPrefixes: number[] = [];
  #prefixes: number[] = [];
  #numbers: number[] = [];
  /** Set when the input is a valid stream whose messages `#expected` holds. */
  #roundTrip = false;
  readonly #onMessage = (message: RtmpMessage): void => this.#check(message);

  constructor(pool: RandomPool) {
    this.#pool = pool;
  }

  describeInput(): string {
    const budget = this.#budgetLimit === undefined ? "" : `, shared budget ${this.#budgetLimit}`;
    const limits = `maxMessageSize ${this.#maxMessageSize}, maxChunkStreams ${this.#maxChunkStreams}, maxBufferedBytes ${this.#maxBufferedBytes}${budget}`;
    return `${limits}${this.#roundTrip ? ", round trip" : ""}: ${hexOf(this.#input.bytes)}`;
  }

  run(random: FuzzRandom): string | undefined {
    this.#roundTrip = false;
    this.#chooseLimits(random);
    const input = this.#input.clear();
    const roll = random.next();
    if (roll < 0.15) {
      input.random(random, this.#pool, random.length(4096));
    } else if (roll < 0.45) {
      this.#chunkShaped(random);
    } else if (roll < 0.7) {
      input.append(random.pick(this.#golden));
      if (random.chance(0.2)) input.append(random.pick(this.#golden));
      input.mutate(random, this.#pool, this.#numbers, this.#golden);
    } else {
      const valid = random.chance(0.5) ? this.#validStream(random) : this.#interleavedStream(random);
      if (random.chance(0.4)) {
        this.#roundTrip = valid;
      } else {
        input.mutate(random, this.#pool, this.#numbers, this.#golden);
      }
    }

    const bytes = input.bytes;
    const whole = this.#decode(random, bytes, true, this.#wholePrefixes);
    const split = this.#decode(random, bytes, false, this.#splitPrefixes);
    const wholeCount = this.#wholePrefixes.length - 1;
    const splitCount = this.#splitPrefixes.length - 1;
    // Pieces hold more than one whole push (which only borrows), so a byte budget may stop them
    // sooner: then what came out must be the start of what the whole push gave. Otherwise the same.
    const budgetStopped = BUFFER_LIMIT_CODES.has(whole ?? "") || BUFFER_LIMIT_CODES.has(split ?? "");
    const common = Math.min(wholeCount, splitCount);
    const sameStart = this.#wholePrefixes[common] === this.#splitPrefixes[common];
    expectThat(
      sameStart && (budgetStopped || (split === whole && splitCount === wholeCount)),
      () =>
        `whole: ${wholeCount} messages then ${whole ?? "no error"}; in pieces: ${splitCount} messages then ${split ?? "no error"}${sameStart ? "" : " (different messages)"}`,
    );
    if (this.#roundTrip) {
      expectThat(whole === undefined, `a valid stream failed with ${whole}`);
      expectThat(
        this.#wholePrefixes[wholeCount] === this.#expected.value && wholeCount === this.#expected.count,
        `a valid stream decoded to other messages (${wholeCount} delivered, ${this.#expected.count} encoded)`,
      );
    }
    return whole;
  }

  #chooseLimits(random: FuzzRandom): void {
    const options: ChunkDecoderOptions = {};
    this.#options = options;
    this.#maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE;
    this.#maxChunkStreams = DEFAULT_MAX_CHUNK_STREAMS;
    if (random.chance(0.7)) this.#maxMessageSize = options.maxMessageSize = random.pick(MESSAGE_SIZES);
    if (random.chance(0.7))
      this.#maxChunkStreams = options.maxChunkStreams = random.pick(CHUNK_STREAM_COUNTS);
    this.#maxBufferedBytes = this.#maxMessageSize + DEFAULT_BUFFERED_BEYOND_MESSAGE;
    if (random.chance(0.3)) this.#maxBufferedBytes = options.maxBufferedBytes = random.pick(BUFFERED_LIMITS);
    this.#budgetLimit = random.chance(0.3) ? random.pick(BUFFERED_LIMITS) : undefined;
    const m = this.#maxMessageSize;
    // Lengths at the limits first, then chunk sizes and extended-timestamp markers.
    this.#numbers = [m - 1, m, m + 1, 0xffffff, 0x7fffffff, 0x80000000, 128, 127, 64, 65, 319, 320];
  }

  /**
   * Decode `bytes` (whole or split), recording the running hash after each message in `prefixes`
   * (prefixes[0] is the empty hash); returns the error code or undefined.
   */
  #decode(random: FuzzRandom, bytes: Buffer, whole: boolean, prefixes: number[]): string | undefined {
    const budget = this.#budgetLimit === undefined ? undefined : new ByteBudget(this.#budgetLimit);
    const decoder = new ChunkDecoder(budget === undefined ? this.#options : { ...this.#options, budget });
    this.#hash.reset();
    this.#prefixes = prefixes;
    prefixes.length = 0;
    prefixes.push(this.#hash.value);
    const streamsBound = Math.min(this.#maxChunkStreams * this.#maxMessageSize, 2 ** 40);
    let pushed = 0;
    let code: string | undefined;
    this.#splitter.start(random, bytes, whole);
    try {
      for (let piece = this.#splitter.next(); piece !== undefined; piece = this.#splitter.next()) {
        decoder.push(piece, this.#onMessage);
        pushed += piece.length;
        // Memory is taken as bytes arrive (at most twice them), within every configured bound.
        const buffered = decoder.bufferedBytes;
        const held = buffered - MAX_HEADER_LENGTH;
        expectThat(
          held <= 2 * pushed && held <= streamsBound && held <= this.#maxBufferedBytes,
          () =>
            `bufferedBytes ${buffered} after ${pushed} bytes: over twice them (+ a header), ${this.#maxChunkStreams} × ${this.#maxMessageSize} or maxBufferedBytes ${this.#maxBufferedBytes}`,
        );
        if (budget !== undefined) {
          expectThat(
            // What the decoder holds for messages is what it took from the budget: its bufferedBytes
            // less a partial header at most.
            budget.used <= budget.limit &&
              budget.used <= buffered &&
              budget.used >= buffered - MAX_HEADER_LENGTH,
            () =>
              `the shared budget has ${budget.used} bytes used (limit ${budget.limit}), decoder holds ${buffered}`,
          );
        }
      }
    } catch (error) {
      code = typedErrorCode(error, RtmpProtocolError);
    }
    decoder.dispose();
    expectThat(
      decoder.bufferedBytes <= MAX_HEADER_LENGTH,
      () => `dispose() left ${decoder.bufferedBytes} bytes held`,
    );
    if (budget !== undefined) {
      expectThat(
        budget.used === 0,
        () => `dispose() gave back all but ${budget.used} bytes of the shared budget`,
      );
    }
    return code;
  }

  #check(message: RtmpMessage): void {
    const length = message.payload.length;
    expectThat(
      length <= this.#maxMessageSize,
      () => `a message of ${length} bytes, limit ${this.#maxMessageSize}`,
    );
    const hash = this.#hash;
    hash.count += 1;
    hash.number(message.chunkStreamId);
    hash.number(message.typeId);
    hash.number(message.messageStreamId);
    hash.number(message.timestamp);
    hash.bytes(message.payload);
    this.#prefixes.push(hash.value);
    if (CONTROL_TYPES.has(message.typeId)) {
      try {
        decodeControlMessage(message);
      } catch (error) {
        // Not the decoder's error: say which layer broke, and do not let the decoder see it as its own.
        typedErrorCode(error, RtmpProtocolError);
      }
    }
  }

  /** Valid headers with random fields, bodies mostly the length they announce. */
  #chunkShaped(random: FuzzRandom): void {
    const input = this.#input;
    const lengths = new Map<number, number>();
    let chunkSize = 128;
    const count = 1 + random.below(random.chance(0.1) ? 200 : 20);
    for (let i = 0; i < count && input.room(64) === 64; i++) {
      const form = random.below(10);
      const csid = form < 7 ? 2 + random.below(6) : form < 9 ? 64 + random.below(4) : 318 + random.below(6);
      const known = lengths.get(csid);
      const format =
        known === undefined || random.chance(0.3)
          ? random.chance(0.9)
            ? 0
            : random.below(4)
          : random.below(4);
      if (csid < 64) input.byte((format << 6) | csid);
      else if (csid < 320) input.byte(format << 6).byte(csid - 64);
      else
        input
          .byte((format << 6) | 1)
          .byte((csid - 64) & 0xff)
          .byte((csid - 64) >> 8);
      let length = known ?? 0;
      let typeId = 9;
      const extended = format <= 2 && random.chance(0.1);
      if (format <= 2)
        input.uintBE(extended ? 0xffffff : random.below(random.chance(0.5) ? 100 : 0x1000000), 3);
      if (format <= 1) {
        const lengthRoll = random.next();
        length =
          lengthRoll < 0.8
            ? random.below(300)
            : lengthRoll < 0.95
              ? random.pick(this.#numbers) & 0xffffff
              : random.below(0x1000000);
        typeId = random.chance(0.15) ? 1 + random.below(6) : 8 + random.below(12);
        input.uintBE(length, 3).byte(typeId);
        if (format === 0) input.uint32LE(random.chance(0.8) ? random.below(3) : random.uint32());
        lengths.set(csid, length);
      }
      if (extended || (format === 3 && random.chance(0.05))) input.uintBE(random.uint32(), 4);
      if (typeId === 1 && length === 4 && format <= 1) {
        const size = random.chance(0.5) ? 1 + random.below(300) : random.pick(INTERESTING_NUMBERS);
        input.uintBE(size, 4);
        if (size >= 1 && size <= 0x7fffffff) chunkSize = size;
        continue;
      }
      if (typeId === 2 && length === 4 && format <= 1) {
        input.uintBE(random.chance(0.7) ? 2 + random.below(6) : random.uint32(), 4);
        continue;
      }
      const bodyLength = random.chance(0.8) ? Math.min(length, chunkSize) : random.below(300);
      input.random(random, this.#pool, Math.min(bodyLength, 4096));
    }
  }

  /**
   * A valid stream from ChunkEncoder and encodeChunks: random messages on a few chunk streams,
   * timestamps that sometimes jump past 24 bits, Set Chunk Size changes, and messages aborted
   * after their first chunk. Puts the messages the decoder must deliver into `#expected` and
   * returns whether the whole stream fits in the input buffer (and so is a round trip).
   */
  #validStream(random: FuzzRandom): boolean {
    const input = this.#input;
    const expected = this.#expected;
    expected.reset();
    // Limits that the valid stream respects.
    const largest = 1 + random.below(random.chance(0.1) ? 8192 : 700);
    const csids = [3, 4, 5, random.chance(0.5) ? 64 + random.below(256) : 320 + random.below(65_000)];
    // Set Chunk Size and Abort carry 4 bytes.
    this.#maxMessageSize = Math.max(4, largest + random.below(2));
    this.#maxChunkStreams = DEFAULT_MAX_CHUNK_STREAMS;
    this.#maxBufferedBytes = this.#maxMessageSize + DEFAULT_BUFFERED_BEYOND_MESSAGE;
    // A shared budget too large to stop a valid stream, to check what is taken and given back.
    this.#budgetLimit = random.chance(0.5) ? 1 << 30 : undefined;
    this.#options = { maxMessageSize: this.#maxMessageSize };
    const encoder = new ChunkEncoder();
    let chunkSize = 128;
    let timestamp = random.chance(0.2) ? 0xffff00 + random.below(0x200) : random.below(0x1000);
    const send = (message: RtmpMessage, bytes: Buffer, delivered: boolean): boolean => {
      if (input.room(bytes.length) < bytes.length) return false;
      input.append(bytes);
      if (delivered) {
        expected.count += 1;
        expected.number(message.chunkStreamId);
        expected.number(message.typeId);
        expected.number(message.messageStreamId);
        expected.number(message.timestamp >>> 0);
        expected.bytes(message.payload);
      }
      return true;
    };
    const count = 1 + random.below(12);
    for (let i = 0; i < count; i++) {
      if (random.chance(0.25)) {
        const size = random.chance(0.7) ? 1 + random.below(400) : random.pick([1, 2, 0x7fffffff, 65_536]);
        const message = setChunkSizeMessage(size);
        // Set Chunk Size goes out at the chunk size in force before it.
        if (!send(message, encoder.encode(message), true)) return false;
        encoder.chunkSize = size;
        chunkSize = size;
      }
      timestamp += random.chance(0.15) ? 0x1000000 + random.below(0x100) : random.below(100);
      const from = random.below(this.#pool.bytes.length - largest);
      const message: RtmpMessage = {
        chunkStreamId: random.pick(csids),
        typeId: random.pick([8, 9, 18, 20]),
        messageStreamId: random.below(3),
        timestamp: timestamp >>> 0,
        payload: this.#pool.bytes.subarray(from, from + random.below(largest + 1)),
      };
      const roll = random.next();
      if (roll < 0.1 && message.payload.length > chunkSize) {
        // First chunk only, then Abort: the decoder drops it and delivers the Abort.
        const firstChunk = encodeChunks(message, chunkSize);
        const csid = message.chunkStreamId;
        const basicHeader = csid < 64 ? 1 : csid < 320 ? 2 : 3;
        const header = basicHeader + 11 + (message.timestamp >= 0xffffff ? 4 : 0);
        const abort = abortMessage(message.chunkStreamId);
        if (!send(message, firstChunk.subarray(0, header + chunkSize), false)) return false;
        if (!send(abort, encoder.encode(abort), true)) return false;
        encoder.reset(message.chunkStreamId);
      } else if (roll < 0.3) {
        if (!send(message, encodeChunks(message, chunkSize), true)) return false;
        encoder.reset(message.chunkStreamId);
      } else if (!send(message, encoder.encode(message), true)) {
        return false;
      }
    }
    return true;
  }

  /**
   * Messages on several chunk streams at once, their chunks interleaved (each message's chunks in
   * order), at a random chunk size, one of them sometimes aborted part way: the decoder must
   * deliver each message when its last chunk arrives. Returns whether it all fit (a round trip).
   */
  #interleavedStream(random: FuzzRandom): boolean {
    const input = this.#input;
    const expected = this.#expected;
    expected.reset();
    this.#maxChunkStreams = DEFAULT_MAX_CHUNK_STREAMS;
    // A shared budget too large to stop a valid stream, to check what is taken and given back.
    this.#budgetLimit = random.chance(0.5) ? 1 << 30 : undefined;
    const chunkSize = random.chance(0.7) ? 1 + random.below(200) : random.pick([1, 2, 128, 4096]);
    const largest = 1 + random.below(random.chance(0.1) ? 6000 : 600);
    this.#maxMessageSize = Math.max(4, largest);
    this.#maxBufferedBytes = this.#maxMessageSize + DEFAULT_BUFFERED_BEYOND_MESSAGE;
    this.#options = { maxMessageSize: this.#maxMessageSize };
    const messages: { message: RtmpMessage; bytes: Buffer; chunkEnds: number[]; next: number }[] = [];
    const delivered: RtmpMessage[] = [];
    const append = (bytes: Buffer): boolean => {
      if (input.room(bytes.length) < bytes.length) return false;
      input.append(bytes);
      return true;
    };
    if (chunkSize !== 128) {
      const setChunkSize = setChunkSizeMessage(chunkSize);
      if (!append(encodeChunks(setChunkSize, 128))) return false;
      delivered.push(setChunkSize);
    }
    const csids = [3, 4, 5, 6, 7, 64 + random.below(256), 320 + random.below(65_000)];
    for (let i = 0, count = 2 + random.below(4); i < count; i++) {
      const csid = csids.splice(random.below(csids.length), 1)[0];
      const from = random.below(this.#pool.bytes.length - largest);
      const message: RtmpMessage = {
        chunkStreamId: csid,
        typeId: random.pick([8, 9, 18, 20]),
        messageStreamId: random.below(3),
        timestamp: random.chance(0.2) ? 0xffffff + random.below(0x1000) : random.below(0x1000000),
        payload: this.#pool.bytes.subarray(from, from + random.below(largest + 1)),
      };
      let bytes = encodeChunks(message, chunkSize);
      // Where each chunk ends: type 0 header, then type 3 headers; both carry the extended timestamp.
      const basicHeader = csid < 64 ? 1 : csid < 320 ? 2 : 3;
      const extended = message.timestamp >= 0xffffff ? 4 : 0;
      const chunkEnds: number[] = [];
      let at = basicHeader + 11 + extended;
      let left = message.payload.length;
      do {
        at += Math.min(chunkSize, left);
        left -= Math.min(chunkSize, left);
        chunkEnds.push(at);
        at += basicHeader + extended;
      } while (left > 0);
      if (extended > 0 && chunkEnds.length > 1 && random.chance(0.5)) {
        const stripped = this.#withoutContinuationTimestamps(message, bytes, chunkEnds, basicHeader);
        if (stripped !== undefined) bytes = stripped;
      }
      messages.push({ message, bytes, chunkEnds, next: 0 });
    }
    const aborted = random.chance(0.2) ? random.pick(messages) : undefined;
    const abortAfter = aborted === undefined ? 0 : random.below(aborted.chunkEnds.length);
    for (let open = messages.length; open > 0; ) {
      const m = messages[random.below(messages.length)];
      if (m.next === m.chunkEnds.length) continue;
      if (m === aborted && m.next === abortAfter) {
        const abort = abortMessage(m.message.chunkStreamId);
        if (!append(encodeChunks(abort, chunkSize))) return false;
        delivered.push(abort);
        m.next = m.chunkEnds.length;
        open -= 1;
        continue;
      }
      const start = m.next === 0 ? 0 : m.chunkEnds[m.next - 1];
      if (!append(m.bytes.subarray(start, m.chunkEnds[m.next]))) return false;
      m.next += 1;
      if (m.next === m.chunkEnds.length) {
        delivered.push(m.message);
        open -= 1;
      }
    }
    for (const message of delivered) {
      expected.count += 1;
      expected.number(message.chunkStreamId);
      expected.number(message.typeId);
      expected.number(message.messageStreamId);
      expected.number(message.timestamp >>> 0);
      expected.bytes(message.payload);
    }
    return true;
  }

  /**
   * `bytes` as Flash-era encoders send them: type 3 continuations without the extended timestamp
   * (the decoder must tell both forms apart). Rewrites `chunkEnds`. Undefined when a continuation's
   * payload is under 4 bytes or starts with the timestamp itself: then the forms cannot be told apart.
   */
  #withoutContinuationTimestamps(
    message: RtmpMessage,
    bytes: Buffer,
    chunkEnds: number[],
    basicHeader: number,
  ): Buffer | undefined {
    const parts: Buffer[] = [bytes.subarray(0, chunkEnds[0])];
    const newEnds = [chunkEnds[0]];
    for (let i = 1; i < chunkEnds.length; i++) {
      const start = chunkEnds[i - 1];
      const payloadStart = start + basicHeader + 4;
      // The decoder looks at 4 bytes to tell: keep them this chunk's own, and not the timestamp.
      if (chunkEnds[i] - payloadStart < 4 || bytes.readUInt32BE(payloadStart) === message.timestamp >>> 0) {
        return undefined;
      }
      parts.push(bytes.subarray(start, start + basicHeader), bytes.subarray(payloadStart, chunkEnds[i]));
      newEnds.push(newEnds[i - 1] + basicHeader + chunkEnds[i] - payloadStart);
    }
    chunkEnds.splice(0, chunkEnds.length, ...newEnds);
    return Buffer.concat(parts);
  }
}

export const chunkDecoderTarget: FuzzTargetFactory = {
  name: "chunk",
  description: "ChunkDecoder (with decodeControlMessage on what it delivers)",
  create: (pool) => new ChunkDecoderTarget(pool),
};
