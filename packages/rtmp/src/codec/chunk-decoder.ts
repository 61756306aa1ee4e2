/**
 * The receiving half of the RTMP chunk stream (Adobe RTMP spec, section 5.3): bytes split anywhere
 * in, whole messages out.
 *
 * A chunk is a basic header, a message header, maybe an extended timestamp, then at most
 * `chunkSize` bytes of one message's payload:
 *
 *   basic header (1..3 bytes)        message header (by fmt)                 extended timestamp
 *   fmt:2 csid:6                     0: timestamp:24 length:24 type:8         32 bits, present when
 *   fmt:2 0:6       csid-64:8           stream id:32 little-endian            the timestamp field
 *   fmt:2 1:6       (csid-64):16 LE  1: timestamp delta:24 length:24 type:8   is 0xffffff
 *                                    2: timestamp delta:24
 *                                    3: nothing, all from the last header
 *
 * Timestamps: type 0 carries the absolute timestamp, types 1 and 2 a delta added to the previous
 * message's timestamp, and a type 3 chunk that starts a new message adds the last timestamp field
 * again (after a type 0 that is the absolute value, spec 5.3.1.2.4; ffmpeg and SRS read it so).
 * All sums wrap mod 2^32.
 *
 * Extended timestamps on type 3 chunks: following the spec (5.3.1.3) and ffmpeg's reader and
 * writer, a type 3 chunk carries the 4-byte extended timestamp whenever the latest type 0/1/2
 * header of its chunk stream had the field at 0xffffff. On a type 3 chunk that starts a new
 * message it is always read, as the delta. On a continuation it is read only when the 4 bytes
 * repeat the last timestamp field; otherwise they are payload: Flash-era encoders (those
 * nginx-rtmp's `play_time_fix` caters to) leave it out there, and SRS checks the same way. So a
 * continuation chunk on such a chunk stream is decoded once 4 bytes past its basic header have
 * arrived, and a payload that happens to start with the timestamp field is misread (both forms
 * cannot be told apart there).
 *
 * Memory is taken as bytes arrive, never on a length the peer announced. A message whose payload
 * lies whole in one chunk of one pushed Buffer is delivered as a `subarray` of that Buffer (zero
 * copy). A message spanning chunks is copied once into one Buffer of exactly its length when its
 * last byte arrives. Until then its pieces are kept as they came: a piece that is a large share
 * of its pushed Buffer (at least half, in pieces of 512 bytes or more on average) by reference to
 * that Buffer, which then counts whole; smaller ones copied into Buffers of the decoder's own, as
 * large as twice the bytes received allow, so a trickle makes O(log n) of them, and once half the
 * message is in, into one Buffer of its length, which is then delivered. Either way a partial
 * message holds at most twice the bytes received for it, and never more than its length.
 * Measured against allocating the announced length at once: as fast when a message comes in one
 * push, 0.7-0.95x as fast when it spans pushes of 1.5-64 KiB; copying every push into one growing
 * Buffer was 0.35-0.8x. So push() may keep references to the Buffers it is given until their
 * messages complete: safe with Node sockets, which hand out a fresh Buffer per 'data' event; a
 * caller that reuses its read buffer must copy before pushing.
 *
 * Budgets: the held bytes of all chunk streams of a decoder (one connection) stay within
 * `maxBufferedBytes`, and those of every decoder sharing a `ByteBudget` (a server) within its
 * limit; going over throws `ERR_RTMP_BUFFER_LIMIT` or `ERR_RTMP_SERVER_BUFFER_LIMIT`. Held bytes
 * go back to the shared budget when their message completes or is aborted, and on `dispose()`,
 * which the owner calls when the connection closes. Besides, a header announcing more than
 * `maxMessageSize` is refused at once, at most `maxChunkStreams` chunk streams exist, and a
 * partial header holds at most 18 bytes. The chunk size never sizes a buffer, so a peer may
 * legally announce 0x7fffffff.
 *
 * Tolerated deviation: librtmp (RTMP_SendCtrl) starts chunk stream 2 with a type 1 header; that
 * one case is read as if the stream id were 0, as SRS does. Any other type 1/2/3 chunk on a chunk
 * stream without a previous header is an error.
 */
import type { ByteBudget } from "@onair/core";
import { RtmpErrorCode, RtmpProtocolError } from "../errors.js";
import { MAX_CHUNK_SIZE, MessageType, type RtmpMessage } from "./rtmp-message.js";

export interface ChunkDecoderOptions {
  /** Largest message accepted, in bytes; a header announcing more throws `messageSize`. Default 16 MiB. */
  maxMessageSize?: number;
  /** Most distinct chunk stream ids at once; one more throws `chunkStreams`. Default 64. */
  maxChunkStreams?: number;
  /**
   * Most bytes this decoder holds for partial messages, all chunk streams together; more throws
   * `bufferLimit`. Default `maxMessageSize` + 1 MiB (17 MiB with the defaults): one largest
   * message in progress plus the audio and data interleaved with it.
   */
  maxBufferedBytes?: number;
  /**
   * A budget shared with other decoders (all connections of a server): held bytes are taken from
   * it and given back; when it has no room, `serverBufferLimit` is thrown. Default none.
   */
  budget?: ByteBudget;
}

const DEFAULT_CHUNK_SIZE = 128;
const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
const DEFAULT_MAX_CHUNK_STREAMS = 64;
/** What `maxBufferedBytes` allows beyond one largest message by default. */
const DEFAULT_BUFFERED_BEYOND_MESSAGE = 1024 * 1024;
/** The longest chunk header: 3-byte basic header, type 0 message header, extended timestamp. */
const MAX_HEADER_LENGTH = 3 + 11 + 4;
/** Message header length by chunk type (fmt). */
const MESSAGE_HEADER_LENGTH = [11, 7, 3, 0] as const;
const EXTENDED_TIMESTAMP = 0xffffff;
const CONTROL_CHUNK_STREAM = 2;
const EMPTY = Buffer.alloc(0);
/** Node 20 and 22 pool allocations under 4 KiB; above it a message is worth its own ArrayBuffer. */
const OWN_ARRAY_BUFFER_FROM = 4096;
/**
 * Pieces of a partial message at least this long on average, and at least half of the Buffer
 * pushed, are kept as views of it rather than copied: below that, a view's own cost (about 100
 * bytes of heap) or the rest of the Buffer it keeps alive outweighs the copy saved.
 */
const MIN_KEPT_PIECE = 512;
/**
 * Range lists (two numbers a range) longer than this are let go when emptied rather than kept
 * for reuse: a peer sending tiny chunks (chunk size 1) would otherwise leave arrays of up to
 * 64 Ki numbers per chunk stream behind, JS heap no budget counts. 512 ranges covers a 64 KiB read
 * of 128-byte chunks, so ordinary traffic keeps reusing its arrays.
 */
const MAX_REUSED_RANGES = 2 * 512;

/** What one chunk stream remembers: its last header and the message being reassembled. */
class ChunkStreamState {
  timestamp = 0;
  /** The last timestamp field (delta, or absolute after type 0): what a type 3 new message adds. */
  timestampDelta = 0;
  /** The latest type 0/1/2 header had an extended timestamp, so type 3 chunks carry one too. */
  extendedTimestamp = false;
  messageLength = 0;
  typeId = 0;
  messageStreamId = 0;
  /** A message was started and not all its payload has arrived. */
  inProgress = false;
  /** The current message's number in the order messages started (from 1). */
  messageNumber = 0;
  /** Payload bytes of the current message received so far (held and borrowed). */
  received = 0;
  /**
   * The current message's bytes from earlier pushes, in order: `pieceCount` ranges (start, end in
   * `pieceRanges`) of pushed Buffers (kept, not copied) and of Buffers of our own; `tail` (if any)
   * comes after them. Ranges rather than views, and counts rather than array lengths: a view costs
   * an object per piece, and shrinking an array's length costs a runtime call.
   */
  readonly pieces: (Buffer | undefined)[] = [];
  readonly pieceRanges: number[] = [];
  pieceCount = 0;
  /** A Buffer of our own being filled by small pieces, `tailLength` bytes so far. */
  tail: Buffer | undefined;
  tailLength = 0;
  /** What `pieces` and `tail` cost: our own Buffers' sizes plus the lengths of the pushed Buffers kept. */
  held = 0;
  /**
   * The current message's pieces in the Buffer being pushed, as start, end offsets (the first
   * `borrowedEnd` entries): referenced, not copied, until the message completes or the push ends.
   */
  readonly borrowed: number[] = [];
  borrowedEnd = 0;
  /** Listed in the decoder's chunk streams that borrow from the current push. */
  borrowing = false;

  constructor(readonly chunkStreamId: number) {}
}

/** Copy the ranges of `source` that `stream` borrowed into `target` from `at`; returns where it stopped. */
function copyBorrowed(stream: ChunkStreamState, source: Buffer, target: Buffer, at: number): number {
  const borrowed = stream.borrowed;
  for (let i = 0; i < stream.borrowedEnd; i += 2) at += source.copy(target, at, borrowed[i], borrowed[i + 1]);
  return at;
}

function readUInt24(source: Buffer, at: number): number {
  return (source[at] << 16) | (source[at + 1] << 8) | source[at + 2];
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`ChunkDecoder option ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

export class ChunkDecoder {
  readonly #maxMessageSize: number;
  readonly #maxChunkStreams: number;
  readonly #maxBufferedBytes: number;
  readonly #budget: ByteBudget | undefined;
  readonly #streams = new Map<number, ChunkStreamState>();
  /** A chunk header cut off at the end of a push, kept until the rest arrives. */
  readonly #partialHeader = Buffer.allocUnsafe(MAX_HEADER_LENGTH);
  #partialHeaderLength = 0;
  /** The chunk stream whose chunk payload is being read, or undefined between chunks. */
  #current: ChunkStreamState | undefined;
  /** Payload bytes left in the current chunk. */
  #chunkRemaining = 0;
  #chunkSize = DEFAULT_CHUNK_SIZE;
  #bytesReceived = 0;
  /** Messages with a payload started so far: numbers them. */
  #messagesStarted = 0;
  /** Bytes of all chunk streams' held Buffers (also what is taken from the shared budget). */
  #heldBytes = 0;
  /** Chunk streams that borrowed pieces of the Buffer being pushed (the first `#borrowingCount`). */
  readonly #borrowing: ChunkStreamState[] = [];
  #borrowingCount = 0;
  #disposed = false;

  constructor(options: ChunkDecoderOptions = {}) {
    this.#maxMessageSize = positiveInteger(
      options.maxMessageSize,
      DEFAULT_MAX_MESSAGE_SIZE,
      "maxMessageSize",
    );
    this.#maxChunkStreams = positiveInteger(
      options.maxChunkStreams,
      DEFAULT_MAX_CHUNK_STREAMS,
      "maxChunkStreams",
    );
    this.#maxBufferedBytes = positiveInteger(
      options.maxBufferedBytes,
      this.#maxMessageSize + DEFAULT_BUFFERED_BEYOND_MESSAGE,
      "maxBufferedBytes",
    );
    this.#budget = options.budget;
  }

  /** Incoming chunk size: 128 until a Set Chunk Size message changes it. */
  get chunkSize(): number {
    return this.#chunkSize;
  }

  /** Total bytes pushed so far (for acknowledgements); counts a whole Buffer as soon as it is pushed. */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  /** Bytes held for partial messages and a partial header: what a slow or hostile peer costs. */
  get bufferedBytes(): number {
    return this.#heldBytes + this.#partialHeaderLength;
  }

  /**
   * The number of the oldest message now partial (messages are numbered as they start), or 0
   * when none is: the same number seen twice means that message was partial all in between,
   * however many others completed meanwhile. Walks the chunk streams; for periodic checks.
   */
  get oldestPartialMessage(): number {
    let oldest = 0;
    for (const stream of this.#streams.values()) {
      if (stream.inProgress && (oldest === 0 || stream.messageNumber < oldest)) oldest = stream.messageNumber;
    }
    return oldest;
  }

  /**
   * Feed bytes split anywhere; `onMessage` gets each complete message, in order. Set Chunk Size
   * and Abort are applied here, before the next chunk is read, and still passed on. Throws
   * RtmpProtocolError; after a throw (from here or from `onMessage`) the decoder is unusable:
   * call `dispose()`.
   */
  push(chunk: Buffer, onMessage: (message: RtmpMessage) => void): void {
    if (this.#disposed) throw new Error("ChunkDecoder.push after dispose()");
    this.#bytesReceived += chunk.length;
    let end = chunk.length;
    let offset = 0;
    if (this.#partialHeaderLength > 0) {
      const kept = this.#partialHeaderLength;
      const added = Math.min(MAX_HEADER_LENGTH - kept, end);
      chunk.copy(this.#partialHeader, kept, 0, added);
      const used = this.#readHeader(this.#partialHeader, 0, kept + added, onMessage);
      if (used === 0) {
        // Still short: everything pushed so far is in the partial header.
        this.#partialHeaderLength = kept + added;
        return;
      }
      this.#partialHeaderLength = 0;
      if (used >= kept) {
        offset = used - kept;
      } else {
        // A continuation that left out its extended timestamp: bytes kept as header are payload.
        chunk = Buffer.concat([this.#partialHeader.subarray(used, kept), chunk]);
        end = chunk.length;
      }
    }
    // dispose() from inside onMessage (the connection closed) ends the push there.
    while (offset < end && !this.#disposed) {
      const stream = this.#current;
      if (stream !== undefined) {
        offset = this.#readPayload(stream, chunk, offset, end, onMessage);
        continue;
      }
      const used = this.#readHeader(chunk, offset, end, onMessage);
      if (used === 0) {
        chunk.copy(this.#partialHeader, 0, offset, end);
        this.#partialHeaderLength = end - offset;
        break;
      }
      offset += used;
    }
    if (this.#borrowingCount > 0) this.#holdBorrowed(chunk);
  }

  /**
   * Let go of every partial message and give its bytes back to the shared budget. Call it when the
   * connection closes (or after `push` threw); the decoder is unusable afterwards. Idempotent.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#budget?.release(this.#heldBytes);
    this.#heldBytes = 0;
    this.#streams.clear();
    this.#borrowing.length = 0;
    this.#borrowingCount = 0;
    this.#current = undefined;
    this.#partialHeaderLength = 0;
  }

  /**
   * Parse the chunk header at `source[start..end)` and apply it. Returns its length, or 0 when
   * it is not all there yet; in that case nothing has changed.
   */
  #readHeader(source: Buffer, start: number, end: number, onMessage: (message: RtmpMessage) => void): number {
    const first = source[start];
    const format = first >>> 6;
    let chunkStreamId = first & 0x3f;
    let at = start + 1;
    if (chunkStreamId === 0) {
      if (end - start < 2) return 0;
      chunkStreamId = 64 + source[start + 1];
      at = start + 2;
    } else if (chunkStreamId === 1) {
      if (end - start < 3) return 0;
      chunkStreamId = 64 + source[start + 1] + source[start + 2] * 256;
      at = start + 3;
    }
    const messageHeaderEnd = at + MESSAGE_HEADER_LENGTH[format];
    if (messageHeaderEnd > end) return 0;

    let stream = this.#streams.get(chunkStreamId);
    if (stream === undefined && format !== 0 && !(format === 1 && chunkStreamId === CONTROL_CHUNK_STREAM)) {
      throw new RtmpProtocolError(
        RtmpErrorCode.chunkHeader,
        `type ${format} chunk on chunk stream ${chunkStreamId}, which has no previous header`,
      );
    }
    let timestampField = format === 3 ? 0 : readUInt24(source, at);
    const extended =
      format === 3 ? stream?.extendedTimestamp === true : timestampField === EXTENDED_TIMESTAMP;
    let headerEnd = extended ? messageHeaderEnd + 4 : messageHeaderEnd;
    if (headerEnd > end) return 0;
    if (extended) {
      timestampField = source.readUInt32BE(messageHeaderEnd);
      // A continuation whose 4 bytes do not repeat the field left it out: they are payload.
      if (format === 3 && stream?.inProgress === true && timestampField !== stream.timestampDelta) {
        headerEnd = messageHeaderEnd;
      }
    }

    // The header is complete: apply it.
    if (stream === undefined) {
      if (this.#streams.size >= this.#maxChunkStreams) {
        throw new RtmpProtocolError(
          RtmpErrorCode.chunkStreams,
          `more than ${this.#maxChunkStreams} chunk streams (new one: ${chunkStreamId})`,
        );
      }
      stream = new ChunkStreamState(chunkStreamId);
      this.#streams.set(chunkStreamId, stream);
    }
    if (format === 3) {
      if (stream.inProgress) {
        this.#current = stream;
        this.#chunkRemaining = Math.min(this.#chunkSize, stream.messageLength - stream.received);
        return headerEnd - start;
      }
      // A new message with the previous header; an extended timestamp here is the delta again.
      if (extended) stream.timestampDelta = timestampField;
      stream.timestamp = (stream.timestamp + stream.timestampDelta) >>> 0;
    } else {
      if (stream.inProgress) {
        throw new RtmpProtocolError(
          RtmpErrorCode.chunkHeader,
          `type ${format} chunk on chunk stream ${chunkStreamId} before its message of ${stream.messageLength} bytes is complete`,
        );
      }
      stream.extendedTimestamp = extended;
      stream.timestampDelta = timestampField;
      stream.timestamp = format === 0 ? timestampField : (stream.timestamp + timestampField) >>> 0;
      if (format <= 1) {
        const messageLength = readUInt24(source, at + 3);
        if (messageLength > this.#maxMessageSize) {
          throw new RtmpProtocolError(
            RtmpErrorCode.messageSize,
            `message of ${messageLength} bytes on chunk stream ${chunkStreamId}, limit ${this.#maxMessageSize}`,
          );
        }
        stream.messageLength = messageLength;
        stream.typeId = source[at + 6];
        if (format === 0) stream.messageStreamId = source.readUInt32LE(at + 7);
      }
    }
    if (stream.messageLength === 0) {
      this.#deliver(stream, EMPTY, onMessage);
    } else {
      stream.inProgress = true;
      stream.messageNumber = ++this.#messagesStarted;
      this.#current = stream;
      this.#chunkRemaining = Math.min(this.#chunkSize, stream.messageLength);
    }
    return headerEnd - start;
  }

  /** Take the current chunk's payload from `source[start..end)`; returns where it stopped. */
  #readPayload(
    stream: ChunkStreamState,
    source: Buffer,
    start: number,
    end: number,
    onMessage: (message: RtmpMessage) => void,
  ): number {
    const taken = Math.min(end - start, this.#chunkRemaining);
    const stop = start + taken;
    this.#chunkRemaining -= taken;
    if (this.#chunkRemaining === 0) this.#current = undefined;
    if (stream.received === 0 && taken === stream.messageLength) {
      stream.inProgress = false;
      this.#deliver(stream, source.subarray(start, stop), onMessage);
      return stop;
    }
    stream.received += taken;
    if (stream.received === stream.messageLength) {
      const payload = this.#assemble(stream, source, start, stop);
      this.#deliver(stream, payload, onMessage);
      return stop;
    }
    const borrowed = stream.borrowed;
    borrowed[stream.borrowedEnd++] = start;
    borrowed[stream.borrowedEnd++] = stop;
    if (!stream.borrowing) {
      stream.borrowing = true;
      this.#borrowing[this.#borrowingCount++] = stream;
    }
    return stop;
  }

  /** The whole payload of `stream`'s message, whose last piece is `source[start..stop)`; resets the stream. */
  #assemble(stream: ChunkStreamState, source: Buffer, start: number, stop: number): Buffer {
    const tail = stream.tail;
    if (tail !== undefined && tail.length === stream.messageLength && stream.pieceCount === 0) {
      // Compacted: the rest goes into the Buffer already of the message's length.
      const end = copyBorrowed(stream, source, tail, stream.tailLength);
      source.copy(tail, end, start, stop);
      this.#discardMessage(stream);
      return tail;
    }
    // A message of 4 KiB or more gets an ArrayBuffer of its own: from Node's pool (64 KiB slabs on
    // Node 24) a cached keyframe would keep a whole slab alive that the byte budgets never count.
    const payload =
      stream.messageLength >= OWN_ARRAY_BUFFER_FROM
        ? Buffer.allocUnsafeSlow(stream.messageLength)
        : Buffer.allocUnsafe(stream.messageLength);
    let at = 0;
    const pieces = stream.pieces;
    const ranges = stream.pieceRanges;
    for (let i = 0; i < stream.pieceCount; i++) {
      at += (pieces[i] as Buffer).copy(payload, at, ranges[2 * i], ranges[2 * i + 1]);
    }
    if (stream.tail !== undefined) at += stream.tail.copy(payload, at, 0, stream.tailLength);
    at = copyBorrowed(stream, source, payload, at);
    source.copy(payload, at, start, stop);
    this.#discardMessage(stream);
    return payload;
  }

  /**
   * At the end of a push: keep what partial messages borrowed from `source`. A large share of
   * `source` in large pieces is kept as views (no copy; `source` costs what it is long); anything
   * else is copied into Buffers of our own, so a 1-byte piece never keeps a 64 KiB read alive.
   */
  #holdBorrowed(source: Buffer): void {
    for (let s = 0; s < this.#borrowingCount; s++) {
      const stream = this.#borrowing[s];
      stream.borrowing = false;
      const borrowed = stream.borrowed;
      const borrowedEnd = stream.borrowedEnd;
      if (borrowedEnd === 0) continue;
      let bytes = 0;
      for (let i = 0; i < borrowedEnd; i += 2) bytes += borrowed[i + 1] - borrowed[i];
      const large =
        bytes >= (borrowedEnd / 2) * MIN_KEPT_PIECE &&
        2 * bytes >= source.length &&
        stream.held + source.length <= stream.messageLength;
      if (large && this.#tryTake(source.length)) {
        stream.held += source.length;
        this.#closeTail(stream);
        for (let i = 0; i < borrowedEnd; i += 2) this.#addPiece(stream, source, borrowed[i], borrowed[i + 1]);
      } else {
        this.#copyBorrowed(stream, source, bytes);
      }
      stream.borrowedEnd = 0;
      if (borrowed.length > MAX_REUSED_RANGES) borrowed.length = 0;
    }
    this.#borrowingCount = 0;
  }

  /**
   * Copy `stream`'s borrowed pieces (`bytes` long) into its tail, first starting a tail as large as
   * twice the bytes received allow when the current one is full, so a message trickling in makes
   * O(log n) Buffers. When that would reach the message length, everything so far moves into one
   * Buffer of exactly that length instead: a partial message never holds more than its length.
   */
  #copyBorrowed(stream: ChunkStreamState, source: Buffer, bytes: number): void {
    let tail = stream.tail;
    if (tail === undefined || tail.length - stream.tailLength < bytes) {
      // What one Buffer of the message's length would add, and all that twice the bytes received
      // allows (fewer, larger tails; the message's own Buffer as soon as half of it is in).
      const room = stream.messageLength - stream.held;
      const preferred = Math.max(bytes, 2 * stream.received - stream.held);
      if (room <= bytes) {
        this.#take(stream, room); // the cheapest way to hold these bytes
        tail = this.#compact(stream);
      } else if (preferred >= room && this.#tryTake(room)) {
        tail = this.#compact(stream);
      } else {
        this.#closeTail(stream);
        let size = preferred;
        if (preferred >= room || !this.#tryTake(preferred)) {
          this.#take(stream, bytes);
          size = bytes;
        }
        stream.held += size;
        // A Buffer of its own, not a slice of Node's shared pool, so what is counted is what is held.
        tail = Buffer.allocUnsafeSlow(size);
        stream.tail = tail;
      }
    }
    let at = stream.tailLength;
    const borrowed = stream.borrowed;
    for (let i = 0; i < stream.borrowedEnd; i += 2) {
      at += source.copy(tail, at, borrowed[i], borrowed[i + 1]);
    }
    stream.tailLength = at;
  }

  /**
   * Move what `stream` holds into one Buffer of exactly its message length, its tail from now on
   * (and, once filled, the payload delivered), and let go of the rest. The caller has taken the
   * difference from the budgets.
   */
  #compact(stream: ChunkStreamState): Buffer {
    const length = stream.messageLength;
    const whole = Buffer.allocUnsafeSlow(length);
    let at = 0;
    const pieces = stream.pieces;
    const ranges = stream.pieceRanges;
    for (let i = 0; i < stream.pieceCount; i++) {
      at += (pieces[i] as Buffer).copy(whole, at, ranges[2 * i], ranges[2 * i + 1]);
    }
    if (stream.tail !== undefined) at += stream.tail.copy(whole, at, 0, stream.tailLength);
    pieces.fill(undefined, 0, stream.pieceCount);
    stream.pieceCount = 0;
    stream.held = length;
    stream.tail = whole;
    stream.tailLength = at;
    return whole;
  }

  /** Move the filled part of `stream`'s tail to its pieces (what is left of the tail stays counted). */
  #closeTail(stream: ChunkStreamState): void {
    if (stream.tail === undefined) return;
    this.#addPiece(stream, stream.tail, 0, stream.tailLength);
    stream.tail = undefined;
    stream.tailLength = 0;
  }

  #addPiece(stream: ChunkStreamState, buffer: Buffer, start: number, end: number): void {
    const count = stream.pieceCount++;
    stream.pieces[count] = buffer;
    stream.pieceRanges[2 * count] = start;
    stream.pieceRanges[2 * count + 1] = end;
  }

  /** Count `bytes` more as held if both budgets have room; false (nothing taken) if not. */
  #tryTake(bytes: number): boolean {
    if (this.#heldBytes + bytes > this.#maxBufferedBytes) return false;
    if (this.#budget !== undefined && !this.#budget.take(bytes)) return false;
    this.#heldBytes += bytes;
    return true;
  }

  /** Count `bytes` more as held, or throw the limit that has no room for them. */
  #take(stream: ChunkStreamState, bytes: number): void {
    if (this.#heldBytes + bytes > this.#maxBufferedBytes) {
      throw new RtmpProtocolError(
        RtmpErrorCode.bufferLimit,
        `partial messages would hold ${this.#heldBytes + bytes} bytes (chunk stream ${stream.chunkStreamId}), limit ${this.#maxBufferedBytes}`,
      );
    }
    if (this.#budget !== undefined && !this.#budget.take(bytes)) {
      throw new RtmpProtocolError(
        RtmpErrorCode.serverBufferLimit,
        `the server's partial message budget of ${this.#budget.limit} bytes has no room for ${bytes} more`,
      );
    }
    this.#heldBytes += bytes;
  }

  /** Forget `stream`'s current message and give back what it held. */
  #discardMessage(stream: ChunkStreamState): void {
    stream.inProgress = false;
    stream.received = 0;
    stream.borrowedEnd = 0;
    if (stream.borrowed.length > MAX_REUSED_RANGES) stream.borrowed.length = 0;
    if (stream.held === 0) return;
    // Let go of the Buffers, so what was given back to the budget is really free.
    if (stream.pieceRanges.length > MAX_REUSED_RANGES) {
      stream.pieces.length = 0;
      stream.pieceRanges.length = 0;
    } else {
      stream.pieces.fill(undefined, 0, stream.pieceCount);
    }
    stream.pieceCount = 0;
    stream.tail = undefined;
    stream.tailLength = 0;
    this.#heldBytes -= stream.held;
    this.#budget?.release(stream.held);
    stream.held = 0;
  }

  #deliver(stream: ChunkStreamState, payload: Buffer, onMessage: (message: RtmpMessage) => void): void {
    const typeId = stream.typeId;
    if (typeId === MessageType.setChunkSize) this.#chunkSize = readChunkSize(payload);
    else if (typeId === MessageType.abort) this.#abort(payload);
    onMessage({
      chunkStreamId: stream.chunkStreamId,
      typeId,
      messageStreamId: stream.messageStreamId,
      timestamp: stream.timestamp,
      payload,
    });
  }

  #abort(payload: Buffer): void {
    if (payload.length < 4) {
      throw new RtmpProtocolError(RtmpErrorCode.controlMessage, `Abort message of ${payload.length} bytes`);
    }
    const stream = this.#streams.get(payload.readUInt32BE(0));
    if (stream !== undefined) this.#discardMessage(stream);
  }
}

function readChunkSize(payload: Buffer): number {
  if (payload.length < 4) {
    throw new RtmpProtocolError(
      RtmpErrorCode.controlMessage,
      `Set Chunk Size message of ${payload.length} bytes`,
    );
  }
  const size = payload.readUInt32BE(0);
  if (size === 0 || size > MAX_CHUNK_SIZE) {
    throw new RtmpProtocolError(
      RtmpErrorCode.chunkSize,
      `Set Chunk Size to ${size}, not in 1..${MAX_CHUNK_SIZE}`,
    );
  }
  return size;
}
