/**
 * Hostile bytes against a real server: each bad connection is closed with the typed error its
 * bytes earn, while a healthy stream (ffmpeg publishing, our client playing) keeps flowing.
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
import { seededRandom } from "../../../test-support/seeded-random.js";
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

describe("RTMP server under bad input", () => {
  let hub: StreamHub;
  let server: RtmpServer;
  let port: number;
  let publisher: RunningProcess;
  let client: RtmpClient;
  let received = 0;
  const closedWith = new Map<string, Error | undefined>();

  beforeAll(async () => {
    // An interop test fails, not skips, when its real peer is missing.
    if (!hasFfmpeg) throw new Error("ffmpeg and ffprobe are needed (apt-get install -y ffmpeg)");
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
    publisher = publishWithFfmpeg(`rtmp://127.0.0.1:${port}/live/healthy`, { seconds: 300 });
    await waitFor(() => hub.isLive("live/healthy"), 10_000, "healthy publish");
    client = await RtmpClient.connect(`rtmp://127.0.0.1:${port}/live`);
    const reader = await client.play("healthy");
    reader.attach({ packet: () => void received++, end: () => {} });
  });

  afterAll(async () => {
    publisher?.kill();
    client?.close();
    hub?.close();
    await server?.close();
  });

  /** The healthy publisher and player are untouched: packets keep coming, nothing else is connected. */
  async function expectHealthyStreamCarriedOn(): Promise<void> {
    const before = received;
    await waitFor(() => received >= before + 10, 5000, "packets on the healthy stream");
    expect(publisher.child.exitCode).toBeNull();
    expect(hub.isLive("live/healthy")).toBe(true);
    expect(hub.get("live/healthy")?.writerCount).toBe(1);
    await waitFor(
      () => server.connectionCount === 2,
      5000,
      "only the healthy publisher and player connected",
    );
  }

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
    expect(socket.destroyed).toBe(true);
    await waitFor(() => closedWith.has(key), 2000, "server-side close");
    return closedWith.get(key);
  }

  async function expectCode(error: Error | undefined, code: string): Promise<void> {
    expect(error).toBeInstanceOf(RtmpProtocolError);
    expect((error as RtmpProtocolError).code).toBe(code);
    await expectHealthyStreamCarriedOn();
  }

  const connectBody = (extra: Buffer): Buffer => Buffer.concat([encodeAmf0(["connect", 1]), extra]);
  const command = (payload: Buffer) =>
    encodeChunks({ chunkStreamId: 3, typeId: 20, messageStreamId: 0, timestamp: 0, payload }, 128);

  it("garbage instead of a handshake", async () => {
    await expectCode(
      await attack(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(100)), false),
      RtmpErrorCode.handshakeVersion,
    );
  });

  it("a client that never finishes the handshake is closed by the handshake timeout", async () => {
    await expectCode(await attack(Buffer.from([3, 1, 2, 3]), false), RtmpErrorCode.timeout);
  });

  it("garbage after the handshake", async () => {
    // A type-3 chunk (fmt 3, csid 9) on a chunk stream that never had a header.
    await expectCode(await attack(Buffer.from([0xc9, 1, 2, 3, 4, 5]), true), RtmpErrorCode.chunkHeader);
  });

  it("an absurd chunk size", async () => {
    const bad = encodeChunks(setChunkSizeMessage(1), 128);
    bad.writeUInt32BE(0x80000000, bad.length - 4);
    await expectCode(await attack(bad, true), RtmpErrorCode.chunkSize);
  });

  it("a message longer than the limit", async () => {
    // Type-0 header announcing a 16 MB video message.
    const header = Buffer.from([0x06, 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0]);
    await expectCode(await attack(header, true), RtmpErrorCode.messageSize);
  });

  it("a truncated AMF command body", async () => {
    const body = encodeAmf0(["connect", 1, { app: "live", tcUrl: "rtmp://x/live" }]);
    await expectCode(
      await attack(command(body.subarray(0, body.length - 7)), true),
      RtmpErrorCode.amfTruncated,
    );
  });

  it("a 100k-deep AMF body", async () => {
    const deep = Buffer.alloc(100_000 * 5);
    for (let i = 0; i < 100_000; i++) {
      deep[i * 5] = 0x0a; // strict array of one element: the next array
      deep.writeUInt32BE(1, i * 5 + 1);
    }
    await expectCode(await attack(command(connectBody(deep)), true), RtmpErrorCode.amfDepth);
  });

  it("a command before connect", async () => {
    await expectCode(
      await attack(command(encodeAmf0(["play", 0, null, "healthy"])), true),
      RtmpErrorCode.state,
    );
  });

  it("random bytes after the handshake, many connections at once, each closed with the error its first header earns", async () => {
    const random = seededRandom(12345);
    const byte = () => Math.floor(random() * 256);
    const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
    const randomBytes = (length: number) => Buffer.from(Array.from({ length }, byte));
    /** A type-0 chunk header on a 1-byte chunk stream id (3..63), the rest random. */
    const type0Header = (messageLength: number): Buffer => {
      const header = randomBytes(12);
      header[0] = between(3, 63);
      header.writeUIntBE(between(0, 0xfffffe), 1, 3); // no extended timestamp
      header.writeUIntBE(messageLength, 4, 3);
      return header;
    };
    const cases: { bytes: Buffer; code: string }[] = [];
    for (let i = 0; i < 7; i++) {
      // A type 1-3 chunk on a chunk stream that never had a header, then noise.
      const bytes = randomBytes(4096);
      bytes[0] = (between(1, 3) << 6) | between(3, 63);
      cases.push({ bytes, code: RtmpErrorCode.chunkHeader });
    }
    for (let i = 0; i < 7; i++) {
      const header = type0Header(between(MAX_MESSAGE + 1, 0xffffff));
      cases.push({ bytes: Buffer.concat([header, randomBytes(4084)]), code: RtmpErrorCode.messageSize });
    }
    for (let i = 0; i < 6; i++) {
      // A message announced and left unfinished inside its first chunk: it waits, then the idle timeout ends it.
      const header = type0Header(between(200, MAX_MESSAGE));
      cases.push({
        bytes: Buffer.concat([header, randomBytes(between(0, 127))]),
        code: RtmpErrorCode.timeout,
      });
    }
    const errors = await Promise.all(cases.map(({ bytes }) => attack(bytes, true)));
    expect(errors.map((error) => (error as RtmpProtocolError | undefined)?.code)).toEqual(
      cases.map(({ code }) => code),
    );
    for (const error of errors) expect(error).toBeInstanceOf(RtmpProtocolError);
    await expectHealthyStreamCarriedOn();
  }, 120_000);
});
