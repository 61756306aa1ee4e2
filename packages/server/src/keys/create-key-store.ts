import type { KeyStore } from "./key-store.js";
import { MemoryKeyStore } from "./memory-key-store.js";
import { RedisKeyStore, type RedisKeyStoreOptions } from "./redis-key-store.js";

export interface KeyStoreOptions extends Partial<RedisKeyStoreOptions> {}

/**
 * The key store a server's settings ask for: Redis when `redisAddr` is set (livego's
 * `redis_addr`, connected before this resolves), else memory.
 */
export async function createKeyStore(options: KeyStoreOptions = {}): Promise<KeyStore> {
  const { redisAddr } = options;
  if (redisAddr === undefined || redisAddr === "") return new MemoryKeyStore();
  return RedisKeyStore.connect({ ...options, redisAddr });
}
