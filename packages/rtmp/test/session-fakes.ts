/** Test doubles for the server session: a transport that records, and command builders. */
import type { ByteOutput } from "@onair/core";
import {
  type AmfObject,
  type AmfValue,
  decodeCommand,
  encodeAmf0,
  MessageType,
  type RtmpMessage,
  type SessionTransport,
} from "../src/index.js";

/** Records what a session sends; `raw` holds the shared pre-encoded media Buffers as written. */
export class RecordingTransport implements SessionTransport {
  readonly sent: RtmpMessage[] = [];
  readonly raw: Buffer[] = [];
  /** "open" until closed; then the error it was closed with (undefined for a clean close). */
  closed: Error | undefined | "open" = "open";
  chunkSize = 128;
  readonly remoteAddress: string;
  readonly output: ByteOutput = {
    write: (chunk: Buffer) => {
      this.raw.push(chunk);
      return true;
    },
    writableLength: 0,
  };

  constructor(remoteAddress = "127.0.0.1:5000") {
    this.remoteAddress = remoteAddress;
  }

  send(message: RtmpMessage): void {
    // Like a real connection: nothing goes out after close.
    if (this.closed === "open") this.sent.push(message);
  }
  setChunkSize(size: number): void {
    this.chunkSize = size;
  }
  close(error?: Error): void {
    if (this.closed === "open") this.closed = error;
  }

  /** Decoded commands sent, in order. */
  commands(): { name: string; args: AmfValue[]; streamId: number }[] {
    return this.sent
      .filter((m) => m.typeId === MessageType.commandAmf0)
      .map((m) => ({ ...decodeCommand(m), streamId: m.messageStreamId }));
  }

  /** Status codes (onStatus and _error) sent, in order. */
  statusCodes(): string[] {
    return this.commands()
      .filter((c) => c.name === "onStatus" || c.name === "_error")
      .map((c) => String((c.args[0] as AmfObject | undefined)?.code));
  }

  /** The value of the last `_result` sent. */
  lastResult(): AmfValue | undefined {
    for (let i = this.sent.length - 1; i >= 0; i--) {
      const message = this.sent[i];
      if (message.typeId !== MessageType.commandAmf0) continue;
      const decoded = decodeCommand(message);
      if (decoded.name === "_result") return decoded.args[0];
    }
    return undefined;
  }
}

/** An AMF0 command message as a client sends it. */
export function command(
  name: string,
  transactionId: number,
  commandObject: AmfValue,
  args: AmfValue[] = [],
  messageStreamId = 0,
): RtmpMessage {
  return {
    chunkStreamId: 3,
    typeId: MessageType.commandAmf0,
    messageStreamId,
    timestamp: 0,
    payload: encodeAmf0([name, transactionId, commandObject, ...args]),
  };
}

/** The connect command for `app`. */
export function connectCommand(app: string): RtmpMessage {
  return command("connect", 1, { app, tcUrl: `rtmp://127.0.0.1/${app}`, objectEncoding: 0 });
}

/** A media message on a stream, as a publisher sends it. */
export function mediaMessage(
  kind: "audio" | "video",
  timestamp: number,
  payload: Buffer,
  messageStreamId: number,
): RtmpMessage {
  return {
    chunkStreamId: kind === "audio" ? 4 : 6,
    typeId: kind === "audio" ? MessageType.audio : MessageType.video,
    messageStreamId,
    timestamp,
    payload,
  };
}

/** Let promise callbacks and one round of timers-free microtasks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
  await new Promise((resolve) => setImmediate(resolve));
}
