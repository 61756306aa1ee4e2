/**
 * The digest ("complex") RTMP handshake of Flash Player and Flash Media Server, as ffmpeg,
 * librtmp and nginx-rtmp implement it. Not in the published RTMP spec; the keys below are public.
 *
 * A 1536-byte C1/S1 holds, besides time (bytes 0..3) and version (4..7), a 764-byte digest block
 * at byte 8 or at byte 772. The block's first 4 bytes, summed, place a 32-byte HMAC-SHA256 digest
 * inside it:
 *
 *   block at 8:   digest at 12  + (p[8]   + p[9]   + p[10]  + p[11])  % 728
 *   block at 772: digest at 776 + (p[772] + p[773] + p[774] + p[775]) % 728
 *
 * The digest is the HMAC of the other 1504 bytes, keyed with the sender's partial key. The answer
 * (C2/S2) is random bytes whose last 32 are HMAC(HMAC(full key of the answerer, peer digest), the
 * first 1504 bytes), proving the answerer read the peer's digest.
 */
import { createHmac, type Hmac } from "node:crypto";

/** Size of C1, S1, C2 and S2. */
export const HANDSHAKE_PACKET_SIZE = 1536;

/** Length of an HMAC-SHA256 digest. */
export const DIGEST_LENGTH = 32;

/** A signed C2/S2 carries the HMAC of its first 1504 bytes in its last 32. */
export const SIGNED_RESPONSE_LENGTH = HANDSHAKE_PACKET_SIZE - DIGEST_LENGTH;

/** The 32 bytes both keys end with. */
const KEY_TAIL = [
  0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57, 0x6e, 0xec,
  0x5d, 0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
];

/** "Genuine Adobe Flash Player 001" + tail (62 bytes); the first 30 bytes sign C1. */
export const FLASH_PLAYER_KEY = Buffer.from([
  ...Buffer.from("Genuine Adobe Flash Player 001", "latin1"),
  ...KEY_TAIL,
]);
export const FLASH_PLAYER_PARTIAL_KEY = FLASH_PLAYER_KEY.subarray(0, 30);

/** "Genuine Adobe Flash Media Server 001" + tail (68 bytes); the first 36 bytes sign S1. */
export const FLASH_MEDIA_SERVER_KEY = Buffer.from([
  ...Buffer.from("Genuine Adobe Flash Media Server 001", "latin1"),
  ...KEY_TAIL,
]);
export const FLASH_MEDIA_SERVER_PARTIAL_KEY = FLASH_MEDIA_SERVER_KEY.subarray(0, 36);

/** Where a digest block may start in C1/S1. FMS and ffmpeg look at 772 first, then 8. */
export type DigestBlockStart = 8 | 772;
const DIGEST_BLOCK_STARTS: readonly DigestBlockStart[] = [772, 8];

/** Offset of the digest inside `packet` (1536 bytes) for a digest block starting at `blockStart`. */
export function digestOffset(packet: Buffer, blockStart: DigestBlockStart): number {
  const sum = packet[blockStart] + packet[blockStart + 1] + packet[blockStart + 2] + packet[blockStart + 3];
  return blockStart + 4 + (sum % 728);
}

/** HMAC of `packet` without the 32 bytes at `offset`. */
function digestOf(packet: Buffer, offset: number, key: Buffer): Buffer {
  return createHmac("sha256", key)
    .update(packet.subarray(0, offset))
    .update(packet.subarray(offset + DIGEST_LENGTH, HANDSHAKE_PACKET_SIZE))
    .digest();
}

/** Write the digest of a C1/S1 into it; returns the digest's offset. */
export function imprintDigest(packet: Buffer, blockStart: DigestBlockStart, key: Buffer): number {
  const offset = digestOffset(packet, blockStart);
  digestOf(packet, offset, key).copy(packet, offset);
  return offset;
}

/** A digest found in a C1/S1: where it is and which block layout the sender used. */
export interface FoundDigest {
  offset: number;
  blockStart: DigestBlockStart;
}

/** Look for a valid digest in a C1/S1 under either block layout; undefined if there is none. */
export function findDigest(packet: Buffer, key: Buffer): FoundDigest | undefined {
  for (const blockStart of DIGEST_BLOCK_STARTS) {
    const offset = digestOffset(packet, blockStart);
    const expected = digestOf(packet, offset, key);
    if (expected.equals(packet.subarray(offset, offset + DIGEST_LENGTH))) return { offset, blockStart };
  }
  return undefined;
}

/**
 * The HMAC whose digest of the first 1504 bytes of a C2/S2 is its last 32 bytes: keyed with
 * HMAC(full key of the answering side, digest of the C1/S1 it answers).
 */
export function createResponseHmac(challengeDigest: Buffer, answererKey: Buffer): Hmac {
  const signingKey = createHmac("sha256", answererKey).update(challengeDigest).digest();
  return createHmac("sha256", signingKey);
}

/** Sign a C2/S2 (random bytes) in place as the answer to the C1/S1 digest `challengeDigest`. */
export function signResponse(response: Buffer, challengeDigest: Buffer, answererKey: Buffer): void {
  createResponseHmac(challengeDigest, answererKey)
    .update(response.subarray(0, SIGNED_RESPONSE_LENGTH))
    .digest()
    .copy(response, SIGNED_RESPONSE_LENGTH);
}
