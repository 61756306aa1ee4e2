/**
 * The sending half of the RTMP chunk stream (Adobe RTMP spec, section 5.3): a message in, its
 * chunks out as one Buffer. The header layout is drawn in ./chunk-decoder.ts.
 *
 * Two encoders:
 * - {@link encodeChunks} writes a type 0 header (absolute timestamp) on the first chunk, so its
 *   bytes mean the same whatever was sent before on that chunk stream and one Buffer can be sent
 *   to every player (the fan-out path).
 * - {@link ChunkEncoder} remembers the last header of each chunk stream and writes the smallest
 *   header the peer can complete from it (types 1, 2, 3), as ffmpeg does.
 *
 * Both repeat an extended timestamp in every type 3 continuation chunk, as the spec (5.3.1.3),
 * ffmpeg and nginx-rtmp do. Timestamps are taken mod 2^32.
 */
import { RtmpErrorCode, RtmpProtocolError } from "../errors.js";
import { MAX_CHUNK_SIZE, type RtmpMessage } from "./rtmp-message.js";

const DEFAULT_CHUNK_SIZE = 128;
const MESSAGE_HEADER_LENGTH = [11, 7, 3, 0] as const;
const EXTENDED_TIMESTAMP = 0xffffff;
const MAX_MESSAGE_LENGTH = 0xffffff;
const MIN_CHUNK_STREAM_ID = 2;
const MAX_CHUNK_STREAM_ID = 65599;

function checkChunkSize(chunkSize: number): void {
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) {
    throw new RtmpProtocolError(
      RtmpErrorCode.chunkSize,
      `chunk size ${chunkSize} is not in 1..${MAX_CHUNK_SIZE}`,
    );
  }
}

/** Refuse what the header fields cannot carry, instead of writing something else. */
function checkMessage(message: RtmpMessage): void {
  const { chunkStreamId, typeId, messageStreamId, payload } = message;
  if (
    !Number.isInteger(chunkStreamId) ||
    chunkStreamId < MIN_CHUNK_STREAM_ID ||
    chunkStreamId > MAX_CHUNK_STREAM_ID
  ) {
    throw new RtmpProtocolError(
      RtmpErrorCode.chunkHeader,
      `chunk stream id ${chunkStreamId} is not in ${MIN_CHUNK_STREAM_ID}..${MAX_CHUNK_STREAM_ID}`,
    );
  }
  if ((typeId & 0xff) !== typeId || messageStreamId >>> 0 !== messageStreamId) {
    throw new RtmpProtocolError(
      RtmpErrorCode.chunkHeader,
      `message type ${typeId} or stream id ${messageStreamId} does not fit its header field`,
    );
  }
  if (payload.length > MAX_MESSAGE_LENGTH) {
    throw new RtmpProtocolError(
      RtmpErrorCode.messageSize,
      `message of ${payload.length} bytes, a chunk header can announce at most ${MAX_MESSAGE_LENGTH}`,
    );
  }
}

function basicHeaderLength(chunkStreamId: number): number {
  return chunkStreamId < 64 ? 1 : chunkStreamId < 320 ? 2 : 3;
}

/** Write the 1, 2 or 3 byte basic header at `at`; returns the offset after it. */
function writeBasicHeader(target: Buffer, at: number, format: number, chunkStreamId: number): number {
  if (chunkStreamId < 64) {
    target[at] = (format << 6) | chunkStreamId;
    return at + 1;
  }
  const id = chunkStreamId - 64;
  if (chunkStreamId < 320) {
    target[at] = format << 6;
    target[at + 1] = id;
    return at + 2;
  }
  target[at] = (format << 6) | 1;
  target[at + 1] = id & 0xff;
  target[at + 2] = id >>> 8;
  return at + 3;
}

function writeUInt24(target: Buffer, at: number, value: number): void {
  target[at] = value >>> 16;
  target[at + 1] = value >>> 8;
  target[at + 2] = value;
}

/**
 * The message as chunks, the first with a type `format` header whose timestamp field holds
 * `timestampField` (absolute for type 0, a delta otherwise). One allocation.
 */
function writeChunks(
  message: RtmpMessage,
  chunkSize: number,
  format: number,
  timestampField: number,
): Buffer {
  const { chunkStreamId, payload } = message;
  const length = payload.length;
  const extended = timestampField >= EXTENDED_TIMESTAMP;
  const basicLength = basicHeaderLength(chunkStreamId);
  const continuationLength = extended ? basicLength + 4 : basicLength;
  const chunkCount = length === 0 ? 1 : Math.ceil(length / chunkSize);
  const out = Buffer.allocUnsafe(
    basicLength +
      MESSAGE_HEADER_LENGTH[format] +
      (extended ? 4 : 0) +
      length +
      (chunkCount - 1) * continuationLength,
  );

  let at = writeBasicHeader(out, 0, format, chunkStreamId);
  if (format <= 2) {
    writeUInt24(out, at, extended ? EXTENDED_TIMESTAMP : timestampField);
    at += 3;
    if (format <= 1) {
      writeUInt24(out, at, length);
      out[at + 3] = message.typeId;
      at += 4;
      if (format === 0) at = out.writeUInt32LE(message.messageStreamId, at);
    }
  }
  if (extended) at = out.writeUInt32BE(timestampField, at);

  let sent = Math.min(chunkSize, length);
  at += payload.copy(out, at, 0, sent);
  while (sent < length) {
    at = writeBasicHeader(out, at, 3, chunkStreamId);
    if (extended) at = out.writeUInt32BE(timestampField, at);
    const next = Math.min(sent + chunkSize, length);
    at += payload.copy(out, at, sent, next);
    sent = next;
  }
  return out;
}

/**
 * The whole message as chunks: a type 0 header with the absolute timestamp, then type 3
 * continuations. The bytes do not depend on anything sent before on the chunk stream, so they can
 * be shared by every player with this chunk size.
 */
export function encodeChunks(message: RtmpMessage, chunkSize: number): Buffer {
  checkChunkSize(chunkSize);
  checkMessage(message);
  return writeChunks(message, chunkSize, 0, message.timestamp >>> 0);
}

/** The last header sent on a chunk stream, as the peer's decoder remembers it. */
interface SentHeader {
  timestamp: number;
  timestampDelta: number;
  /** The delta came from a type 1/2 header. After a type 0, decoders disagree on what a type 3 adds (ffmpeg: the timestamp again; nginx-rtmp: 0), so type 3 is not used then. */
  deltaSent: boolean;
  length: number;
  typeId: number;
  messageStreamId: number;
}

/**
 * Per-connection encoder that compresses headers against the previous message on the same chunk
 * stream: type 0 for a new chunk stream, another message stream or a timestamp going back (or
 * wrapping); type 1 for the same message stream; type 2 when the length and type repeat too; type 3
 * when the delta also repeats a delta sent in a type 1/2 header.
 */
export class ChunkEncoder {
  #chunkSize = DEFAULT_CHUNK_SIZE;
  readonly #sent = new Map<number, SentHeader>();

  constructor(options: { chunkSize?: number } = {}) {
    if (options.chunkSize !== undefined) this.chunkSize = options.chunkSize;
  }

  /** Outgoing chunk size, 1..0x7fffffff. Send a Set Chunk Size message first, then set this. */
  get chunkSize(): number {
    return this.#chunkSize;
  }

  set chunkSize(size: number) {
    checkChunkSize(size);
    this.#chunkSize = size;
  }

  encode(message: RtmpMessage): Buffer {
    checkMessage(message);
    const { chunkStreamId, typeId, messageStreamId } = message;
    const length = message.payload.length;
    const timestamp = message.timestamp >>> 0;
    const previous = this.#sent.get(chunkStreamId);
    let format = 0;
    let timestampField = timestamp;
    if (
      previous !== undefined &&
      previous.messageStreamId === messageStreamId &&
      timestamp >= previous.timestamp
    ) {
      timestampField = timestamp - previous.timestamp;
      if (previous.typeId !== typeId || previous.length !== length) format = 1;
      else format = previous.deltaSent && timestampField === previous.timestampDelta ? 3 : 2;
    }
    const header: SentHeader = previous ?? {
      timestamp,
      timestampDelta: 0,
      deltaSent: false,
      length,
      typeId,
      messageStreamId,
    };
    header.timestamp = timestamp;
    header.timestampDelta = timestampField;
    header.deltaSent = format !== 0;
    header.length = length;
    header.typeId = typeId;
    header.messageStreamId = messageStreamId;
    if (previous === undefined) this.#sent.set(chunkStreamId, header);
    return writeChunks(message, this.#chunkSize, format, timestampField);
  }

  /** Forget the last header of one chunk stream (or all), e.g. after shared type 0 bytes were sent on it. */
  reset(chunkStreamId?: number): void {
    if (chunkStreamId === undefined) this.#sent.clear();
    else this.#sent.delete(chunkStreamId);
  }
}
