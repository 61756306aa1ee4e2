/**
 * The handshake against real peers: ffmpeg publishing to and playing from a bare TCP server that
 * runs only HandshakeServer, and HandshakeClient against nginx-rtmp.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasFfmpeg, type RunningProcess, run, waitFor } from "../../../test-support/media-tools.js";
import { hasNginxRtmp, type NginxRtmp, startNginxRtmp } from "../../../test-support/nginx-rtmp.js";
import { HandshakeClient, HandshakeServer } from "../src/codec/handshake.js";

/** Chunk basic header + type 0 message header, and the AMF0 string "connect" that starts the payload. */
const CONNECT_PREFIX_LENGTH = 12 + 3 + "connect".length;

interface CapturedHandshake {
  handshake: HandshakeServer;
  /** The first bytes the client sent after C2. */
  after: Buffer;
}

/** A loopback server that runs HandshakeServer on the first connection and keeps what follows. */
async function listenForHandshake(): Promise<{
  port: number;
  captured: Promise<CapturedHandshake>;
  close: () => Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let settle: { resolve: (value: CapturedHandshake) => void; reject: (error: unknown) => void } | undefined;
  const captured = new Promise<CapturedHandshake>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    const handshake = new HandshakeServer();
    let done = false;
    const after: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => {
      try {
        let data = chunk;
        if (!done) {
          const step = handshake.push(chunk);
          if (step.output !== undefined) socket.write(step.output);
          if (!step.done) return;
          done = true;
          data = step.remainder;
        }
        after.push(data);
        const bytes = Buffer.concat(after);
        if (bytes.length >= CONNECT_PREFIX_LENGTH) settle?.resolve({ handshake, after: bytes });
      } catch (error) {
        settle?.reject(error);
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return { port, captured, close };
}

/** Rejects if `process` ends first, with the end of its stderr to say why. */
function failOnExit(process: RunningProcess, what: string): Promise<never> {
  return process.exited.then((code) => {
    throw new Error(
      `${what} exited (${code}) before the handshake finished:\n${process.stderr().slice(-3000)}`,
    );
  });
}

describe.skipIf(!hasFfmpeg)(
  `HandshakeServer with real ffmpeg${hasFfmpeg ? "" : " (skipped: ffmpeg not installed)"}`,
  () => {
    const processes: RunningProcess[] = [];
    afterAll(async () => {
      for (const p of processes) p.kill();
      await Promise.all(processes.map((p) => p.exited));
    });

    const modes = {
      publish: (url: string) => [
        "-loglevel",
        "debug",
        "-re",
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=10",
        "-t",
        "2",
        "-c:v",
        "libx264",
        "-f",
        "flv",
        url,
      ],
      // When playing, ffmpeg checks the S1 digest and the S2 signature before it sends C2.
      play: (url: string) => ["-loglevel", "debug", "-i", url, "-f", "null", "-"],
    };

    for (const [mode, args] of Object.entries(modes)) {
      it(`completes the digest handshake with ffmpeg ${mode}ing, then reads its connect command`, async () => {
        const listener = await listenForHandshake();
        const ffmpeg = run("ffmpeg", args(`rtmp://127.0.0.1:${listener.port}/live/x`));
        processes.push(ffmpeg);
        try {
          const { handshake, after } = await Promise.race([listener.captured, failOnExit(ffmpeg, "ffmpeg")]);
          // ffmpeg sends a Flash-style C1, so we answered with digests.
          expect(handshake.digestHandshake).toBe(true);
          // Publishing it echoes S1; playing it signs C2 with our S1 digest, having verified S1 and S2.
          expect(handshake.peerVerified).toBe(true);
          // A type 0 chunk on chunk stream 3: timestamp, length, message type 20 (AMF0 command), stream 0.
          expect(after[0]).toBe(0x03);
          const length = after.readUIntBE(4, 3);
          expect(length).toBeGreaterThan(0);
          expect(length).toBeLessThan(4096);
          expect(after[7]).toBe(20);
          expect(after.readUInt32LE(8)).toBe(0);
          // The command name, an AMF0 string.
          expect(after[12]).toBe(0x02);
          expect(after.readUInt16BE(13)).toBe(7);
          expect(after.toString("latin1", 15, 22)).toBe("connect");
        } finally {
          ffmpeg.kill();
          await ffmpeg.exited;
          await listener.close();
        }
      });
    }
  },
);

/** AMF0 encoding, just enough for a connect command. */
function amf0String(value: string): Buffer {
  const bytes = Buffer.from(value, "utf8");
  const out = Buffer.alloc(3 + bytes.length);
  out[0] = 0x02;
  out.writeUInt16BE(bytes.length, 1);
  bytes.copy(out, 3);
  return out;
}

function amf0Number(value: number): Buffer {
  const out = Buffer.alloc(9);
  out[0] = 0x00;
  out.writeDoubleBE(value, 1);
  return out;
}

function amf0Object(properties: Record<string, string>): Buffer {
  const parts: Buffer[] = [Buffer.from([0x03])];
  for (const [key, value] of Object.entries(properties)) {
    const name = Buffer.from(key, "utf8");
    const length = Buffer.alloc(2);
    length.writeUInt16BE(name.length);
    parts.push(length, name, amf0String(value));
  }
  parts.push(Buffer.from([0x00, 0x00, 0x09]));
  return Buffer.concat(parts);
}

/** `connect` as a single type 0 chunk on chunk stream 3 (payload under the default 128-byte chunk size). */
function connectChunk(app: string, tcUrl: string): Buffer {
  const payload = Buffer.concat([amf0String("connect"), amf0Number(1), amf0Object({ app, tcUrl })]);
  expect(payload.length).toBeLessThanOrEqual(128);
  const header = Buffer.alloc(12);
  header[0] = 0x03;
  header.writeUIntBE(0, 1, 3);
  header.writeUIntBE(payload.length, 4, 3);
  header[7] = 20;
  header.writeUInt32LE(0, 8);
  return Buffer.concat([header, payload]);
}

/** Handshake with HandshakeClient, send connect, and resolve once the server says Connect.Success. */
function handshakeAndConnect(
  port: number,
  digest: boolean,
): Promise<{ client: HandshakeClient; reply: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const client = new HandshakeClient({ digest });
    let done = false;
    const received: Buffer[] = [];
    socket.on("connect", () => socket.write(client.start()));
    socket.on("error", reject);
    socket.on("close", () => reject(new Error(`connection closed; handshake done: ${done}`)));
    socket.on("data", (chunk: Buffer) => {
      try {
        let data = chunk;
        if (!done) {
          const step = client.push(chunk);
          if (step.output !== undefined) socket.write(step.output);
          if (!step.done) return;
          done = true;
          socket.write(connectChunk("live", `rtmp://127.0.0.1:${port}/live`));
          data = step.remainder;
        }
        received.push(data);
        const reply = Buffer.concat(received);
        if (reply.includes("NetConnection.Connect.Success")) {
          socket.destroy();
          resolve({ client, reply });
        }
      } catch (error) {
        socket.destroy();
        reject(error);
      }
    });
  });
}

/** Resolves once something accepts TCP connections on `port`. */

describe.skipIf(!hasNginxRtmp)(
  `HandshakeClient with real nginx-rtmp${hasNginxRtmp ? "" : " (skipped: nginx or libnginx-mod-rtmp not installed)"}`,
  () => {
    let nginx: NginxRtmp;
    let port = 0;

    beforeAll(async () => {
      nginx = await startNginxRtmp();
      port = nginx.port;
    });

    afterAll(async () => {
      await nginx.stop();
    });

    const log = () => nginx.log();

    it("completes the digest handshake and connects", async () => {
      const { client } = await handshakeAndConnect(port, true);
      // nginx-rtmp answers a digest C1 with a digest S1 and an S2 signed with our digest.
      expect(client.digestHandshake).toBe(true);
      expect(client.peerVerified).toBe(true);
      await waitFor(() => log().includes("handshake: done"), 5000, "nginx to log the handshake");
      expect(log()).toContain("handshake: digest found");
      expect(log()).not.toMatch(/handshake: (error|response error|digest not found|unexpected RTMP version)/);
    });

    it("completes the simple handshake and connects", async () => {
      const { client } = await handshakeAndConnect(port, false);
      // A zero version in C1 makes nginx-rtmp answer old-style: S1 and S2 echo C1.
      expect(client.digestHandshake).toBe(false);
      expect(client.peerVerified).toBe(true);
      await waitFor(
        () => log().includes("handshake: old-style challenge"),
        5000,
        "nginx to log the handshake",
      );
      expect(log()).not.toMatch(/handshake: (error|response error|digest not found|unexpected RTMP version)/);
    });
  },
);
