import type { ByteOutput } from "@onair/core";
import type { WebSocket } from "ws";

/** A WebSocket close reason must fit 123 bytes of UTF-8. */
export const MAX_CLOSE_REASON = 123;

/** `text` cut to at most `maxBytes` of UTF-8, on a character boundary, with "…" when cut. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let end = text.length;
  while (end > 0 && Buffer.byteLength(text.slice(0, end)) > maxBytes - 3) end--;
  // Do not end on the first half of a surrogate pair.
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/**
 * WS-FLV messages are pieces of one FLV byte stream (players feed them to their demuxer in
 * order), so a large write, like a joining player's cached GOP, goes out as messages of at most
 * this size: the player can start on the first one before the rest has arrived.
 */
const MAX_WS_MESSAGE = 64 * 1024;

/** A ws socket as a byte output. */
export class WebSocketOutput implements ByteOutput {
  constructor(readonly socket: WebSocket) {}
  write(chunk: Buffer): boolean {
    for (let at = 0; at < chunk.length; at += MAX_WS_MESSAGE)
      this.socket.send(chunk.subarray(at, at + MAX_WS_MESSAGE), { binary: true });
    return true;
  }
  get writableLength(): number {
    return this.socket.bufferedAmount;
  }
}
