import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { OnairError } from "@onair/core";

/**
 * Channel keys, livego's model: each room (channel) has one secret key. A publisher pushes to
 * rtmp://HOST/APP/KEY; the stream goes live as APP/ROOM, and players use APP/ROOM.
 *
 * Implementations: {@link MemoryKeyStore} (one process) and {@link RedisKeyStore} (shared by every
 * server on one Redis, and kept across restarts). Both pass the same contract tests.
 */
export interface KeyStore {
  /** The room's key, made (from a CSPRNG) the first time a room is asked for. */
  get(room: string): Promise<string>;
  /** Give the room a new key. The old one maps to no room from the moment this resolves. */
  reset(room: string): Promise<string>;
  /** Forget the room and its key. True when the room had a key. */
  delete(room: string): Promise<boolean>;
  /** The room whose key `key` is, or undefined. Compared in constant time. */
  roomOf(key: string): Promise<string | undefined>;
  /** Let go of connections. Idempotent. */
  close(): Promise<void>;
}

/** Errors of the key stores, with stable codes. */
export class KeyStoreError extends OnairError {}

export const KeyStoreErrorCode = {
  /** A room name that cannot be one part of an "app/name" stream key. */
  badRoom: "ERR_KEYS_BAD_ROOM",
  /** The store was closed. */
  closed: "ERR_KEYS_CLOSED",
  /** Redis could not be reached or answered with an error. */
  redis: "ERR_KEYS_REDIS",
} as const;

/** livego's key length. 48 characters of 62 give 285 bits. */
export const CHANNEL_KEY_LENGTH = 48;

/** Longest key `roomOf` looks up; anything longer is no key of ours (and is not hashed). */
const MAX_KEY_LENGTH = 256;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** Bytes at or above this are dropped, so each of the 62 characters is equally likely. */
const UNBIASED_LIMIT = 256 - (256 % ALPHABET.length);

/** A new channel key: letters and digits from `crypto.randomBytes`, without modulo bias. */
export function generateChannelKey(length = CHANNEL_KEY_LENGTH): string {
  let key = "";
  while (key.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= UNBIASED_LIMIT) continue;
      key += ALPHABET[byte % ALPHABET.length];
      if (key.length === length) break;
    }
  }
  return key;
}

/**
 * SHA-256 of a key, hex. Stores index keys by this digest, not by the key itself: the lookup is
 * then driven by a value an attacker cannot steer byte by byte, and the final check is
 * {@link keysEqual}.
 */
export function keyDigest(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** Whether two keys are equal, in time that does not depend on where they differ or their lengths. */
export function keysEqual(a: string, b: string): boolean {
  const da = createHash("sha256").update(a, "utf8").digest();
  const db = createHash("sha256").update(b, "utf8").digest();
  return timingSafeEqual(da, db);
}

/** Whether `key` could be a key at all (a string of sane length); cheap, before any hashing. */
export function plausibleKey(key: unknown): key is string {
  return typeof key === "string" && key.length > 0 && key.length <= MAX_KEY_LENGTH;
}

/**
 * Why `room` cannot be a room (it becomes the stream name of APP/ROOM), or undefined when it can:
 * 1 to 256 characters, not "." or "..", no "/", "\\" or control characters.
 */
export function roomProblem(room: unknown): string | undefined {
  if (typeof room !== "string" || room.length === 0 || room.length > 256) {
    return "room must be 1 to 256 characters";
  }
  if (room === "." || room === "..") return 'room must not be "." or ".."';
  for (let i = 0; i < room.length; i++) {
    const code = room.charCodeAt(i);
    if (code < 0x20 || code === 0x7f || code === 0x2f || code === 0x5c) {
      return 'room must not contain "/", "\\" or control characters';
    }
  }
  return undefined;
}

/**
 * A Redis address as it may be shown in messages and logs: a `redis://user:password@host` URL
 * without its password, and anything before an "@" of another form hidden.
 */
export function redisAddrForLog(addr: string): string {
  // "user:password@host:port" is no address of ours, but shows what it holds all the same.
  if (!/^rediss?:\/\//i.test(addr.trim())) return addr.replace(/^[^@]*@/, "***@");
  try {
    const url = new URL(addr.trim());
    if (url.password !== "") url.password = "***";
    return url.href;
  } catch {
    return "(an unparsable redis:// URL)";
  }
}

/** Throws {@link KeyStoreError} `ERR_KEYS_BAD_ROOM` when `room` cannot be a room. */
export function checkRoom(room: string): void {
  const problem = roomProblem(room);
  if (problem !== undefined) throw new KeyStoreError(KeyStoreErrorCode.badRoom, problem);
}
