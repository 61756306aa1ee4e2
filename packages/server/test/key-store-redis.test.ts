/** The Redis key store against a real redis-server: the contract, sharing, restarts, outages. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasRedis, type RedisServer, startRedis } from "../../../test-support/redis.js";
import { createKeyStore } from "../src/keys/create-key-store.js";
import { RedisKeyStore } from "../src/keys/redis-key-store.js";
import { keyStoreContract } from "./keys-contract.js";

describe.runIf(hasRedis)("RedisKeyStore", () => {
  let redis: RedisServer;
  let prefixes = 0;
  /** A fresh key prefix per store in the contract, so its tests do not see each other's rooms. */
  const fresh = () => RedisKeyStore.connect({ redisAddr: redis.addr, prefix: `t${++prefixes}:` });

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  keyStoreContract("redis", () => fresh());

  it("createKeyStore connects to redis_addr", async () => {
    const store = await createKeyStore({ redisAddr: redis.addr });
    expect(store).toBeInstanceOf(RedisKeyStore);
    const key = await store.get("via-create");
    expect(await store.roomOf(key)).toBe("via-create");
    await store.close();
  });

  it("two stores on one Redis (two servers) accept the same keys, and a reset on one is seen by the other", async () => {
    const a = await RedisKeyStore.connect({ redisAddr: redis.addr });
    const b = await RedisKeyStore.connect({ redisAddr: `redis://127.0.0.1:${redis.port}` });
    const key = await a.get("shared");
    expect(await b.get("shared")).toBe(key);
    expect(await b.roomOf(key)).toBe("shared");
    const fresh = await b.reset("shared");
    expect(await a.roomOf(key)).toBeUndefined();
    expect(await a.roomOf(fresh)).toBe("shared");
    expect(await a.delete("shared")).toBe(true);
    expect(await b.delete("shared")).toBe(false);
    expect(await b.roomOf(fresh)).toBeUndefined();
    // Both ask for a new room at once: one key, whoever made it.
    const [x, y] = await Promise.all([a.get("race"), b.get("race")]);
    expect(x).toBe(y);
    await Promise.all([a.close(), b.close()]);
  });

  it("keys survive a restart of the store (a server restart)", async () => {
    const before = await RedisKeyStore.connect({ redisAddr: redis.addr, prefix: "restart:" });
    const key = await before.get("kept");
    await before.close();
    const after = await RedisKeyStore.connect({ redisAddr: redis.addr, prefix: "restart:" });
    expect(await after.roomOf(key)).toBe("kept");
    expect(await after.get("kept")).toBe(key);
    await after.close();
  });

  it("writes livego-like keys under the prefix: PREFIX key:ROOM and PREFIX room:SHA256", async () => {
    const store = await RedisKeyStore.connect({ redisAddr: redis.addr, prefix: "layout:" });
    const key = await store.get("r1");
    await store.close();
    const { createClient } = await import("redis");
    const client = await createClient({ url: `redis://127.0.0.1:${redis.port}` }).connect();
    expect(await client.get("layout:key:r1")).toBe(key);
    const index = await client.keys("layout:room:*");
    expect(index).toHaveLength(1);
    expect(index[0]).toMatch(/^layout:room:[0-9a-f]{64}$/);
    expect(index[0]).not.toContain(key);
    expect(await client.get(index[0])).toBe("r1");
    client.destroy();
  });

  it("needs the password when Redis has one", async () => {
    const locked = await startRedis({ password: "s3cret" });
    try {
      await expect(
        RedisKeyStore.connect({ redisAddr: locked.addr, connectAttempts: 1 }),
      ).rejects.toMatchObject({
        code: "ERR_KEYS_REDIS",
      });
      const store = await RedisKeyStore.connect({ redisAddr: locked.addr, redisPassword: "s3cret" });
      const key = await store.get("locked");
      expect(await store.roomOf(key)).toBe("locked");
      await store.close();
    } finally {
      await locked.stop();
    }
  });

  it("fails the start with ERR_KEYS_REDIS naming the address when nothing listens", async () => {
    const started = Date.now();
    await expect(RedisKeyStore.connect({ redisAddr: "127.0.0.1:1", connectAttempts: 2 })).rejects.toThrow(
      /cannot connect to Redis at 127\.0\.0\.1:1/,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    await expect(createKeyStore({ redisAddr: "host:notaport" })).rejects.toMatchObject({
      code: "ERR_KEYS_REDIS",
    });
  });

  it("refuses at once while Redis is down (a publish is refused, not left waiting), and recovers", async () => {
    const own = await startRedis();
    const store = await RedisKeyStore.connect({ redisAddr: own.addr });
    const key = await store.get("outage");
    await own.stop();
    const started = Date.now();
    await expect(store.roomOf(key)).rejects.toMatchObject({ code: "ERR_KEYS_REDIS" });
    expect(Date.now() - started).toBeLessThan(1000);
    // Redis comes back (empty: nothing is saved in these tests); the store reconnects by itself.
    const back = await startRedis({ port: own.port });
    try {
      let fresh: string | undefined;
      for (let i = 0; i < 100 && fresh === undefined; i++) {
        fresh = await store.get("outage").catch(() => undefined);
        if (fresh === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      expect(fresh).toMatch(/^[A-Za-z0-9]{48}$/);
      expect(await store.roomOf(fresh as string)).toBe("outage");
    } finally {
      await store.close();
      await back.stop();
    }
  });
});
