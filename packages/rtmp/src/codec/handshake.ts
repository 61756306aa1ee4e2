/**
 * The RTMP handshake, server and client side, as incremental state machines: bytes in (split
 * anywhere), bytes to send out.
 *
 *   client                                  server
 *   C0 (version 3) + C1 (1536 bytes)  ──▶
 *                                      ◀──  S0 (version 3) + S1 (1536) + S2 (1536)
 *   C2 (1536)                         ──▶
 *
 * C1/S1: time (4 bytes), zero or version (4), random (1528). Simple handshake: S2 echoes C1 and
 * C2 echoes S1. Digest handshake (Flash Player, FMS, ffmpeg, nginx-rtmp): C1/S1 carry an HMAC
 * digest and C2/S2 are signed with the peer's digest, see ./handshake-digest.ts. A server answers
 * in the style the client chose; a client sends a digest C1, which simple servers just echo.
 *
 * A C2/S2 that does not verify is not an error (real peers send odd ones); `peerVerified` tells.
 */
import { type Hmac, randomFillSync } from "node:crypto";
import { RtmpErrorCode, RtmpProtocolError } from "../errors.js";
import {
  createResponseHmac,
  DIGEST_LENGTH,
  FLASH_MEDIA_SERVER_KEY,
  FLASH_MEDIA_SERVER_PARTIAL_KEY,
  FLASH_PLAYER_KEY,
  FLASH_PLAYER_PARTIAL_KEY,
  findDigest,
  HANDSHAKE_PACKET_SIZE,
  imprintDigest,
  SIGNED_RESPONSE_LENGTH,
  signResponse,
} from "./handshake-digest.js";

export interface HandshakeStep {
  /** Bytes to send to the peer now, if any. */
  output: Buffer | undefined;
  /** True once the handshake is complete. */
  done: boolean;
  /** Bytes received after the end of the handshake (the first chunk data often arrives in the same TCP read); empty Buffer if none. Only meaningful when done. */
  remainder: Buffer;
}

const RTMP_VERSION = 3;
const ENCRYPTED_RTMP_VERSION = 6;
/** Version bytes of our S1 in the digest handshake: FMS 4.5.0.1. ffmpeg checks the digest when the first is >= 3. */
const SERVER_VERSION = Buffer.from([4, 5, 0, 1]);
/** Version bytes of our C1 in the digest handshake: Flash Player 9.0.124.2, as ffmpeg sends. */
const CLIENT_VERSION = Buffer.from([9, 0, 124, 2]);
const EMPTY = Buffer.alloc(0);

function checkVersion(version: number, packet: "C0" | "S0"): void {
  if (version === RTMP_VERSION) return;
  if (version === ENCRYPTED_RTMP_VERSION) {
    throw new RtmpProtocolError(
      RtmpErrorCode.handshakeVersion,
      `${packet} asks for encrypted RTMPE, not supported`,
    );
  }
  throw new RtmpProtocolError(
    RtmpErrorCode.handshakeVersion,
    `${packet} has RTMP version ${version}, expected 3`,
  );
}

/** Fill a C1/S1 with time 0, the given version bytes and random bytes. */
function fillChallenge(packet: Buffer, version: Buffer | undefined): void {
  packet.writeUInt32BE(0, 0);
  if (version === undefined) packet.writeUInt32BE(0, 4);
  else version.copy(packet, 4);
  randomFillSync(packet, 8);
}

/** Gathers the peer's C1/S1 from bytes split anywhere, without a copy when it arrives whole. */
class ChallengeCollector {
  #buffer: Buffer | undefined;
  #filled = 0;

  /** Consume from `chunk[offset..]`; returns the new offset and, once all 1536 bytes are in, the packet. */
  collect(chunk: Buffer, offset: number): { offset: number; packet: Buffer | undefined } {
    const available = chunk.length - offset;
    if (this.#filled === 0 && available >= HANDSHAKE_PACKET_SIZE) {
      const end = offset + HANDSHAKE_PACKET_SIZE;
      return { offset: end, packet: chunk.subarray(offset, end) };
    }
    this.#buffer ??= Buffer.allocUnsafe(HANDSHAKE_PACKET_SIZE);
    const taken = Math.min(available, HANDSHAKE_PACKET_SIZE - this.#filled);
    chunk.copy(this.#buffer, this.#filled, offset, offset + taken);
    this.#filled += taken;
    return {
      offset: offset + taken,
      packet: this.#filled === HANDSHAKE_PACKET_SIZE ? this.#buffer : undefined,
    };
  }
}

/** Bytes 0..7 of a C1/S1 (time, version) that an echo need not repeat. */
const ECHO_START = 8;

/**
 * Reads the peer's C2/S2 as it arrives without keeping it, checking on the way whether it
 * answers our C1/S1: an echo of its random part, or signed with its digest.
 */
class ResponseReader {
  readonly #challenge: Buffer;
  readonly #hmac: Hmac | undefined;
  readonly #signature = Buffer.allocUnsafe(DIGEST_LENGTH);
  #received = 0;
  #echoes = true;

  /** `challenge`: our C1/S1; `challengeDigest`: its digest, if it has one; `answererKey`: the peer's full key. */
  constructor(challenge: Buffer, challengeDigest: Buffer | undefined, answererKey: Buffer) {
    this.#challenge = challenge;
    this.#hmac = challengeDigest === undefined ? undefined : createResponseHmac(challengeDigest, answererKey);
  }

  get complete(): boolean {
    return this.#received === HANDSHAKE_PACKET_SIZE;
  }

  /** Consume from `chunk[offset..]` up to the end of the response; returns the new offset. */
  read(chunk: Buffer, offset: number): number {
    const start = this.#received;
    const end = Math.min(HANDSHAKE_PACKET_SIZE, start + chunk.length - offset);
    // Position p of the response is chunk[offset + p - start].
    const at = (position: number) => offset + position - start;
    const echoFrom = Math.max(start, ECHO_START);
    if (
      this.#echoes &&
      echoFrom < end &&
      chunk.compare(this.#challenge, echoFrom, end, at(echoFrom), at(end)) !== 0
    ) {
      this.#echoes = false;
    }
    if (this.#hmac !== undefined) {
      const signedEnd = Math.min(end, SIGNED_RESPONSE_LENGTH);
      if (start < signedEnd) this.#hmac.update(chunk.subarray(at(start), at(signedEnd)));
      const signatureFrom = Math.max(start, SIGNED_RESPONSE_LENGTH);
      if (signatureFrom < end) {
        chunk.copy(this.#signature, signatureFrom - SIGNED_RESPONSE_LENGTH, at(signatureFrom), at(end));
      }
    }
    this.#received = end;
    return at(end);
  }

  /** Once complete: whether the response echoed or was signed for our challenge. Call once. */
  verified(): boolean {
    return this.#echoes || this.#hmac?.digest().equals(this.#signature) === true;
  }
}

/**
 * The receiving half both sides share: the peer's version byte, its challenge (C1/S1), which
 * `answer` turns into our output, then its response (C2/S2).
 */
class HandshakeReceiver {
  readonly #versionPacket: "C0" | "S0";
  readonly #answer: (challenge: Buffer) => { output: Buffer; response: ResponseReader };
  #stage: "version" | "challenge" | "response" | "done" = "version";
  #collector: ChallengeCollector | undefined = new ChallengeCollector();
  #response: ResponseReader | undefined;
  #peerVerified = false;

  constructor(
    versionPacket: "C0" | "S0",
    answer: (challenge: Buffer) => { output: Buffer; response: ResponseReader },
  ) {
    this.#versionPacket = versionPacket;
    this.#answer = answer;
  }

  get peerVerified(): boolean {
    return this.#peerVerified;
  }

  push(chunk: Buffer): HandshakeStep {
    if (this.#stage === "done") return { output: undefined, done: true, remainder: chunk };
    let offset = 0;
    let output: Buffer | undefined;
    if (this.#stage === "version") {
      if (chunk.length === 0) return { output, done: false, remainder: EMPTY };
      checkVersion(chunk[0], this.#versionPacket);
      offset = 1;
      this.#stage = "challenge";
    }
    if (this.#stage === "challenge" && this.#collector !== undefined) {
      const collected = this.#collector.collect(chunk, offset);
      offset = collected.offset;
      if (collected.packet === undefined) return { output, done: false, remainder: EMPTY };
      const answer = this.#answer(collected.packet);
      output = answer.output;
      this.#response = answer.response;
      this.#collector = undefined;
      this.#stage = "response";
    }
    if (this.#response === undefined) return { output, done: false, remainder: EMPTY };
    offset = this.#response.read(chunk, offset);
    if (!this.#response.complete) return { output, done: false, remainder: EMPTY };
    this.#peerVerified = this.#response.verified();
    this.#response = undefined;
    this.#stage = "done";
    return { output, done: true, remainder: offset === chunk.length ? EMPTY : chunk.subarray(offset) };
  }
}

/** Server side: reads C0+C1, sends S0+S1+S2 at once, then reads C2. */
export class HandshakeServer {
  readonly #digest: boolean;
  readonly #receiver: HandshakeReceiver;
  #digestHandshake = false;

  constructor(
    options: {
      /** accept and answer the digest handshake of Flash-style clients (default true) */
      digest?: boolean;
    } = {},
  ) {
    this.#digest = options.digest ?? true;
    this.#receiver = new HandshakeReceiver("C0", (c1) => this.#answer(c1));
  }

  /** True when C1 carried a valid Flash Player digest and we answered with a digest S1/S2. */
  get digestHandshake(): boolean {
    return this.#digestHandshake;
  }

  /** True once done if C2 echoed our S1 or was signed with our S1 digest; informative only. */
  get peerVerified(): boolean {
    return this.#receiver.peerVerified;
  }

  /** Feed bytes as they arrive, split anywhere. After C0+C1 it outputs S0+S1+S2 in one buffer; after C2 it is done. Throws RtmpProtocolError on a bad version byte. */
  push(chunk: Buffer): HandshakeStep {
    return this.#receiver.push(chunk);
  }

  #answer(c1: Buffer): { output: Buffer; response: ResponseReader } {
    const output = Buffer.allocUnsafe(1 + 2 * HANDSHAKE_PACKET_SIZE);
    output[0] = RTMP_VERSION;
    const s1 = output.subarray(1, 1 + HANDSHAKE_PACKET_SIZE);
    const s2 = output.subarray(1 + HANDSHAKE_PACKET_SIZE);
    const clientDigest = this.#digest ? findDigest(c1, FLASH_PLAYER_PARTIAL_KEY) : undefined;
    if (clientDigest === undefined) {
      fillChallenge(s1, undefined);
      c1.copy(s2);
      return { output, response: new ResponseReader(s1, undefined, FLASH_PLAYER_KEY) };
    }
    this.#digestHandshake = true;
    fillChallenge(s1, SERVER_VERSION);
    // Same digest layout as the client's: what FMS does; clients look in both places anyway.
    const serverDigestOffset = imprintDigest(s1, clientDigest.blockStart, FLASH_MEDIA_SERVER_PARTIAL_KEY);
    randomFillSync(s2);
    signResponse(
      s2,
      c1.subarray(clientDigest.offset, clientDigest.offset + DIGEST_LENGTH),
      FLASH_MEDIA_SERVER_KEY,
    );
    const serverDigest = s1.subarray(serverDigestOffset, serverDigestOffset + DIGEST_LENGTH);
    return { output, response: new ResponseReader(s1, serverDigest, FLASH_PLAYER_KEY) };
  }
}

/** Client side: sends C0+C1, reads S0+S1 and answers C2, then reads S2. */
export class HandshakeClient {
  readonly #c0c1: Buffer;
  readonly #clientDigest: Buffer | undefined;
  readonly #receiver: HandshakeReceiver;
  #digestHandshake = false;

  constructor(
    options: {
      /** send a Flash-player-style digest C1 (default true) */
      digest?: boolean;
    } = {},
  ) {
    this.#c0c1 = Buffer.allocUnsafe(1 + HANDSHAKE_PACKET_SIZE);
    this.#c0c1[0] = RTMP_VERSION;
    const c1 = this.#c0c1.subarray(1);
    if (options.digest ?? true) {
      fillChallenge(c1, CLIENT_VERSION);
      // Block at 8, as ffmpeg and librtmp do for unencrypted RTMP.
      const offset = imprintDigest(c1, 8, FLASH_PLAYER_PARTIAL_KEY);
      this.#clientDigest = c1.subarray(offset, offset + DIGEST_LENGTH);
    } else {
      fillChallenge(c1, undefined);
    }
    this.#receiver = new HandshakeReceiver("S0", (s1) => this.#answer(s1));
  }

  /** True when S1 carried a valid FMS digest and we answered with a signed C2. */
  get digestHandshake(): boolean {
    return this.#digestHandshake;
  }

  /** True once done if S2 echoed our C1 or was signed with our C1 digest; informative only. */
  get peerVerified(): boolean {
    return this.#receiver.peerVerified;
  }

  /** C0+C1 to send first. */
  start(): Buffer {
    return this.#c0c1;
  }

  /** Feed S0/S1/S2 bytes; outputs C2 once S1 is in; done after S2 (or after S1+S2 are both in). */
  push(chunk: Buffer): HandshakeStep {
    return this.#receiver.push(chunk);
  }

  #answer(s1: Buffer): { output: Buffer; response: ResponseReader } {
    const c1 = this.#c0c1.subarray(1);
    const response = new ResponseReader(c1, this.#clientDigest, FLASH_MEDIA_SERVER_KEY);
    const c2 = Buffer.allocUnsafe(HANDSHAKE_PACKET_SIZE);
    const serverDigest =
      this.#clientDigest === undefined ? undefined : findDigest(s1, FLASH_MEDIA_SERVER_PARTIAL_KEY);
    if (serverDigest === undefined) {
      s1.copy(c2);
      return { output: c2, response };
    }
    this.#digestHandshake = true;
    randomFillSync(c2);
    signResponse(c2, s1.subarray(serverDigest.offset, serverDigest.offset + DIGEST_LENGTH), FLASH_PLAYER_KEY);
    return { output: c2, response };
  }
}
