/**
 * An incremental FLV file reader (Adobe FLV spec v10.1, annex E.2 and E.3): bytes split anywhere
 * in, whole tags out. The layout is the one `flv-muxer.ts` writes:
 *
 *   "FLV" version:8 flags:8 dataOffset:32 | [dataOffset - 9 bytes skipped] | PreviousTagSize0:32
 *   then per tag: tagType:8 dataSize:24 timestamp:24 timestampExtended:8 streamId:24 | body | PreviousTagSize:32
 *
 * The tag type is the low five bits of its byte (the Filter bit and the reserved bits are ignored,
 * as ffmpeg does); only audio (8), video (9) and script data (18) are accepted.
 *
 * Zero copy: a tag body that lies whole in one pushed Buffer is delivered as a `subarray` of it, so
 * a caller that reuses its read buffer must copy bodies it keeps. A body split across pushes is
 * copied into a Buffer that grows as its bytes arrive and ends at exactly its size.
 *
 * Memory: the demuxer holds at most one partial body (at most `maxTagSize` bytes, refused as soon
 * as a tag header announces more, and never more than twice the bytes received for it, or 4 KiB)
 * and one partial fixed-size field (11 bytes): memory is taken as bytes arrive, never on a size the
 * input announced. It never keeps a reference to a pushed Buffer.
 */
import type { MediaKind } from "@onair/core";
import { FlvError, FlvErrorCode } from "../errors.js";
import { FLV_HEADER_LENGTH, FLV_PREVIOUS_TAG_SIZE_LENGTH, FLV_TAG_HEADER_LENGTH } from "./flv-muxer.js";

/** The first Buffer of a body split across pushes, when the body is at least this long. */
const MIN_BODY_CAPACITY = 4096;

export interface FlvTag {
  kind: MediaKind;
  /** Milliseconds, 32 bits (timestamp and timestampExtended). */
  timestamp: number;
  body: Buffer;
  /** Always 0 in conforming files. */
  streamId: number;
}

export interface FlvDemuxerOptions {
  /** Largest tag body accepted, in bytes; a tag header announcing more throws `tagSize`. Default 16 MiB. */
  maxTagSize?: number;
  /**
   * Check each PreviousTagSize (and PreviousTagSize0 = 0) and throw `previousTagSize` on a mismatch.
   * Default false: many files in the wild have them wrong, and nothing depends on them when reading forward.
   */
  checkPreviousTagSize?: boolean;
}

export interface FlvFileHeader {
  version: number;
  /** The audio flag of the header (a hint: files may say one thing and carry another). */
  audio: boolean;
  video: boolean;
}

const DEFAULT_MAX_TAG_SIZE = 16 * 1024 * 1024;
const SIGNATURE = [0x46, 0x4c, 0x56]; // "FLV"
const FLV_VERSION = 1;
const FLAG_AUDIO = 0x04;
const FLAG_VIDEO = 0x01;
const TAG_KINDS: Partial<Record<number, MediaKind>> = { 8: "audio", 9: "video", 18: "script" };
const EMPTY = Buffer.alloc(0);

enum State {
  fileHeader,
  skipToData,
  previousTagSize,
  tagHeader,
  tagBody,
}

export class FlvDemuxer {
  readonly #maxTagSize: number;
  readonly #checkPreviousTagSize: boolean;
  #state = State.fileHeader;
  #header: FlvFileHeader | undefined;
  /** Bytes consumed so far, for error messages. */
  #position = 0;
  /** After an error the stream cannot be resynchronised; every later push throws it again. */
  #failure: unknown;

  /** A fixed-size field (file header, tag header, PreviousTagSize) that spans pushes is gathered here. */
  readonly #scratch = Buffer.alloc(FLV_TAG_HEADER_LENGTH);
  #scratchFilled = 0;
  /** Where the field just completed by #gather lies: in the chunk or in #scratch. */
  #field: Buffer = EMPTY;
  #fieldOffset = 0;

  #bytesToSkip = 0;
  #expectedPreviousTagSize = 0;
  #tagKind: MediaKind = "script";
  #tagSize = 0;
  #tagTimestamp = 0;
  #tagStreamId = 0;
  /** The body of the current tag once it spans pushes. */
  #body: Buffer | undefined;
  #bodyFilled = 0;

  constructor(options: FlvDemuxerOptions = {}) {
    this.#maxTagSize = options.maxTagSize ?? DEFAULT_MAX_TAG_SIZE;
    this.#checkPreviousTagSize = options.checkPreviousTagSize ?? false;
  }

  /** The parsed file header, once seen. */
  get header(): FlvFileHeader | undefined {
    return this.#header;
  }

  /** True when bytes of an unfinished header, tag or PreviousTagSize are held (for truncation checks at end of input). */
  get pending(): boolean {
    return this.#scratchFilled > 0 || this.#state === State.tagBody || this.#state === State.skipToData;
  }

  /**
   * Bytes held for unfinished fields and bodies: the partial body's Buffer, which grows with the
   * bytes received (at most twice them, or 4 KiB), plus a partial field of at most 11 bytes.
   */
  get bufferedBytes(): number {
    return this.#scratchFilled + (this.#body?.length ?? 0);
  }

  /**
   * Feeds bytes split anywhere; calls `onTag` for each complete tag, in order. Throws `FlvError`
   * (signature, tagType, tagSize, previousTagSize). After any throw, including one from `onTag`,
   * the demuxer is unusable and every later call throws the same error.
   */
  push(chunk: Buffer, onTag: (tag: FlvTag) => void): void {
    if (this.#failure !== undefined) throw this.#failure;
    try {
      this.#parse(chunk, onTag);
    } catch (error) {
      this.#failure = error;
      throw error;
    }
  }

  #parse(chunk: Buffer, onTag: (tag: FlvTag) => void): void {
    let at = 0;
    while (at < chunk.length) {
      switch (this.#state) {
        case State.fileHeader:
          at = this.#gather(chunk, at, FLV_HEADER_LENGTH);
          if (this.#scratchFilled === 0) this.#readFileHeader();
          break;
        case State.skipToData: {
          const skipped = Math.min(this.#bytesToSkip, chunk.length - at);
          at += skipped;
          this.#bytesToSkip -= skipped;
          this.#position += skipped;
          if (this.#bytesToSkip === 0) this.#state = State.previousTagSize;
          break;
        }
        case State.previousTagSize:
          at = this.#gather(chunk, at, FLV_PREVIOUS_TAG_SIZE_LENGTH);
          if (this.#scratchFilled === 0) this.#readPreviousTagSize();
          break;
        case State.tagHeader:
          at = this.#gather(chunk, at, FLV_TAG_HEADER_LENGTH);
          if (this.#scratchFilled === 0) {
            this.#readTagHeader();
            if (this.#tagSize === 0) this.#emit(EMPTY, onTag);
          }
          break;
        case State.tagBody:
          at = this.#readBody(chunk, at, onTag);
          break;
      }
    }
  }

  /**
   * Gathers a `length`-byte field starting at `at`. When it completes, `#scratchFilled` is 0 and
   * `#field`/`#fieldOffset` locate it; otherwise its bytes so far wait in `#scratch`. Returns the
   * new offset in `chunk`.
   */
  #gather(chunk: Buffer, at: number, length: number): number {
    if (this.#scratchFilled === 0 && chunk.length - at >= length) {
      this.#field = chunk;
      this.#fieldOffset = at;
      this.#position += length;
      return at + length;
    }
    const copied = chunk.copy(this.#scratch, this.#scratchFilled, at, at + length - this.#scratchFilled);
    this.#scratchFilled += copied;
    this.#position += copied;
    if (this.#scratchFilled === length) {
      this.#scratchFilled = 0;
      this.#field = this.#scratch;
      this.#fieldOffset = 0;
    }
    return at + copied;
  }

  #readFileHeader(): void {
    const bytes = this.#field;
    const at = this.#fieldOffset;
    if (
      bytes[at] !== SIGNATURE[0] ||
      bytes[at + 1] !== SIGNATURE[1] ||
      bytes[at + 2] !== SIGNATURE[2] ||
      bytes[at + 3] !== FLV_VERSION
    ) {
      throw new FlvError(
        FlvErrorCode.signature,
        'not an FLV file: expected the signature "FLV" and version 1',
      );
    }
    const flags = bytes[at + 4];
    const dataOffset = bytes.readUInt32BE(at + 5);
    if (dataOffset < FLV_HEADER_LENGTH) {
      throw new FlvError(
        FlvErrorCode.signature,
        `FLV header announces a data offset of ${dataOffset}, below 9`,
      );
    }
    this.#header = {
      version: bytes[at + 3],
      audio: (flags & FLAG_AUDIO) !== 0,
      video: (flags & FLAG_VIDEO) !== 0,
    };
    this.#bytesToSkip = dataOffset - FLV_HEADER_LENGTH;
    this.#expectedPreviousTagSize = 0;
    this.#state = this.#bytesToSkip > 0 ? State.skipToData : State.previousTagSize;
  }

  #readPreviousTagSize(): void {
    const size = this.#field.readUInt32BE(this.#fieldOffset);
    if (this.#checkPreviousTagSize && size !== this.#expectedPreviousTagSize) {
      throw new FlvError(
        FlvErrorCode.previousTagSize,
        `PreviousTagSize ${size} at byte ${this.#position - FLV_PREVIOUS_TAG_SIZE_LENGTH} should be ${this.#expectedPreviousTagSize}`,
      );
    }
    this.#state = State.tagHeader;
  }

  #readTagHeader(): void {
    const bytes = this.#field;
    const at = this.#fieldOffset;
    const start = this.#position - FLV_TAG_HEADER_LENGTH;
    const tagType = bytes[at] & 0x1f;
    const kind = TAG_KINDS[tagType];
    if (kind === undefined) {
      throw new FlvError(
        FlvErrorCode.tagType,
        `FLV tag type ${tagType} at byte ${start} is not audio, video or script data`,
      );
    }
    const size = bytes.readUIntBE(at + 1, 3);
    if (size > this.#maxTagSize) {
      throw new FlvError(
        FlvErrorCode.tagSize,
        `FLV tag of ${size} bytes at byte ${start} exceeds the maximum of ${this.#maxTagSize}`,
      );
    }
    this.#tagKind = kind;
    this.#tagSize = size;
    this.#tagTimestamp = ((bytes[at + 7] << 24) | bytes.readUIntBE(at + 4, 3)) >>> 0;
    this.#tagStreamId = bytes.readUIntBE(at + 8, 3);
    this.#state = State.tagBody;
  }

  #readBody(chunk: Buffer, at: number, onTag: (tag: FlvTag) => void): number {
    const available = chunk.length - at;
    const size = this.#tagSize;
    const filled = this.#bodyFilled;
    let body = this.#body;
    if (body === undefined && available >= size) {
      this.#position += size;
      this.#emit(chunk.subarray(at, at + size), onTag);
      return at + size;
    }
    const take = Math.min(available, size - filled);
    if (body === undefined || body.length < filled + take) {
      // Grow as bytes arrive, never on the announced size: at most twice what came (or 4 KiB).
      const capacity = Math.min(size, Math.max(filled + take, 2 * (body?.length ?? 0), MIN_BODY_CAPACITY));
      const grown = Buffer.allocUnsafe(capacity);
      if (body !== undefined) body.copy(grown, 0, 0, filled);
      body = grown;
      this.#body = body;
    }
    chunk.copy(body, filled, at, at + take);
    this.#bodyFilled = filled + take;
    this.#position += take;
    if (this.#bodyFilled === size) {
      this.#body = undefined;
      this.#bodyFilled = 0;
      this.#emit(body, onTag);
    }
    return at + take;
  }

  #emit(body: Buffer, onTag: (tag: FlvTag) => void): void {
    this.#expectedPreviousTagSize = FLV_TAG_HEADER_LENGTH + this.#tagSize;
    this.#state = State.previousTagSize;
    onTag({ kind: this.#tagKind, timestamp: this.#tagTimestamp, body, streamId: this.#tagStreamId });
  }
}
