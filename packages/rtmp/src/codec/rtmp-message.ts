/**
 * An RTMP message as the chunk stream carries it (Adobe RTMP spec, section 5.4 and 6.1): the
 * reassembled payload with its header fields, the timestamp made absolute.
 */
export interface RtmpMessage {
  /** Chunk stream it travels on: 2 for protocol control, 3..65599 for the rest. */
  chunkStreamId: number;
  /** One of {@link MessageType}. */
  typeId: number;
  /** 0 for the connection (control and NetConnection commands), else the NetStream id. */
  messageStreamId: number;
  /** Absolute, in milliseconds, an unsigned 32-bit number that wraps mod 2^32. */
  timestamp: number;
  payload: Buffer;
}

/** Message type ids (spec sections 5.4 and 7.1). */
export const MessageType = {
  setChunkSize: 1,
  abort: 2,
  acknowledgement: 3,
  userControl: 4,
  windowAckSize: 5,
  setPeerBandwidth: 6,
  audio: 8,
  video: 9,
  dataAmf3: 15,
  sharedObjectAmf3: 16,
  commandAmf3: 17,
  dataAmf0: 18,
  sharedObjectAmf0: 19,
  commandAmf0: 20,
  aggregate: 22,
} as const;

/** User control event types (spec section 7.1.7). */
export const UserControlEvent = {
  streamBegin: 0,
  streamEof: 1,
  streamDry: 2,
  setBufferLength: 3,
  streamIsRecorded: 4,
  pingRequest: 6,
  pingResponse: 7,
} as const;

/** The largest chunk size Set Chunk Size can announce: 31 bits, the top bit must be 0 (spec 5.4.1). */
export const MAX_CHUNK_SIZE = 0x7fffffff;
