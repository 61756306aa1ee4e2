import type { MediaPacket, WireEncoder } from "@onair/core";
import { encodeChunks } from "./chunk-encoder.js";
import { ChunkStream } from "./command.js";
import { MessageType } from "./rtmp-message.js";

const TYPE_BY_KIND = {
  audio: MessageType.audio,
  video: MessageType.video,
  script: MessageType.dataAmf0,
} as const;
const CHUNK_STREAM_BY_KIND = {
  audio: ChunkStream.audio,
  video: ChunkStream.video,
  script: ChunkStream.data,
} as const;

/**
 * Encodes a packet as RTMP chunks with a type-0 first header, so the bytes do not depend on
 * what a player was sent before and one Buffer serves every player with the same chunk size
 * and message stream id.
 */
export class RtmpMediaEncoder implements WireEncoder {
  constructor(
    readonly chunkSize: number,
    readonly messageStreamId: number,
  ) {}

  encode(packet: MediaPacket): Buffer {
    return encodeChunks(
      {
        chunkStreamId: CHUNK_STREAM_BY_KIND[packet.kind],
        typeId: TYPE_BY_KIND[packet.kind],
        messageStreamId: this.messageStreamId,
        timestamp: packet.timestamp,
        payload: packet.payload,
      },
      this.chunkSize,
    );
  }
}

const encoders = new Map<number, RtmpMediaEncoder>();

/** The shared encoder for a chunk size and message stream id (players almost all use stream 1). */
export function rtmpMediaEncoder(chunkSize: number, messageStreamId: number): RtmpMediaEncoder {
  // Chunk sizes are < 2^31 and stream ids small: one number keys both.
  const key = messageStreamId * 0x80000000 + chunkSize;
  let encoder = encoders.get(key);
  if (encoder === undefined) {
    encoder = new RtmpMediaEncoder(chunkSize, messageStreamId);
    if (encoders.size < 1024) encoders.set(key, encoder);
  }
  return encoder;
}
