/**
 * The RTMP handshake, HandshakeServer (C0 C1 C2 in) and HandshakeClient (S0 S1 S2 in): random
 * bytes, valid simple and digest (Flash Player / FMS) handshakes and their mutations, pushed split
 * anywhere; and real client ↔ server exchanges in random pieces, with and without digests.
 *
 * Oracle: a first byte other than 3 throws RtmpProtocolError (handshake version) and nothing else
 * throws; exactly one answer (S0+S1+S2, 3073 bytes, or C2, 1536) once 1537 bytes are in, none
 * before; done exactly when 3073 bytes are in, with every byte past them handed back as remainder,
 * in order, and every later push handed back whole; a simple answer echoes the peer's challenge; a
 * valid digest challenge gets a digest answer signed for it; a real exchange completes on both
 * sides, each verifying the other.
 */
import { createHmac } from "node:crypto";
import {
  HandshakeClient,
  HandshakeServer,
  type HandshakeStep,
  RtmpErrorCode,
  RtmpProtocolError,
} from "@onair/rtmp";
import type { FuzzRandom, RandomPool } from "../fuzz-random.js";
import { expectThat, type FuzzTarget, type FuzzTargetFactory, hexOf, typedErrorCode } from "../harness.js";
import { InputBuilder, Splitter } from "../input-builder.js";

const PACKET = 1536;
const VERSION_AND_CHALLENGE = 1 + PACKET;
const WHOLE_HANDSHAKE = 1 + 2 * PACKET;
const DIGEST_LENGTH = 32;
/** Pieces of 1..4 bytes make ~1000 pushes of a handshake: a few cases of them suffice. */
const FINE_PIECES = 0.1;

// The public Flash keys, written out again so a mistake in the source cannot hide behind itself.
const KEY_TAIL = Buffer.from("f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae", "hex");
const PLAYER_KEY = Buffer.concat([Buffer.from("Genuine Adobe Flash Player 001"), KEY_TAIL]);
const SERVER_KEY = Buffer.concat([Buffer.from("Genuine Adobe Flash Media Server 001"), KEY_TAIL]);
const PLAYER_PARTIAL_KEY = PLAYER_KEY.subarray(0, 30);
const SERVER_PARTIAL_KEY = SERVER_KEY.subarray(0, 36);

function hmac(key: Buffer, ...parts: Buffer[]): Buffer {
  const h = createHmac("sha256", key);
  for (const part of parts) h.update(part);
  return h.digest();
}

function digestPosition(packet: Buffer, block: 8 | 772): number {
  return ((packet[block] + packet[block + 1] + packet[block + 2] + packet[block + 3]) % 728) + block + 4;
}

/** A C1 (Flash Player) or S1 (FMS) with a valid digest in the given block; its digest's position. */
function digestChallenge(
  bytes: Buffer,
  version: number[],
  block: 8 | 772,
  key: Buffer,
): { packet: Buffer; at: number } {
  const packet = Buffer.from(bytes.subarray(0, PACKET));
  packet.writeUInt32BE(0, 0);
  packet.set(version, 4);
  const at = digestPosition(packet, block);
  hmac(key, packet.subarray(0, at), packet.subarray(at + DIGEST_LENGTH)).copy(packet, at);
  return { packet, at };
}

type Side = "server" | "client";

class HandshakeTarget implements FuzzTarget {
  readonly #pool: RandomPool;
  readonly #input = new InputBuilder(16_384);
  readonly #splitter = new Splitter();
  /** Valid digest challenges: C1s for the server, S1s for the client. */
  readonly #digestC1s: { packet: Buffer; at: number }[] = [];
  readonly #digestS1s: { packet: Buffer; at: number }[] = [];
  readonly #donors: Buffer[];
  readonly #numbers = [3, 6, 0, 0xff, 728, 727, 1536, 1537, 764, 772];
  #side: Side = "server";
  #digestOption = true;
  /** The challenge (index into the digest list) this case's input carries unmutated, if any. */
  #validDigest: { packet: Buffer; at: number } | undefined;
  #exchange: string | undefined;

  constructor(pool: RandomPool) {
    this.#pool = pool;
    for (let i = 0; i < 4; i++) {
      const block = i % 2 === 0 ? 8 : 772;
      const bytes = pool.bytes.subarray(i * PACKET);
      this.#digestC1s.push(digestChallenge(bytes, [9, 0, 124, 2], block, PLAYER_PARTIAL_KEY));
      this.#digestS1s.push(
        digestChallenge(pool.bytes.subarray((i + 4) * PACKET), [4, 5, 0, 1], block, SERVER_PARTIAL_KEY),
      );
    }
    this.#donors = [...this.#digestC1s, ...this.#digestS1s].map((c) =>
      Buffer.concat([Buffer.of(3), c.packet]),
    );
  }

  describeInput(): string {
    if (this.#exchange !== undefined) return this.#exchange;
    return `${this.#side}, digest option ${this.#digestOption}: ${hexOf(this.#input.bytes)}`;
  }

  run(random: FuzzRandom): string | undefined {
    this.#exchange = undefined;
    this.#validDigest = undefined;
    this.#side = random.chance(0.6) ? "server" : "client";
    this.#digestOption = random.chance(0.8);
    const input = this.#input.clear();
    const roll = random.next();
    if (roll < 0.1) return this.#realExchange(random);
    if (roll < 0.35) {
      if (random.chance(0.8))
        input.byte(random.chance(0.8) ? 3 : random.pick([6, 0, 0xff, random.below(256)]));
      input.random(
        random,
        this.#pool,
        random.chance(0.5) ? random.length(4000) : WHOLE_HANDSHAKE - 1 + random.below(3),
      );
    } else {
      input.byte(3);
      if (random.chance(0.5)) {
        const challenge = random.pick(this.#side === "server" ? this.#digestC1s : this.#digestS1s);
        input.append(challenge.packet);
        this.#validDigest = challenge;
      } else {
        input.random(random, this.#pool, PACKET);
      }
      input.random(random, this.#pool, PACKET);
      input.random(random, this.#pool, random.chance(0.5) ? 0 : random.length(300));
      if (random.chance(0.5)) {
        this.#validDigest = undefined;
        input.mutate(random, this.#pool, this.#numbers, this.#donors);
      }
    }
    return this.#feed(random, input.bytes);
  }

  #feed(random: FuzzRandom, bytes: Buffer): string | undefined {
    const server = this.#side === "server";
    const side = server
      ? new HandshakeServer({ digest: this.#digestOption })
      : new HandshakeClient({ digest: this.#digestOption });
    const answerLength = server ? WHOLE_HANDSHAKE : PACKET;
    let answer: Buffer | undefined;
    let answerAt = -1;
    let pushed = 0;
    let doneAt = -1;
    let remainder = 0;
    this.#splitter.start(random, bytes, false, FINE_PIECES);
    try {
      for (let piece = this.#splitter.next(); piece !== undefined; piece = this.#splitter.next()) {
        const wasDone = doneAt !== -1;
        const step: HandshakeStep = side.push(piece);
        pushed += piece.length;
        if (step.output !== undefined) {
          expectThat(answer === undefined, "a second answer");
          answer = step.output;
          answerAt = pushed;
        }
        if (wasDone) {
          expectThat(
            step.done && step.remainder.length === piece.length,
            "a push after done was not handed back whole",
          );
        } else if (step.done) {
          doneAt = pushed;
        } else {
          expectThat(step.remainder.length === 0, "a remainder before done");
        }
        if (step.done && step.remainder.length > 0) {
          const from = WHOLE_HANDSHAKE + remainder;
          expectThat(
            step.remainder.equals(bytes.subarray(from, from + step.remainder.length)),
            () => `the remainder is not the input from byte ${from}`,
          );
          remainder += step.remainder.length;
        }
      }
    } catch (error) {
      const code = typedErrorCode(error, RtmpProtocolError);
      expectThat(
        code === RtmpErrorCode.handshakeVersion && bytes[0] !== 3,
        () => `${code} with version byte ${bytes[0]}`,
      );
      return code;
    }
    expectThat(bytes.length === 0 || bytes[0] === 3, () => `version byte ${bytes[0]} accepted`);
    const length = bytes.length;
    // The answer comes in the push that completes C1/S1, and done in the one that completes C2/S2.
    expectThat(
      length < VERSION_AND_CHALLENGE
        ? answer === undefined
        : answer?.length === answerLength && answerAt >= VERSION_AND_CHALLENGE,
      () => `answer of ${answer?.length ?? "no"} bytes after ${length} bytes in`,
    );
    expectThat(
      length < WHOLE_HANDSHAKE
        ? doneAt === -1
        : doneAt >= WHOLE_HANDSHAKE && remainder === length - WHOLE_HANDSHAKE,
      () => `done after ${doneAt} of ${length} bytes, ${remainder} bytes handed back`,
    );
    if (answer !== undefined) this.#checkAnswer(bytes, answer, side);
    return undefined;
  }

  /** A simple answer echoes the challenge; a valid digest challenge gets a digest answer signed for it. */
  #checkAnswer(bytes: Buffer, answer: Buffer, side: HandshakeServer | HandshakeClient): void {
    const challenge = bytes.subarray(1, VERSION_AND_CHALLENGE);
    const response = side instanceof HandshakeServer ? answer.subarray(VERSION_AND_CHALLENGE) : answer;
    if (side instanceof HandshakeServer) expectThat(answer[0] === 3, `S0 is ${answer[0]}`);
    const valid = this.#validDigest;
    if (valid !== undefined) {
      expectThat(
        side.digestHandshake === this.#digestOption,
        "a valid digest challenge was not answered in kind",
      );
    }
    if (!side.digestHandshake) {
      expectThat(response.equals(challenge), "the simple answer does not echo the challenge");
    } else if (valid !== undefined) {
      const answererKey = side instanceof HandshakeServer ? SERVER_KEY : PLAYER_KEY;
      const key = hmac(answererKey, valid.packet.subarray(valid.at, valid.at + DIGEST_LENGTH));
      const signature = hmac(key, response.subarray(0, PACKET - DIGEST_LENGTH));
      expectThat(
        signature.equals(response.subarray(PACKET - DIGEST_LENGTH)),
        "the digest answer is not signed for the challenge",
      );
    }
  }

  /** A real client and server, each side's bytes delivered in random pieces, application data after C2. */
  #realExchange(random: FuzzRandom): undefined {
    const clientDigest = random.chance(0.7);
    const serverDigest = random.chance(0.7);
    this.#exchange = `exchange: client digest ${clientDigest}, server digest ${serverDigest}`;
    const client = new HandshakeClient({ digest: clientDigest });
    const server = new HandshakeServer({ digest: serverDigest });
    const toServer = this.#deliver(random, server, client.start());
    expectThat(toServer.output !== undefined && !toServer.done, "the server did not answer C0+C1");
    const toClient = this.#deliver(random, client, toServer.output);
    expectThat(toClient.output !== undefined && toClient.done, "the client did not finish on S0+S1+S2");
    const appData = this.#input.clear().random(random, this.#pool, random.length(200)).bytes;
    const last = this.#deliver(random, server, Buffer.concat([toClient.output, appData]));
    expectThat(
      last.done && last.remainder === appData.length,
      () => `the server finished with ${last.remainder} bytes handed back of ${appData.length}`,
    );
    const both = clientDigest && serverDigest;
    expectThat(
      client.digestHandshake === both && server.digestHandshake === both,
      "digest handshake on one side only",
    );
    expectThat(client.peerVerified && server.peerVerified, "a side did not verify its peer");
    return undefined;
  }

  #deliver(
    random: FuzzRandom,
    side: HandshakeServer | HandshakeClient,
    bytes: Buffer,
  ): { output: Buffer | undefined; done: boolean; remainder: number } {
    let output: Buffer | undefined;
    let done = false;
    let remainder = 0;
    this.#splitter.start(random, bytes, false, FINE_PIECES);
    for (let piece = this.#splitter.next(); piece !== undefined; piece = this.#splitter.next()) {
      const step = side.push(piece);
      if (step.output !== undefined) output = step.output;
      done ||= step.done;
      remainder += step.remainder.length;
    }
    return { output, done, remainder };
  }
}

export const handshakeTarget: FuzzTargetFactory = {
  name: "handshake",
  description: "HandshakeServer and HandshakeClient (simple and digest), and real exchanges",
  create: (pool) => new HandshakeTarget(pool),
};
