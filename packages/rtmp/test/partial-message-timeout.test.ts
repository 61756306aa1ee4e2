/**
 * partialMessageTimeoutMs: a peer that announces a large message and trickles it is never idle, so
 * the idle timeout does not end it; leaving a message partial that long does, with
 * ERR_RTMP_MESSAGE_TIMEOUT, however many messages complete on other chunk streams meanwhile. On fake timers with a fake socket, then once over
 * loopback next to a healthy publisher.
 */
import { EventEmitter } from "node:events";
import { connect, type Socket } from "node:net";
import { createMediaPacket, StreamHub } from "@onair/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { encodeChunks } from "../src/codec/chunk-encoder.js";
import { HandshakeClient } from "../src/codec/handshake.js";
import { MessageType, type RtmpMessage } from "../src/codec/rtmp-message.js";
import { RtmpErrorCode, RtmpProtocolError } from "../src/errors.js";
import { RtmpClient } from "../src/transport/rtmp-client.js";
import { RtmpConnection, type RtmpConnectionOptions } from "../src/transport/rtmp-connection.js";
import { createRtmpServer, type RtmpServer } from "../src/transport/rtmp-server.js";

/** Just what RtmpConnection uses of a socket; what the connection writes goes to `written`. */
class FakeSocket extends EventEmitter {
  remoteAddress = "10.0.0.9";
  remotePort = 40000;
  destroyed = false;
  written: Buffer[] = [];
  setNoDelay(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  write(bytes: Buffer): boolean {
    this.written.push(bytes);
    return true;
  }
  end(): this {
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

/** A server-side connection on a fake socket, past the handshake; `closed` holds what closed it. */
function readyConnection(options: RtmpConnectionOptions): {
  connection: RtmpConnection;
  send: (bytes: Buffer) => void;
  closed: { error: Error | undefined }[];
} {
  const socket = new FakeSocket();
  const connection = new RtmpConnection(socket as unknown as Socket, "server", options);
  const closed: { error: Error | undefined }[] = [];
  connection.on("close", (error) => closed.push({ error }));
  const handshake = new HandshakeClient({ digest: false });
  socket.emit("data", handshake.start());
  const step = handshake.push(Buffer.concat(socket.written));
  if (step.output !== undefined) socket.emit("data", step.output);
  expect(connection.ready).toBe(true);
  return { connection, send: (bytes) => socket.emit("data", bytes), closed };
}

/** A type-0 chunk header announcing a `length`-byte video message on chunk stream 6, stream 1. */
function header(length: number): Buffer {
  const bytes = Buffer.from([6, 0, 0, 0, 0, 0, 0, MessageType.video, 1, 0, 0, 0]);
  bytes.writeUIntBE(length, 4, 3);
  return bytes;
}

function video(length: number, timestamp: number): RtmpMessage {
  return {
    chunkStreamId: 6,
    typeId: MessageType.video,
    messageStreamId: 1,
    timestamp,
    payload: Buffer.alloc(length, 0x27),
  };
}

function codeOf(error: Error | undefined): string | undefined {
  expect(error).toBeInstanceOf(RtmpProtocolError);
  return (error as RtmpProtocolError).code;
}

describe("partialMessageTimeoutMs on fake timers", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("closes a trickler between 1 and 1.2 times the timeout after its last message, with ERR_RTMP_MESSAGE_TIMEOUT", () => {
    vi.useFakeTimers();
    const { connection, send, closed } = readyConnection({ partialMessageTimeoutMs: 1000 });
    // 16 MB announced, then one byte every 300 ms: never idle, never done.
    send(Buffer.concat([header(0xffffff), Buffer.from([0x17])]));
    for (let elapsed = 0; elapsed < 900; elapsed += 300) {
      vi.advanceTimersByTime(300);
      send(Buffer.from([0]));
    }
    expect(closed).toEqual([]);
    vi.advanceTimersByTime(100); // 1000 ms
    expect(closed).toEqual([]);
    vi.advanceTimersByTime(200); // 1200 ms
    expect(closed).toHaveLength(1);
    expect(codeOf(closed[0].error)).toBe(RtmpErrorCode.messageTimeout);
    expect(connection.closed).toBe(true);
    expect(connection.partialMessageBytes).toBe(0);
    expect(vi.getTimerCount()).toBe(0); // the check stopped with the connection
  });

  it("closes a trickler that completes small messages on other chunk streams all along", () => {
    vi.useFakeTimers();
    const { connection, send, closed } = readyConnection({ partialMessageTimeoutMs: 1000 });
    // 16 MB announced on chunk stream 6 and trickled a 128-byte chunk at a time, while a 10-byte
    // audio message on chunk stream 4 completes every 100 ms: the 16 MB never complete, however
    // busy the rest is.
    const audio = (timestamp: number) =>
      encodeChunks({ ...video(10, timestamp), chunkStreamId: 4, typeId: MessageType.audio }, 128);
    const nextChunk = Buffer.concat([Buffer.from([0xc6]), Buffer.alloc(128)]);
    send(Buffer.concat([header(0xffffff), Buffer.alloc(128, 0x17)]));
    for (let elapsed = 100; elapsed <= 1000; elapsed += 100) {
      vi.advanceTimersByTime(100);
      send(Buffer.concat([audio(elapsed), nextChunk]));
    }
    expect(closed).toEqual([]);
    expect(connection.partialMessageBytes).toBeGreaterThan(128 * 10);
    vi.advanceTimersByTime(100);
    send(audio(1100));
    vi.advanceTimersByTime(100); // 1200 ms
    expect(closed).toHaveLength(1);
    expect(codeOf(closed[0].error)).toBe(RtmpErrorCode.messageTimeout);
    expect(connection.partialMessageBytes).toBe(0);
  });

  it("leaves a peer whose messages complete, even if one is always partial when checked", () => {
    vi.useFakeTimers();
    const { send, closed } = readyConnection({ partialMessageTimeoutMs: 1000 });
    // Each 100-byte message arrives in two halves 50 ms apart, the next one starting with the end
    // of the last: a partial message is held at every check, but messages keep completing.
    let next = encodeChunks(video(100, 0), 128);
    send(next.subarray(0, 60));
    for (let t = 1; t <= 200; t++) {
      vi.advanceTimersByTime(50);
      const following = encodeChunks(video(100, t * 50), 128);
      send(Buffer.concat([next.subarray(60), following.subarray(0, 60)]));
      next = following;
    }
    expect(closed).toEqual([]); // 10 s, ten timeouts
  });

  it("does not count the time before a partial message starts, or a connection holding nothing", () => {
    vi.useFakeTimers();
    const { send, closed } = readyConnection({ partialMessageTimeoutMs: 1000 });
    vi.advanceTimersByTime(10_000); // quiet, nothing held: the idle timeout's business, not this one's
    expect(closed).toEqual([]);
    const message = encodeChunks(video(1000, 0), 128);
    send(message.subarray(0, 20));
    vi.advanceTimersByTime(900);
    expect(closed).toEqual([]);
    send(message.subarray(20)); // completes
    vi.advanceTimersByTime(10_000);
    expect(closed).toEqual([]);
    send(message.subarray(0, 20));
    vi.advanceTimersByTime(1200);
    expect(closed).toHaveLength(1);
    expect(codeOf(closed[0].error)).toBe(RtmpErrorCode.messageTimeout);
  });

  it("defaults to 60 s", () => {
    vi.useFakeTimers();
    const { send, closed } = readyConnection({});
    send(Buffer.concat([header(0xffffff), Buffer.alloc(1)]));
    for (let elapsed = 0; elapsed < 59_000; elapsed += 1000) {
      vi.advanceTimersByTime(1000);
      send(Buffer.alloc(1));
    }
    expect(closed).toEqual([]);
    vi.advanceTimersByTime(13_000);
    expect(closed).toHaveLength(1);
    expect(codeOf(closed[0].error)).toBe(RtmpErrorCode.messageTimeout);
  });

  it("0 turns it off: no timer at all", () => {
    vi.useFakeTimers();
    const { send, closed } = readyConnection({ partialMessageTimeoutMs: 0 });
    send(Buffer.concat([header(0xffffff), Buffer.alloc(1)]));
    expect(vi.getTimerCount()).toBe(0);
    for (let elapsed = 0; elapsed < 600_000; elapsed += 5000) {
      vi.advanceTimersByTime(5000);
      send(Buffer.alloc(1));
    }
    expect(closed).toEqual([]);
  });

  it("refuses a negative or non-finite timeout up front, on the connection and on the server", () => {
    const socket = new FakeSocket() as unknown as Socket;
    expect(() => new RtmpConnection(socket, "server", { partialMessageTimeoutMs: -1 })).toThrow(RangeError);
    expect(() => createRtmpServer({ handler: new StreamHub(), partialMessageTimeoutMs: Number.NaN })).toThrow(
      /partialMessageTimeoutMs/,
    );
  });

  it("refuses bad decoder limits when the server is made, not at its first connection", () => {
    expect(() => createRtmpServer({ handler: new StreamHub(), maxBufferedBytes: 0 })).toThrow(
      /maxBufferedBytes/,
    );
    expect(() => createRtmpServer({ handler: new StreamHub(), maxMessageSize: 1.5 })).toThrow(
      /maxMessageSize/,
    );
  });
});

describe("partialMessageTimeoutMs over loopback", () => {
  let server: RtmpServer | undefined;
  let hub: StreamHub | undefined;
  const sockets: Socket[] = [];
  const clients: RtmpClient[] = [];

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    for (const client of clients.splice(0)) client.close();
    await server?.close();
    hub?.close();
    server = undefined;
  });

  it("closes and counts a trickler while a healthy publisher on another connection goes on", async () => {
    hub = new StreamHub({ republishGraceMs: 0 });
    server = createRtmpServer({ handler: hub, host: "127.0.0.1", port: 0, partialMessageTimeoutMs: 300 });
    const refused: string[] = [];
    server.on("refused", (_remote, reason) => refused.push(reason));
    const { port } = await server.listen();

    const publisher = await RtmpClient.connect(`rtmp://127.0.0.1:${port}/live`);
    clients.push(publisher);
    const writer = await publisher.publish("cam");
    let timestamp = 0;
    const frames = setInterval(() => {
      timestamp += 40;
      writer.write(createMediaPacket("video", timestamp, Buffer.from([0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41])));
    }, 40);

    const socket = connect(port, "127.0.0.1");
    sockets.push(socket);
    socket.on("error", () => {});
    const handshake = new HandshakeClient({ digest: false });
    socket.once("connect", () => socket.write(handshake.start()));
    await new Promise<void>((resolve) => {
      socket.on("data", (chunk: Buffer) => {
        const step = handshake.push(chunk);
        if (step.output !== undefined) socket.write(step.output);
        if (step.done) resolve();
      });
    });
    const gone = new Promise<number>((resolve) => {
      const started = performance.now();
      socket.once("close", () => resolve(performance.now() - started));
    });
    socket.write(Buffer.concat([header(0xffffff), Buffer.from([0x17])]));
    // One byte every 50 ms: far inside any idle timeout.
    const trickle = setInterval(() => socket.write(Buffer.from([0])), 50);
    try {
      const after = await gone;
      expect(after).toBeGreaterThanOrEqual(290); // timer slack
      expect(after).toBeLessThan(5000);
      await vi.waitFor(() => expect(server?.stats().refused.messageTimeout).toBe(1), {
        timeout: 5000,
        interval: 10,
      });
      expect(refused).toEqual(["messageTimeout"]);
      // The publisher, whose messages complete, is still there after several timeouts.
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(publisher.closed).toBe(false);
      expect(hub.isLive("live/cam")).toBe(true);
      expect(server.stats()).toMatchObject({ connections: 1, partialMessageBytes: 0 });
      expect(server.stats().refused).toMatchObject({ messageTimeout: 1, protocolError: 0, idleTimeout: 0 });
    } finally {
      clearInterval(trickle);
      clearInterval(frames);
    }
  });
});
