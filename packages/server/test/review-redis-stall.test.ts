/**
 * Review: a Redis that is connected but does not answer (paused, stopped, a network partition that
 * keeps the TCP connection up) must refuse a publish after a bounded wait, never leave it hanging.
 */
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasRedis, type RedisServer, startRedis } from "../../../test-support/redis.js";
import { channelKeyAuthorize } from "../src/keys/channel-key-authorize.js";
import { RedisKeyStore } from "../src/keys/redis-key-store.js";

describe.runIf(hasRedis)("RedisKeyStore when Redis stops answering (review)", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("rejects with ERR_KEYS_REDIS after commandTimeoutMs, refuses the publish, and works again after", async () => {
    const store = await RedisKeyStore.connect({ redisAddr: redis.addr, commandTimeoutMs: 400 });
    const admin = await createClient({ url: `redis://${redis.addr}` }).connect();
    try {
      const key = await store.get("stalled");
      // Every client's commands wait while Redis is paused; the connection stays up.
      await admin.sendCommand(["CLIENT", "PAUSE", "2500", "ALL"]);
      const started = Date.now();
      await expect(store.roomOf(key)).rejects.toMatchObject({ code: "ERR_KEYS_REDIS" });
      // MULTI (get makes a room's key with one) is bounded too. (A reset given up on may still be
      // carried out once Redis answers again, so it is not tried here.)
      await expect(store.get("other")).rejects.toMatchObject({ code: "ERR_KEYS_REDIS" });
      const verdict = await channelKeyAuthorize(store)({
        action: "publish",
        protocol: "rtmp",
        app: "live",
        name: key,
        query: new URLSearchParams(),
        remoteAddress: "127.0.0.1:1",
      });
      expect(verdict).toMatchObject({ allow: false });
      expect(Date.now() - started).toBeLessThan(2000);
      await admin.sendCommand(["CLIENT", "UNPAUSE"]);
      let room: string | undefined;
      for (let i = 0; i < 50 && room === undefined; i++) {
        room = await store.roomOf(key).catch(() => undefined);
        if (room === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      expect(room).toBe("stalled");
    } finally {
      await admin.sendCommand(["CLIENT", "UNPAUSE"]).catch(() => {});
      admin.destroy();
      await store.close();
    }
  });
});

describe("Redis credentials in error messages (review)", () => {
  it("a failed connect names the address without the password of a redis:// URL", async () => {
    const error = await RedisKeyStore.connect({
      redisAddr: "redis://onair:hunter2@127.0.0.1:1/0",
      connectAttempts: 1,
      connectTimeoutMs: 500,
    }).catch((e: unknown) => e as Error);
    expect(error).toMatchObject({ code: "ERR_KEYS_REDIS" });
    expect((error as Error).message).toContain("127.0.0.1:1");
    expect((error as Error).message).not.toContain("hunter2");
  });

  it("a mistyped address with credentials in it is not echoed either", async () => {
    const error = await RedisKeyStore.connect({ redisAddr: "onair:hunter2@127.0.0.1:1" }).catch(
      (e: unknown) => e as Error,
    );
    expect(error).toMatchObject({ code: "ERR_KEYS_REDIS" });
    expect((error as Error).message).toContain("127.0.0.1:1");
    expect((error as Error).message).not.toContain("hunter2");
  });

  it("the server's start failure does not print the password either", async () => {
    const { createServer } = await import("../src/onair-server.js");
    const server = createServer({
      redis: { addr: "redis://onair:hunter2@127.0.0.1:1" },
      api: false,
      hls: false,
      rtmpPort: 0,
      flvPort: 0,
    });
    const error = await server.listen().catch((e: unknown) => e as Error);
    await server.close();
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/Redis/);
    expect((error as Error).message).not.toContain("hunter2");
  });
});
