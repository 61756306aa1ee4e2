/**
 * Hostile bytes against a real server: each bad connection is closed with a typed error while a
 * healthy stream (ffmpeg publishing, our client playing) keeps flowing.
 */
import { connect, type Socket } from "node:net";
import { StreamHub } from "@onair/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hasFfmpeg,
  publishWithFfmpeg,
  type RunningProcess,
  waitFor,
} from "../../../test-support/media-tools.js";
import {
  createRtmpServer,
  encodeAmf0,
  encodeChunks,
  HandshakeClient,
  RtmpClient,
  RtmpErrorCode,
  RtmpProtocolError,
  type RtmpServer,
  setChunkSizeMessage,
} from "../src/index.js";

const MAX_MESSAGE = 1024 * 1024;

describe.skipIf(!hasFfmpeg)("RTMP server under bad input", () => {
  let hub: StreamHub;
  let server: RtmpServer;
  let port: number;
  let publisher: RunningProcess;
  let client: RtmpClient;
  let received = 0;
  const closedWith = new Map<string, Error | undefined>();

  beforeAll(async () => {
    hub = new StreamHub();
    server = createRtmpServer({
      handler: hub,
      host: "127.0.0.1",
      port: 0,
      maxMessageSize: MAX_MESSAGE,
      handshakeTimeoutMs: 2000,
      idleTimeoutMs: 3000,
    });
    server.on("disconnect", (remote, error) => closedWith.set(remote, error));
    port = (await server.listen()).port;
    publisher = publishWithFfmpeg(`rtmp://127.0.0.1:${port}/live/healthy`, { seconds: 60 });
    await waitFor(() => hub.isLive("live/healthy"), 10_000, "healthy publish");
    client = await RtmpClient.connect(`rtmp://127.0.0.1:${port}/live`);
    const reader = await client.play("healthy");
    reader.attach({ packet: () => void received++, end: () => {} });
  });

  afterAll(async () => {
    publisher.kill();
    client.close();
    hub.close();
    await server.close();
  });

  /** Open a raw connection, optionally complete the handshake, send `bytes`, wait for the server to close it. */
  async function attack(bytes: Buffer, handshake: boolean): Promise<Error | undefined> {
    const socket: Socket = connect(port, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    const key = `127.0.0.1:${socket.localPort}`;
    socket.on("error", () => {});
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    if (handshake) {
      const hs = new HandshakeClient({ digest: false });
      socket.write(hs.start());
      await new Promise<void>((resolve) => {
        socket.on("data", (chunk: Buffer) => {
          const step = hs.push(chunk);
          if (step.output) socket.write(step.output);
          if (step.done) resolve();
        });
      });
    }
    socket.write(bytes);
    await closed;
    await waitFor(() => closedWith.has(key), 2000, "server-side close");
    return closedWith.get(key);
  }

  function expectCode(error: Error | undefined, code: string): void {
    expect(error).toBeInstanceOf(RtmpProtocolError);
    expect((error as RtmpProtocolError).code).toBe(code);
  }

  const connectBody = (extra: Buffer): Buffer => Buffer.concat([encodeAmf0(["connect", 1]), extra]);
  const command = (payload: Buffer) =>
    encodeChunks({ chunkStreamId: 3, typeId: 20, messageStreamId: 0, timestamp: 0, payload }, 128);

  it("garbage instead of a handshake", async () => {
    expectCode(
      await attack(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(100)), false),
      RtmpErrorCode.handshakeVersion,
    );
  });

  it("a client that never finishes the handshake is closed by the handshake timeout", async () => {
    expectCode(await attack(Buffer.from([3, 1, 2, 3]), false), RtmpErrorCode.timeout);
  });

  it("garbage after the handshake", async () => {
    // A type-3 chunk (fmt 3, csid 9) on a chunk stream that never had a header.
    expectCode(await attack(Buffer.from([0xc9, 1, 2, 3, 4, 5]), true), RtmpErrorCode.chunkHeader);
  });

  it("an absurd chunk size", async () => {
    const bad = encodeChunks(setChunkSizeMessage(1), 128);
    bad.writeUInt32BE(0x80000000, bad.length - 4);
    expectCode(await attack(bad, true), RtmpErrorCode.chunkSize);
  });

  it("a message longer than the limit", async () => {
    // Type-0 header announcing a 16 MB video message.
    const header = Buffer.from([0x06, 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0]);
    expectCode(await attack(header, true), RtmpErrorCode.messageSize);
  });

  it("a truncated AMF command body", async () => {
    const body = encodeAmf0(["connect", 1, { app: "live", tcUrl: "rtmp://x/live" }]);
    expectCode(await attack(command(body.subarray(0, body.length - 7)), true), RtmpErrorCode.amfTruncated);
  });

  it("a 100k-deep AMF body", async () => {
    const deep = Buffer.alloc(100_000 * 5);
    for (let i = 0; i < 100_000; i++) {
      deep[i * 5] = 0x0a; // strict array of one element: the next array
      deep.writeUInt32BE(1, i * 5 + 1);
    }
    expectCode(await attack(command(connectBody(deep)), true), RtmpErrorCode.amfDepth);
  });

  it("a command before connect", async () => {
    expectCode(await attack(command(encodeAmf0(["play", 0, null, "healthy"])), true), RtmpErrorCode.state);
  });

  it("random bytes after the handshake, many connections", async () => {
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 16;
    };
    const results = await Promise.all(
      Array.from({ length: 20 }, () => {
        const bytes = Buffer.alloc(4096, 0).map(() => random() & 0xff);
        return attack(Buffer.from(bytes), true).catch((e: Error) => e);
      }),
    );
    for (const error of results) {
      // Random bytes either break the protocol at once or stall until the idle timeout; all end typed.
      if (error !== undefined) expect(error).toBeInstanceOf(RtmpProtocolError);
    }
  }, 120_000);

  it("the healthy stream kept flowing to its player through all of it", async () => {
    const before = received;
    await new Promise((r) => setTimeout(r, 1000));
    expect(received).toBeGreaterThan(before + 20);
    expect(publisher.child.exitCode).toBeNull();
    expect(hub.get("live/healthy")?.writerCount).toBe(1);
    // Only the healthy publisher and player are still connected.
    await waitFor(() => server.connectionCount === 2, 5000, "bad connections gone");
  });
});
