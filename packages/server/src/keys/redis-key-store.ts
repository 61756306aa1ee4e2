import { createClient } from "redis";
import {
  checkRoom,
  generateChannelKey,
  type KeyStore,
  KeyStoreError,
  KeyStoreErrorCode,
  keyDigest,
  keysEqual,
  plausibleKey,
  redisAddrForLog,
} from "./key-store.js";

export interface RedisKeyStoreOptions {
  /**
   * Where Redis is: livego's `redis_addr` form "host:port" (port 6379 when left out), or a
   * `redis://` / `rediss://` URL (user, password and database in it).
   */
  redisAddr: string;
  /** livego's `redis_pwd`. */
  redisPassword?: string;
  /** Prefix of every Redis key this store writes. Default "onair:". */
  prefix?: string;
  /** Connection attempts at start before {@link RedisKeyStore.connect} gives up. Default 3. */
  connectAttempts?: number;
  /** Timeout of one connection attempt, ms. Default 5000. */
  connectTimeoutMs?: number;
  /**
   * How long one call (`get`, `roomOf`, ...) may wait for Redis, ms; past it the call rejects with
   * `ERR_KEYS_REDIS` (a publish is refused). A Redis that keeps the connection up but does not
   * answer (paused, stopped, partitioned) would otherwise hold a publisher for ever. Default 2000.
   */
  commandTimeoutMs?: number;
  /** Told of connection errors (Redis down, reconnecting); the store keeps trying on its own. */
  onError?: (error: Error) => void;
}

type Client = ReturnType<typeof createClient>;

/** "host:port", "[v6]:port" or a redis:// URL, as node-redis client options. */
function clientOptions(options: RedisKeyStoreOptions): Parameters<typeof createClient>[0] & object {
  const addr = options.redisAddr.trim();
  const password = options.redisPassword === "" ? undefined : options.redisPassword;
  if (/^rediss?:\/\//i.test(addr)) return { url: addr, ...(password === undefined ? {} : { password }) };
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(addr);
  const port = match?.[3] === undefined ? 6379 : Number(match[3]);
  if (match === null || port < 1 || port > 65535) {
    throw new KeyStoreError(
      KeyStoreErrorCode.redis,
      `redis_addr must be "host:port" or a redis:// URL, got "${redisAddrForLog(options.redisAddr)}"`,
    );
  }
  return {
    socket: { host: match[1] ?? match[2], port },
    ...(password === undefined ? {} : { password }),
  };
}

/**
 * Channel keys in Redis, through node-redis (the client Redis recommends for new code): every
 * server on one Redis accepts the same keys, and keys survive restarts.
 *
 * Layout, under `prefix` (default "onair:"):
 * - `onair:key:ROOM` → the room's key
 * - `onair:room:SHA256(KEY)` → the room (an index; a hit is confirmed against `onair:key:ROOM`
 *   in constant time, so an index entry left by two racing resets never lets a key in)
 *
 * `get` creates with SET NX in a MULTI (two servers asking at once agree on one key); `reset` and
 * `delete` change both entries in one MULTI. While Redis is unreachable, calls reject at once
 * (no offline queue): a publish then is refused, never left waiting.
 */
export class RedisKeyStore implements KeyStore {
  readonly #client: Client;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(client: Client, prefix: string, timeoutMs: number) {
    this.#client = client;
    this.#prefix = prefix;
    this.#timeoutMs = timeoutMs;
  }

  /** Connect to Redis; rejects with `ERR_KEYS_REDIS` (naming the address) when it cannot. */
  static async connect(options: RedisKeyStoreOptions): Promise<RedisKeyStore> {
    const attempts = options.connectAttempts ?? 3;
    const timeoutMs = options.commandTimeoutMs ?? 2000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > 2 ** 31 - 1) {
      throw new KeyStoreError(KeyStoreErrorCode.redis, "commandTimeoutMs must be a positive number of ms");
    }
    let ready = false;
    const base = clientOptions(options);
    const client = createClient({
      ...base,
      disableOfflineQueue: true,
      // Single commands leave node-redis's queue when they time out (MULTI ignores this: #redis
      // bounds every call).
      commandOptions: { timeout: timeoutMs },
      socket: {
        ...(base.socket ?? {}),
        connectTimeout: options.connectTimeoutMs ?? 5000,
        // At start: a few tries, then fail the start. Once connected: retry for ever, backing off
        // to 2 s with jitter, so a Redis restart is ridden out.
        reconnectStrategy: (retries: number, cause: Error) => {
          if (!ready && retries + 1 >= attempts) return cause;
          return Math.min(100 * 2 ** retries, 2000) + Math.floor(Math.random() * 100);
        },
      },
    } as Parameters<typeof createClient>[0]);
    // node-redis needs an error listener, or a lost connection would end the process.
    client.on("error", (error: Error) => options.onError?.(error));
    client.on("ready", () => {
      ready = true;
    });
    try {
      await client.connect();
    } catch (error) {
      client.destroy();
      throw new KeyStoreError(
        KeyStoreErrorCode.redis,
        `cannot connect to Redis at ${redisAddrForLog(options.redisAddr)}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return new RedisKeyStore(client as Client, options.prefix ?? "onair:", timeoutMs);
  }

  async get(room: string): Promise<string> {
    this.#check(room);
    return this.#redis(async () => {
      const existing = await this.#client.get(this.#keyOf(room));
      if (existing !== null) return existing;
      const key = generateChannelKey();
      const [, , current] = (await this.#client
        .multi()
        .set(this.#roomOf(key), room)
        .set(this.#keyOf(room), key, { NX: true })
        .get(this.#keyOf(room))
        .exec()) as unknown as [unknown, unknown, string | null];
      // Another server made the room's key first: ours is no key, drop its index entry.
      if (current !== key) await this.#client.del(this.#roomOf(key));
      if (current === null) throw new Error(`the key of ${room} vanished while it was made`);
      return current;
    });
  }

  async reset(room: string): Promise<string> {
    this.#check(room);
    return this.#redis(async () => {
      const old = await this.#client.get(this.#keyOf(room));
      const key = generateChannelKey();
      const multi = this.#client.multi().set(this.#keyOf(room), key).set(this.#roomOf(key), room);
      if (old !== null) multi.del(this.#roomOf(old));
      await multi.exec();
      return key;
    });
  }

  async delete(room: string): Promise<boolean> {
    this.#check(room);
    return this.#redis(async () => {
      const [key, deleted] = (await this.#client
        .multi()
        .get(this.#keyOf(room))
        .del(this.#keyOf(room))
        .exec()) as unknown as [string | null, number];
      if (key !== null) await this.#client.del(this.#roomOf(key));
      return deleted > 0;
    });
  }

  async roomOf(key: string): Promise<string | undefined> {
    if (this.#closed) throw new KeyStoreError(KeyStoreErrorCode.closed, "the key store is closed");
    if (!plausibleKey(key)) return undefined;
    return this.#redis(async () => {
      const room = await this.#client.get(this.#roomOf(key));
      if (room === null) return undefined;
      const current = await this.#client.get(this.#keyOf(room));
      return current !== null && keysEqual(current, key) ? room : undefined;
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.#client.close().catch(() => this.#client.destroy());
    await this.#closing;
  }

  #keyOf(room: string): string {
    return `${this.#prefix}key:${room}`;
  }

  #roomOf(key: string): string {
    return `${this.#prefix}room:${keyDigest(key)}`;
  }

  #check(room: string): void {
    if (this.#closed) throw new KeyStoreError(KeyStoreErrorCode.closed, "the key store is closed");
    checkRoom(room);
  }

  /** Run Redis commands; their failures, and no answer within the timeout, become `ERR_KEYS_REDIS`. */
  async #redis<T>(work: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
    });
    const running = work();
    // A call given up on may still fail later: that is no unhandled rejection.
    running.catch(() => {});
    try {
      return await Promise.race([running, timeout]);
    } catch (error) {
      if (error instanceof KeyStoreError) throw error;
      throw new KeyStoreError(KeyStoreErrorCode.redis, `Redis: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      clearTimeout(timer);
    }
  }
}
