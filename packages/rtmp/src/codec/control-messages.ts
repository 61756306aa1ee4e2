/**
 * Protocol control messages (Adobe RTMP spec, section 5.4) and user control messages (6.2, 7.1.7):
 * builders and one decoder. Every builder returns a message on chunk stream 2, message stream 0,
 * timestamp 0, as the spec requires of control messages. Bodies, all numbers big-endian:
 *
 *   1 Set Chunk Size       0:1 size:31
 *   2 Abort                chunk stream id:32
 *   3 Acknowledgement      sequence number:32 (bytes received so far, mod 2^32)
 *   5 Window Ack Size      window:32
 *   6 Set Peer Bandwidth   window:32 limit type:8 (0 hard, 1 soft, 2 dynamic)
 *   4 User Control         event:16 then event data:
 *       0 Stream Begin, 1 Stream EOF, 2 Stream Dry, 4 Stream Is Recorded   stream id:32
 *       3 Set Buffer Length                                                 stream id:32 buffer ms:32
 *       6 Ping Request, 7 Ping Response                                     timestamp:32
 *
 * Decoding accepts bodies longer than their fields (the rest is ignored, as ffmpeg does) and
 * refuses shorter ones.
 */
import { RtmpErrorCode, RtmpProtocolError } from "../errors.js";
import { MAX_CHUNK_SIZE, MessageType, type RtmpMessage, UserControlEvent } from "./rtmp-message.js";

const CONTROL_CHUNK_STREAM = 2;
const MAX_LIMIT_TYPE = 2;
const KNOWN_EVENTS: ReadonlySet<number> = new Set(Object.values(UserControlEvent));

export type ControlMessage =
  | { type: "setChunkSize"; size: number }
  | { type: "abort"; chunkStreamId: number }
  | { type: "acknowledgement"; sequenceNumber: number }
  | { type: "windowAckSize"; size: number }
  | { type: "setPeerBandwidth"; size: number; limitType: number }
  | { type: "userControl"; event: number; streamId: number; extra?: number };

function controlMessage(typeId: number, payload: Buffer): RtmpMessage {
  return { chunkStreamId: CONTROL_CHUNK_STREAM, typeId, messageStreamId: 0, timestamp: 0, payload };
}

function checkUInt32(value: number, what: string): void {
  if (value >>> 0 !== value) {
    throw new RtmpProtocolError(
      RtmpErrorCode.controlMessage,
      `${what} ${value} is not an unsigned 32-bit integer`,
    );
  }
}

function uint32Message(typeId: number, value: number, what: string): RtmpMessage {
  checkUInt32(value, what);
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(value, 0);
  return controlMessage(typeId, payload);
}

/** Set Chunk Size (1): the sender's chunks carry at most `size` payload bytes from now on. */
export function setChunkSizeMessage(size: number): RtmpMessage {
  if (!Number.isInteger(size) || size < 1 || size > MAX_CHUNK_SIZE) {
    throw new RtmpProtocolError(RtmpErrorCode.chunkSize, `chunk size ${size} is not in 1..${MAX_CHUNK_SIZE}`);
  }
  return uint32Message(MessageType.setChunkSize, size, "chunk size");
}

/** Abort (2): drop the partly received message of `chunkStreamId`. */
export function abortMessage(chunkStreamId: number): RtmpMessage {
  return uint32Message(MessageType.abort, chunkStreamId, "chunk stream id");
}

/** Acknowledgement (3): `sequenceNumber` bytes received so far (mod 2^32). */
export function acknowledgementMessage(sequenceNumber: number): RtmpMessage {
  return uint32Message(MessageType.acknowledgement, sequenceNumber, "sequence number");
}

/** Window Acknowledgement Size (5): acknowledge every `size` bytes. */
export function windowAckSizeMessage(size: number): RtmpMessage {
  return uint32Message(MessageType.windowAckSize, size, "window size");
}

/** Set Peer Bandwidth (6): limit the peer's output window to `size` (0 hard, 1 soft, 2 dynamic). */
export function setPeerBandwidthMessage(size: number, limitType: 0 | 1 | 2): RtmpMessage {
  checkUInt32(size, "peer bandwidth");
  if (!Number.isInteger(limitType) || limitType < 0 || limitType > MAX_LIMIT_TYPE) {
    throw new RtmpProtocolError(RtmpErrorCode.controlMessage, `peer bandwidth limit type ${limitType}`);
  }
  const payload = Buffer.allocUnsafe(5);
  payload.writeUInt32BE(size, 0);
  payload[4] = limitType;
  return controlMessage(MessageType.setPeerBandwidth, payload);
}

function isPing(event: number): boolean {
  return event === UserControlEvent.pingRequest || event === UserControlEvent.pingResponse;
}

/**
 * User Control (4). The event data is `streamId`, then for Set Buffer Length `extra` (the buffer
 * in ms, default 0). Ping events carry a timestamp instead of a stream id: `extra` if given, else
 * `streamId`, so a ping can be answered with `userControlMessage(pingResponse, decoded.streamId)`.
 * `extra` is ignored for other events.
 */
export function userControlMessage(event: number, streamId: number, extra?: number): RtmpMessage {
  if ((event & 0xffff) !== event) {
    throw new RtmpProtocolError(RtmpErrorCode.controlMessage, `user control event ${event} is not 16 bits`);
  }
  const first = isPing(event) ? (extra ?? streamId) : streamId;
  checkUInt32(first, "user control event data");
  const withBufferLength = event === UserControlEvent.setBufferLength;
  const payload = Buffer.allocUnsafe(withBufferLength ? 10 : 6);
  payload.writeUInt16BE(event, 0);
  payload.writeUInt32BE(first, 2);
  if (withBufferLength) {
    const bufferLength = extra ?? 0;
    checkUInt32(bufferLength, "buffer length");
    payload.writeUInt32BE(bufferLength, 6);
  }
  return controlMessage(MessageType.userControl, payload);
}

function tooShort(what: string, payload: Buffer, needed: number): RtmpProtocolError {
  return new RtmpProtocolError(
    RtmpErrorCode.controlMessage,
    `${what} of ${payload.length} bytes, needs at least ${needed}`,
  );
}

function readUInt32Body(what: string, payload: Buffer): number {
  if (payload.length < 4) throw tooShort(what, payload, 4);
  return payload.readUInt32BE(0);
}

function decodeUserControl(payload: Buffer): ControlMessage {
  if (payload.length < 2) throw tooShort("User Control message", payload, 2);
  const event = payload.readUInt16BE(0);
  if (!KNOWN_EVENTS.has(event)) {
    // Not in the spec (FMS's BufferEmpty 31, BufferReady 32, SWF verification 26/27, ...): passed on.
    return { type: "userControl", event, streamId: payload.length >= 6 ? payload.readUInt32BE(2) : 0 };
  }
  const needed = event === UserControlEvent.setBufferLength ? 10 : 6;
  if (payload.length < needed) throw tooShort(`User Control event ${event}`, payload, needed);
  const streamId = payload.readUInt32BE(2);
  if (event === UserControlEvent.setBufferLength) {
    return { type: "userControl", event, streamId, extra: payload.readUInt32BE(6) };
  }
  // A ping's only field is its timestamp: reported as both, see userControlMessage.
  if (isPing(event)) return { type: "userControl", event, streamId, extra: streamId };
  return { type: "userControl", event, streamId };
}

/**
 * Decode the body of a protocol control (1, 2, 3, 5, 6) or user control (4) message. A body too
 * short for its fields, a chunk size of 0 or with the top bit set, a limit type above 2, or any
 * other message type throws RtmpProtocolError `controlMessage`.
 */
export function decodeControlMessage(message: RtmpMessage): ControlMessage {
  const { payload } = message;
  switch (message.typeId) {
    case MessageType.setChunkSize: {
      const size = readUInt32Body("Set Chunk Size message", payload);
      if (size === 0 || size > MAX_CHUNK_SIZE) {
        throw new RtmpProtocolError(RtmpErrorCode.controlMessage, `Set Chunk Size to ${size}`);
      }
      return { type: "setChunkSize", size };
    }
    case MessageType.abort:
      return { type: "abort", chunkStreamId: readUInt32Body("Abort message", payload) };
    case MessageType.acknowledgement:
      return { type: "acknowledgement", sequenceNumber: readUInt32Body("Acknowledgement message", payload) };
    case MessageType.windowAckSize:
      return { type: "windowAckSize", size: readUInt32Body("Window Acknowledgement Size message", payload) };
    case MessageType.setPeerBandwidth: {
      if (payload.length < 5) throw tooShort("Set Peer Bandwidth message", payload, 5);
      const limitType = payload[4];
      if (limitType > MAX_LIMIT_TYPE) {
        throw new RtmpProtocolError(
          RtmpErrorCode.controlMessage,
          `Set Peer Bandwidth limit type ${limitType}`,
        );
      }
      return { type: "setPeerBandwidth", size: payload.readUInt32BE(0), limitType };
    }
    case MessageType.userControl:
      return decodeUserControl(payload);
    default:
      throw new RtmpProtocolError(
        RtmpErrorCode.controlMessage,
        `message type ${message.typeId} is not a control message`,
      );
  }
}
