import {
  checkRoom,
  generateChannelKey,
  type KeyStore,
  KeyStoreError,
  KeyStoreErrorCode,
  keyDigest,
  keysEqual,
  plausibleKey,
} from "./key-store.js";

/**
 * Channel keys in this process's memory (the default): lost on restart, not shared between
 * servers. Use {@link RedisKeyStore} for either.
 */
export class MemoryKeyStore implements KeyStore {
  /** room → key */
  readonly #keys = new Map<string, string>();
  /** SHA-256 of a key → its room; a hit is confirmed against #keys in constant time. */
  readonly #rooms = new Map<string, string>();
  #closed = false;

  /** Rooms that have a key, for tests and dashboards. */
  get size(): number {
    return this.#keys.size;
  }

  async get(room: string): Promise<string> {
    this.#check(room);
    return this.#keys.get(room) ?? this.#assign(room);
  }

  async reset(room: string): Promise<string> {
    this.#check(room);
    this.#forget(room);
    return this.#assign(room);
  }

  async delete(room: string): Promise<boolean> {
    this.#check(room);
    return this.#forget(room);
  }

  async roomOf(key: string): Promise<string | undefined> {
    if (this.#closed) throw new KeyStoreError(KeyStoreErrorCode.closed, "the key store is closed");
    if (!plausibleKey(key)) return undefined;
    const room = this.#rooms.get(keyDigest(key));
    if (room === undefined) return undefined;
    const current = this.#keys.get(room);
    return current !== undefined && keysEqual(current, key) ? room : undefined;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#keys.clear();
    this.#rooms.clear();
  }

  #check(room: string): void {
    if (this.#closed) throw new KeyStoreError(KeyStoreErrorCode.closed, "the key store is closed");
    checkRoom(room);
  }

  #assign(room: string): string {
    let key = generateChannelKey();
    // 285 random bits never collide in practice; checking costs one lookup.
    while (this.#rooms.has(keyDigest(key))) key = generateChannelKey();
    this.#keys.set(room, key);
    this.#rooms.set(keyDigest(key), room);
    return key;
  }

  #forget(room: string): boolean {
    const key = this.#keys.get(room);
    if (key === undefined) return false;
    this.#keys.delete(room);
    this.#rooms.delete(keyDigest(key));
    return true;
  }
}
