import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { seededRandom as prng } from "../../../test-support/seeded-random.js";
import { HandshakeClient, HandshakeServer, type HandshakeStep } from "../src/codec/handshake.js";
import { RtmpErrorCode, RtmpProtocolError } from "../src/errors.js";

// The digest math is written again here, independently of src/handshake-digest.ts, so that a
// mistake there cannot hide behind the same mistake in the check.
const KEY_TAIL = Buffer.from("f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae", "hex");
const PLAYER_KEY = Buffer.concat([Buffer.from("Genuine Adobe Flash Player 001"), KEY_TAIL]);
const SERVER_KEY = Buffer.concat([Buffer.from("Genuine Adobe Flash Media Server 001"), KEY_TAIL]);
const SIZE = 1536;

function hmac(key: Buffer, ...parts: Buffer[]): Buffer {
  const h = createHmac("sha256", key);
  for (const part of parts) h.update(part);
  return h.digest();
}

/** Where the digest sits for the digest block starting at 8 or 772. */
function digestPosition(packet: Buffer, block: 8 | 772): number {
  return ((packet[block] + packet[block + 1] + packet[block + 2] + packet[block + 3]) % 728) + block + 4;
}

function digestAt(packet: Buffer, position: number, key: Buffer): Buffer {
  return hmac(key, packet.subarray(0, position), packet.subarray(position + 32));
}

/** Position of a valid digest under either layout, or undefined. */
function validDigestPosition(packet: Buffer, key: Buffer): number | undefined {
  for (const block of [8, 772] as const) {
    const position = digestPosition(packet, block);
    if (digestAt(packet, position, key).equals(packet.subarray(position, position + 32))) return position;
  }
  return undefined;
}

function randomBuffer(rand: () => number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buffer[i] = Math.floor(rand() * 256);
  return buffer;
}

function bytewise(buffer: Buffer): Buffer[] {
  return Array.from(buffer, (_, i) => buffer.subarray(i, i + 1));
}

function randomSplits(rand: () => number, maxPiece: number): (buffer: Buffer) => Buffer[] {
  return (buffer) => {
    const pieces: Buffer[] = [];
    for (let at = 0; at < buffer.length; ) {
      const length = 1 + Math.floor(rand() * maxPiece);
      pieces.push(buffer.subarray(at, at + length));
      at += length;
    }
    return pieces;
  };
}

/** A Flash-player-style C1: version 9.0.124.2 and a digest in the given block. */
function flashC1(rand: () => number, block: 8 | 772): Buffer {
  const c1 = randomBuffer(rand, SIZE);
  c1.writeUInt32BE(0, 0);
  c1.set([9, 0, 124, 2], 4);
  const position = digestPosition(c1, block);
  digestAt(c1, position, PLAYER_KEY.subarray(0, 30)).copy(c1, position);
  return c1;
}

interface Delivery {
  outputs: Buffer[];
  /** For each output, the input offsets where the piece that produced it began and ended. */
  outputAt: [number, number][];
  remainder: Buffer;
  done: boolean;
}

/** Feed pieces to one side; collect its outputs and, once done, its remainders. */
function deliver(side: { push(chunk: Buffer): HandshakeStep }, pieces: Buffer[]): Delivery {
  const result: Delivery = { outputs: [], outputAt: [], remainder: Buffer.alloc(0), done: false };
  let fed = 0;
  const remainders: Buffer[] = [];
  for (const piece of pieces) {
    const step = side.push(piece);
    if (step.output !== undefined) {
      result.outputs.push(step.output);
      result.outputAt.push([fed, fed + piece.length]);
    }
    fed += piece.length;
    if (step.done) remainders.push(step.remainder);
    else expect(step.remainder.length).toBe(0);
    result.done = step.done;
  }
  result.remainder = Buffer.concat(remainders);
  return result;
}

interface PairResult {
  client: HandshakeClient;
  server: HandshakeServer;
  c2: Buffer;
  s0s1s2: Buffer;
}

/**
 * Run a client and a server against each other, each byte stream cut by `split`, with bytes
 * after S2 and after C2 that must come out as the remainders.
 */
function runPair(
  client: HandshakeClient,
  server: HandshakeServer,
  split: (buffer: Buffer) => Buffer[],
  afterS2: Buffer,
  afterC2: Buffer,
): PairResult {
  const c0c1 = client.start();
  expect(c0c1.length).toBe(1 + SIZE);
  const atServer = deliver(server, split(c0c1));
  expect(atServer.done).toBe(false);
  expect(atServer.outputs).toHaveLength(1);
  expect(atServer.outputAt[0][1]).toBe(1 + SIZE);
  const s0s1s2 = atServer.outputs[0];
  expect(s0s1s2.length).toBe(1 + 2 * SIZE);

  const atClient = deliver(client, split(Buffer.concat([s0s1s2, afterS2])));
  expect(atClient.done).toBe(true);
  expect(atClient.outputs).toHaveLength(1);
  // C2 goes out with the piece that completes S1, not later.
  const [pieceStart, pieceEnd] = atClient.outputAt[0];
  expect(pieceStart).toBeLessThan(1 + SIZE);
  expect(pieceEnd).toBeGreaterThanOrEqual(1 + SIZE);
  expect(atClient.remainder.equals(afterS2)).toBe(true);
  const c2 = atClient.outputs[0];
  expect(c2.length).toBe(SIZE);

  const atServerAgain = deliver(server, split(Buffer.concat([c2, afterC2])));
  expect(atServerAgain.done).toBe(true);
  expect(atServerAgain.outputs).toHaveLength(0);
  expect(atServerAgain.remainder.equals(afterC2)).toBe(true);
  return { client, server, c2, s0s1s2 };
}

describe("handshake between HandshakeClient and HandshakeServer", () => {
  const rand = prng(1);
  const afterS2 = randomBuffer(rand, 37);
  const afterC2 = Buffer.from([0x03, 0, 0, 0, 0, 0, 0x2a, 0x14, 0, 0, 0, 0]);
  const splitters: [string, () => (buffer: Buffer) => Buffer[]][] = [
    ["in one piece", () => (buffer) => [buffer]],
    ["byte by byte", () => bytewise],
    ["in random splits up to 7 bytes", () => randomSplits(prng(2), 7)],
    ["in random splits up to 700 bytes", () => randomSplits(prng(3), 700)],
    ["in random splits up to 2000 bytes", () => randomSplits(prng(4), 2000)],
  ];

  for (const [name, splitter] of splitters) {
    it(`digest handshake, ${name}`, () => {
      const { client, server, s0s1s2, c2 } = runPair(
        new HandshakeClient(),
        new HandshakeServer(),
        splitter(),
        afterS2,
        afterC2,
      );
      expect(server.digestHandshake).toBe(true);
      expect(client.digestHandshake).toBe(true);
      expect(server.peerVerified).toBe(true);
      expect(client.peerVerified).toBe(true);
      // C2 is signed, not an echo of S1.
      expect(c2.equals(s0s1s2.subarray(1, 1 + SIZE))).toBe(false);
    });

    it(`simple handshake (client digest off), ${name}`, () => {
      const client = new HandshakeClient({ digest: false });
      const c1 = client.start().subarray(1);
      const { server, s0s1s2, c2 } = runPair(client, new HandshakeServer(), splitter(), afterS2, afterC2);
      expect(server.digestHandshake).toBe(false);
      expect(client.digestHandshake).toBe(false);
      expect(s0s1s2.subarray(1 + SIZE).equals(c1)).toBe(true);
      expect(c2.equals(s0s1s2.subarray(1, 1 + SIZE))).toBe(true);
      expect(server.peerVerified).toBe(true);
      expect(client.peerVerified).toBe(true);
    });

    it(`simple handshake (server digest off, client digest on), ${name}`, () => {
      const client = new HandshakeClient();
      const c1 = client.start().subarray(1);
      const { server, s0s1s2, c2 } = runPair(
        client,
        new HandshakeServer({ digest: false }),
        splitter(),
        afterS2,
        afterC2,
      );
      expect(server.digestHandshake).toBe(false);
      expect(client.digestHandshake).toBe(false);
      expect(s0s1s2.subarray(1 + SIZE).equals(c1)).toBe(true);
      expect(c2.equals(s0s1s2.subarray(1, 1 + SIZE))).toBe(true);
      expect(server.peerVerified).toBe(true);
      expect(client.peerVerified).toBe(true);
    });
  }

  it("bytes pushed after the end all come back as remainder", () => {
    const client = new HandshakeClient();
    const server = new HandshakeServer();
    runPair(client, server, (buffer) => [buffer], Buffer.alloc(0), Buffer.alloc(0));
    const more = Buffer.from([1, 2, 3]);
    expect(server.push(more)).toEqual({ output: undefined, done: true, remainder: more });
    expect(client.push(more)).toEqual({ output: undefined, done: true, remainder: more });
  });

  it("an empty push before anything is harmless", () => {
    const server = new HandshakeServer();
    expect(server.push(Buffer.alloc(0))).toEqual({
      output: undefined,
      done: false,
      remainder: Buffer.alloc(0),
    });
  });
});

describe("HandshakeServer", () => {
  it("answers a simple client with S2 an exact echo of C1", () => {
    const rand = prng(10);
    const c1 = randomBuffer(rand, SIZE);
    c1.writeUInt32BE(0x01020304, 0); // client time
    c1.writeUInt32BE(0, 4); // zero: no digest
    const server = new HandshakeServer();
    const step = server.push(Buffer.concat([Buffer.from([3]), c1]));
    expect(step.done).toBe(false);
    const output = step.output as Buffer;
    expect(output.length).toBe(1 + 2 * SIZE);
    expect(output[0]).toBe(3);
    const s1 = output.subarray(1, 1 + SIZE);
    expect(s1.readUInt32BE(4)).toBe(0);
    expect(output.subarray(1 + SIZE).equals(c1)).toBe(true);
    expect(server.digestHandshake).toBe(false);

    // The client's C2: S1 with its own time2.
    const c2 = Buffer.from(s1);
    c2.writeUInt32BE(1234, 4);
    const end = server.push(c2);
    expect(end).toEqual({ output: undefined, done: true, remainder: Buffer.alloc(0) });
    expect(server.peerVerified).toBe(true);
  });

  for (const block of [8, 772] as const) {
    it(`answers a Flash-style C1 (digest block at ${block}) with an FMS digest S1 and a signed S2`, () => {
      const rand = prng(block);
      const c1 = flashC1(rand, block);
      const clientPosition = digestPosition(c1, block);
      const clientDigest = c1.subarray(clientPosition, clientPosition + 32);
      const server = new HandshakeServer();
      const output = server.push(Buffer.concat([Buffer.from([3]), c1])).output as Buffer;
      expect(server.digestHandshake).toBe(true);
      const s1 = output.subarray(1, 1 + SIZE);
      const s2 = output.subarray(1 + SIZE);

      // ffmpeg checks the digest only when this byte is >= 3.
      expect(s1[4]).toBeGreaterThanOrEqual(3);
      const serverPosition = validDigestPosition(s1, SERVER_KEY.subarray(0, 36));
      expect(serverPosition).toBeDefined();
      // Keyed with the partial FMS key, not the player's or the full one.
      expect(validDigestPosition(s1, PLAYER_KEY.subarray(0, 30))).toBeUndefined();
      expect(validDigestPosition(s1, SERVER_KEY)).toBeUndefined();

      const s2Key = hmac(SERVER_KEY, clientDigest);
      expect(hmac(s2Key, s2.subarray(0, SIZE - 32)).equals(s2.subarray(SIZE - 32))).toBe(true);

      // A C2 signed as ffmpeg does when playing.
      const position = serverPosition as number;
      const c2 = randomBuffer(rand, SIZE);
      const c2Key = hmac(PLAYER_KEY, s1.subarray(position, position + 32));
      hmac(c2Key, c2.subarray(0, SIZE - 32)).copy(c2, SIZE - 32);
      expect(server.push(c2).done).toBe(true);
      expect(server.peerVerified).toBe(true);
    });
  }

  it("accepts a C2 that neither echoes nor verifies, consuming exactly 1536 bytes", () => {
    const rand = prng(20);
    const server = new HandshakeServer();
    server.push(Buffer.concat([Buffer.from([3]), flashC1(rand, 8)]));
    const c2 = randomBuffer(rand, SIZE);
    const trailing = Buffer.from([9, 9]);
    const end = server.push(Buffer.concat([c2, trailing]));
    expect(end.done).toBe(true);
    expect(end.remainder.equals(trailing)).toBe(true);
    expect(server.peerVerified).toBe(false);
  });

  it("answers a digest C1 with the simple echo when digest is off", () => {
    const c1 = flashC1(prng(21), 772);
    const server = new HandshakeServer({ digest: false });
    const output = server.push(Buffer.concat([Buffer.from([3]), c1])).output as Buffer;
    expect(server.digestHandshake).toBe(false);
    expect(output.subarray(1 + SIZE).equals(c1)).toBe(true);
    expect(validDigestPosition(output.subarray(1, 1 + SIZE), SERVER_KEY.subarray(0, 36))).toBeUndefined();
  });

  it("answers a C1 whose digest does not verify with the simple echo", () => {
    const c1 = flashC1(prng(22), 8);
    c1[1000] ^= 1;
    const server = new HandshakeServer();
    const output = server.push(Buffer.concat([Buffer.from([3]), c1])).output as Buffer;
    expect(server.digestHandshake).toBe(false);
    expect(output.subarray(1 + SIZE).equals(c1)).toBe(true);
  });

  for (const version of [0, 1, 2, 4, 6, 8, 0x16, 0x47, 0xff]) {
    it(`refuses C0 version ${version} with handshakeVersion`, () => {
      const c0c1 = Buffer.concat([Buffer.from([version]), Buffer.alloc(SIZE)]);
      const refused = expect.objectContaining({ code: RtmpErrorCode.handshakeVersion });
      expect(() => new HandshakeServer().push(c0c1)).toThrow(RtmpProtocolError);
      expect(() => new HandshakeServer().push(c0c1)).toThrow(refused);
      // Refused on the version byte alone, before C1 arrives.
      expect(() => new HandshakeServer().push(c0c1.subarray(0, 1))).toThrow(refused);
    });
  }
});

describe("HandshakeClient", () => {
  it("sends C0 3 and a Flash-style C1 with a player digest in the block at 8", () => {
    const c0c1 = new HandshakeClient().start();
    expect(c0c1[0]).toBe(3);
    const c1 = c0c1.subarray(1);
    expect(c1.readUInt32BE(0)).toBe(0);
    expect([...c1.subarray(4, 8)]).toEqual([9, 0, 124, 2]);
    const position = digestPosition(c1, 8);
    expect(
      digestAt(c1, position, PLAYER_KEY.subarray(0, 30)).equals(c1.subarray(position, position + 32)),
    ).toBe(true);
  });

  it("sends a simple C1 (zero version) with digest off", () => {
    const c1 = new HandshakeClient({ digest: false }).start().subarray(1);
    expect(c1.readUInt32BE(4)).toBe(0);
    expect(validDigestPosition(c1, PLAYER_KEY.subarray(0, 30))).toBeUndefined();
  });

  for (const block of [8, 772] as const) {
    it(`answers an FMS digest S1 (block at ${block}) with a signed C2 and verifies a signed S2`, () => {
      const rand = prng(30 + block);
      const client = new HandshakeClient();
      const c1 = client.start().subarray(1);
      const clientPosition = validDigestPosition(c1, PLAYER_KEY.subarray(0, 30)) as number;
      const clientDigest = c1.subarray(clientPosition, clientPosition + 32);

      const s1 = randomBuffer(rand, SIZE);
      s1.set([0, 0, 0, 0, 4, 5, 0, 1]);
      const serverPosition = digestPosition(s1, block);
      digestAt(s1, serverPosition, SERVER_KEY.subarray(0, 36)).copy(s1, serverPosition);
      const s2 = randomBuffer(rand, SIZE);
      hmac(hmac(SERVER_KEY, clientDigest), s2.subarray(0, SIZE - 32)).copy(s2, SIZE - 32);

      const step = client.push(Buffer.concat([Buffer.from([3]), s1, s2]));
      expect(step.done).toBe(true);
      expect(client.digestHandshake).toBe(true);
      expect(client.peerVerified).toBe(true);
      const c2 = step.output as Buffer;
      const c2Key = hmac(PLAYER_KEY, s1.subarray(serverPosition, serverPosition + 32));
      expect(hmac(c2Key, c2.subarray(0, SIZE - 32)).equals(c2.subarray(SIZE - 32))).toBe(true);
    });
  }

  it("echoes a simple S1 as C2 and does not fail on an S2 that does not verify", () => {
    const rand = prng(40);
    const client = new HandshakeClient();
    const s1 = randomBuffer(rand, SIZE);
    s1.writeUInt32BE(0, 4);
    const first = client.push(Buffer.concat([Buffer.from([3]), s1]));
    expect(first.done).toBe(false);
    expect((first.output as Buffer).equals(s1)).toBe(true);
    expect(client.digestHandshake).toBe(false);
    const end = client.push(randomBuffer(rand, SIZE));
    expect(end).toEqual({ output: undefined, done: true, remainder: Buffer.alloc(0) });
    expect(client.peerVerified).toBe(false);
  });

  it("accepts an S2 that echoes C1 with another time2", () => {
    const client = new HandshakeClient({ digest: false });
    const s2 = Buffer.from(client.start().subarray(1));
    s2.writeUInt32BE(777, 4);
    client.push(Buffer.concat([Buffer.from([3]), randomBuffer(prng(41), SIZE)]));
    expect(client.push(s2).done).toBe(true);
    expect(client.peerVerified).toBe(true);
  });

  for (const version of [0, 6, 0xff]) {
    it(`refuses S0 version ${version} with handshakeVersion`, () => {
      const client = new HandshakeClient();
      client.start();
      expect(() => client.push(Buffer.from([version, 0, 0]))).toThrow(
        expect.objectContaining({ code: RtmpErrorCode.handshakeVersion }),
      );
    });
  }
});

describe("handshake fuzzing", () => {
  /** Feed pieces until done or a protocol error; anything else fails the test. */
  function survive(side: HandshakeServer | HandshakeClient, pieces: Buffer[], outputLength: number): void {
    let fed = 0;
    for (const piece of pieces) {
      let step: HandshakeStep;
      try {
        step = side.push(piece);
      } catch (error) {
        expect(error).toBeInstanceOf(RtmpProtocolError);
        expect((error as RtmpProtocolError).code).toBe(RtmpErrorCode.handshakeVersion);
        return;
      }
      fed += piece.length;
      if (step.output !== undefined) expect(step.output.length).toBe(outputLength);
      if (step.done) {
        // Exactly version + challenge + response were consumed; the rest is remainder.
        expect(fed - step.remainder.length).toBe(1 + 2 * SIZE);
        return;
      }
      expect(fed).toBeLessThan(1 + 2 * SIZE);
    }
  }

  it("random and mutated inputs give only progress or RtmpProtocolError", () => {
    const rand = prng(99);
    const validClientBytes = (): Buffer => {
      const client = new HandshakeClient(rand() < 0.5 ? {} : { digest: false });
      return Buffer.concat([client.start(), randomBuffer(rand, SIZE + 20)]);
    };
    const validServerBytes = (): Buffer => {
      const server = new HandshakeServer();
      const output = server.push(new HandshakeClient().start()).output as Buffer;
      return Buffer.concat([output, randomBuffer(rand, 20)]);
    };
    for (let i = 0; i < 1500; i++) {
      let input: Buffer;
      const kind = i % 3;
      if (kind === 0) {
        input = randomBuffer(rand, Math.floor(rand() * 4000));
        if (rand() < 0.7 && input.length > 0) input[0] = 3;
      } else {
        input = Buffer.from(kind === 1 ? validClientBytes() : validServerBytes());
        const mutations = 1 + Math.floor(rand() * 10);
        for (let m = 0; m < mutations; m++)
          input[Math.floor(rand() * input.length)] = Math.floor(rand() * 256);
        if (rand() < 0.3) input = input.subarray(0, Math.floor(rand() * input.length));
      }
      const pieces = randomSplits(rand, 1 + Math.floor(rand() * 3000))(input);
      survive(new HandshakeServer({ digest: rand() < 0.8 }), pieces, 1 + 2 * SIZE);
      survive(new HandshakeClient({ digest: rand() < 0.8 }), pieces, SIZE);
    }
  });
});
