/**
 * The partial-message budgets wired through a real RtmpServer over loopback: the server-wide budget
 * closes the connection that would go over and no other, a closed connection gives its bytes back,
 * and the per-connection limit closes a connection on its own.
 */
import { connect, type Socket } from "node:net";
import { StreamHub } from "@onair/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { encodeChunks } from "../src/codec/chunk-encoder.js";
import { setChunkSizeMessage } from "../src/codec/control-messages.js";
import { HandshakeClient } from "../src/codec/handshake.js";
import { MAX_CHUNK_SIZE } from "../src/codec/rtmp-message.js";
import { RtmpErrorCode, RtmpProtocolError } from "../src/errors.js";
import { createRtmpServer, type RtmpServer, type RtmpServerOptions } from "../src/transport/rtmp-server.js";
import { pattern } from "./chunk-vectors.js";

let server: RtmpServer | undefined;
const sockets: Socket[] = [];
const closedWith = new Map<string, Error | undefined>();

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await server?.close();
  server = undefined;
  closedWith.clear();
});

async function start(options: Partial<RtmpServerOptions>): Promise<number> {
  server = createRtmpServer({ handler: new StreamHub(), host: "127.0.0.1", port: 0, ...options });
  server.on("disconnect", (remote, error) => closedWith.set(remote, error));
  return (await server.listen()).port;
}

/** A raw client past the handshake, at chunk size 0x7fffffff, with a header announcing `length` bytes sent. */
async function partialMessage(port: number, length: number): Promise<{ socket: Socket; key: string }> {
  const socket = connect(port, "127.0.0.1");
  sockets.push(socket);
  socket.on("error", () => {});
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  const handshake = new HandshakeClient({ digest: false });
  socket.write(handshake.start());
  await new Promise<void>((resolve) => {
    socket.on("data", (chunk: Buffer) => {
      const step = handshake.push(chunk);
      if (step.output) socket.write(step.output);
      if (step.done) resolve();
    });
  });
  const header = Buffer.from([6, 0, 0, 0, 0, 0, 0, 9, 1, 0, 0, 0]);
  header.writeUIntBE(length, 4, 3);
  socket.write(Buffer.concat([encodeChunks(setChunkSizeMessage(MAX_CHUNK_SIZE), 128), header]));
  return { socket, key: `127.0.0.1:${socket.localPort}` };
}

const held = () => server?.stats().partialMessageBytes ?? 0;
const WAIT = { timeout: 5000, interval: 10 };

describe("RtmpServer partial-message budgets", () => {
  it("maxServerBufferedBytes closes the connection that would go over, not the others, and closing gives bytes back", async () => {
    // However the reads split, a holds 45 000..50 000 bytes (its message's length), b 45 000..90 000
    // (twice what it sent), so both fit in 140 000 whatever happens, and c's 60 000 never do.
    const port = await start({ maxServerBufferedBytes: 140_000 });
    const a = await partialMessage(port, 50_000);
    const b = await partialMessage(port, 0xffffff);
    a.socket.write(pattern(45_000, 1));
    await vi.waitFor(() => expect(held()).toBeGreaterThanOrEqual(45_000), WAIT);
    b.socket.write(pattern(45_000, 2));
    await vi.waitFor(() => expect(held()).toBeGreaterThanOrEqual(90_000), WAIT);

    const c = await partialMessage(port, 0xffffff);
    c.socket.write(pattern(60_000, 3));
    await vi.waitFor(() => expect(closedWith.has(c.key)).toBe(true), WAIT);
    const error = closedWith.get(c.key);
    expect(error).toBeInstanceOf(RtmpProtocolError);
    expect((error as RtmpProtocolError).code).toBe(RtmpErrorCode.serverBufferLimit);
    expect(server?.connectionCount).toBe(2);

    // b is closed by its peer: its bytes go back. a completes its message: its bytes go back too.
    b.socket.destroy();
    await vi.waitFor(() => expect(closedWith.has(b.key)).toBe(true), WAIT);
    expect(held()).toBeGreaterThanOrEqual(45_000);
    expect(held()).toBeLessThanOrEqual(50_000);
    a.socket.write(pattern(5_000, 4));
    await vi.waitFor(() => expect(held()).toBe(0), WAIT);
    // Nothing leaked from the server's budget: a newcomer may hold 60 000..120 000 bytes of it.
    const d = await partialMessage(port, 0xffffff);
    d.socket.write(pattern(60_000, 5));
    await vi.waitFor(() => expect(held()).toBeGreaterThanOrEqual(60_000), WAIT);
    expect(closedWith.has(d.key)).toBe(false);
    expect(closedWith.has(a.key)).toBe(false);
  });

  it("maxBufferedBytes closes a connection holding more on its own", async () => {
    const port = await start({ maxBufferedBytes: 10_000 });
    const a = await partialMessage(port, 0xffffff);
    const b = await partialMessage(port, 0xffffff);
    b.socket.write(pattern(5_000, 1));
    a.socket.write(pattern(30_000, 2));
    await vi.waitFor(() => expect(closedWith.has(a.key)).toBe(true), WAIT);
    expect((closedWith.get(a.key) as RtmpProtocolError).code).toBe(RtmpErrorCode.bufferLimit);
    expect(closedWith.has(b.key)).toBe(false);
    expect(server?.connectionCount).toBe(1);
  });
});
