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
 * header of its chunk stream had the field at 0xffffff, both when it continues a message and when
 * it starts a new one. On continuations the value is skipped; on a new message it is the delta.
 * Peers that leave it out of continuations (Flash-era encoders nginx-rtmp's `play_time_fix`
 * caters to) are not supported.
 *
 * Zero copy: a message whose payload lies whole in one chunk of one pushed Buffer is delivered as
 * a `subarray` of that Buffer. That is safe with Node sockets, which hand out a fresh Buffer per
 * 'data' event; a caller that reuses its read buffer must copy payloads it keeps. A message that
 * spans chunks gets one Buffer of exactly its length, allocated when its first payload byte
 * arrives, and the pieces are copied in.
 *
 * Memory: each chunk stream holds at most one partial message (at most `maxMessageSize` bytes,
 * refused as soon as a header announces more), the decoder at most one partial header
 * (18 bytes), and at most `maxChunkStreams` chunk streams exist. The chunk size never sizes a
 * buffer, so a peer may legally announce 0x7fffffff.
 *
 * Tolerated deviation: librtmp (RTMP_SendCtrl) starts chunk stream 2 with a type 1 header; that
 * one case is read as if the stream id were 0, as SRS does. Any other type 1/2/3 chunk on a chunk
 * stream without a previous header is an error.
 */
import { RtmpErrorCode, RtmpProtocolError } from "../errors.js";
import { MAX_CHUNK_SIZE, MessageType, type RtmpMessage } from "./rtmp-message.js";

export interface ChunkDecoderOptions {
  /** Largest message accepted, in bytes; a header announcing more throws `messageSize`. Default 16 MiB. */
  maxMessageSize?: number;
  /** Most distinct chunk stream ids at once; one more throws `chunkStreams`. Default 64. */
  maxChunkStreams?: number;
}

const DEFAULT_CHUNK_SIZE = 128;
const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
const DEFAULT_MAX_CHUNK_STREAMS = 64;
/** The longest chunk header: 3-byte basic header, type 0 message header, extended timestamp. */
const MAX_HEADER_LENGTH = 3 + 11 + 4;
/** Message header length by chunk type (fmt). */
const MESSAGE_HEADER_LENGTH = [11, 7, 3, 0] as const;
const EXTENDED_TIMESTAMP = 0xffffff;
const CONTROL_CHUNK_STREAM = 2;
const EMPTY = Buffer.alloc(0);

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
  /** Payload bytes of the current message received so far. */
  received = 0;
  /** The current message's payload, once it spans chunks. */
  payload: Buffer | undefined;

  constructor(readonly chunkStreamId: number) {}

  discardMessage(): void {
    this.inProgress = false;
    this.received = 0;
    this.payload = undefined;
  }
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
    let total = this.#partialHeaderLength;
    for (const stream of this.#streams.values()) total += stream.payload?.length ?? 0;
    return total;
  }

  /**
   * Feed bytes split anywhere; `onMessage` gets each complete message, in order. Set Chunk Size
   * and Abort are applied here, before the next chunk is read, and still passed on. Throws
   * RtmpProtocolError; after a throw (from here or from `onMessage`) the decoder is unusable.
   */
  push(chunk: Buffer, onMessage: (message: RtmpMessage) => void): void {
    this.#bytesReceived += chunk.length;
    const end = chunk.length;
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
      offset = used - kept;
    }
    while (offset < end) {
      const stream = this.#current;
      if (stream !== undefined) {
        offset = this.#readPayload(stream, chunk, offset, end, onMessage);
        continue;
      }
      const used = this.#readHeader(chunk, offset, end, onMessage);
      if (used === 0) {
        chunk.copy(this.#partialHeader, 0, offset, end);
        this.#partialHeaderLength = end - offset;
        return;
      }
      offset += used;
    }
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
    const headerEnd = extended ? messageHeaderEnd + 4 : messageHeaderEnd;
    if (headerEnd > end) return 0;
    if (extended) timestampField = source.readUInt32BE(messageHeaderEnd);

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
    let payload = stream.payload;
    if (payload === undefined) {
      if (taken === stream.messageLength) {
        stream.discardMessage();
        this.#deliver(stream, source.subarray(start, stop), onMessage);
        return stop;
      }
      payload = Buffer.allocUnsafe(stream.messageLength);
      stream.payload = payload;
    }
    source.copy(payload, stream.received, start, stop);
    stream.received += taken;
    if (stream.received === stream.messageLength) {
      stream.discardMessage();
      this.#deliver(stream, payload, onMessage);
    }
    return stop;
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
    this.#streams.get(payload.readUInt32BE(0))?.discardMessage();
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
