/** The contract every KeyStore passes: run by keys-memory.test.ts and key-store-redis.test.ts. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { KeyStore } from "../src/keys/key-store.js";

export function keyStoreContract(name: string, makeStore: () => Promise<KeyStore>): void {
  describe(`KeyStore contract: ${name}`, () => {
    let store: KeyStore;
    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await store.close();
    });

    it("makes a 48-character letters-and-digits key on the first get, and keeps it", async () => {
      const key = await store.get("room1");
      expect(key).toMatch(/^[A-Za-z0-9]{48}$/);
      expect(await store.get("room1")).toBe(key);
      expect(await store.roomOf(key)).toBe("room1");
      const other = await store.get("room2");
      expect(other).not.toBe(key);
      expect(await store.roomOf(other)).toBe("room2");
    });

    it("maps anything but a current key to no room", async () => {
      const key = await store.get("room1");
      const flipped = `${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`;
      for (const candidate of [flipped, key.slice(0, -1), `${key}x`, "", "room1", "x".repeat(10_000)]) {
        expect(await store.roomOf(candidate)).toBeUndefined();
      }
    });

    it("reset gives a new key; the old one maps to nothing at once", async () => {
      const old = await store.get("room1");
      const fresh = await store.reset("room1");
      expect(fresh).toMatch(/^[A-Za-z0-9]{48}$/);
      expect(fresh).not.toBe(old);
      expect(await store.roomOf(old)).toBeUndefined();
      expect(await store.roomOf(fresh)).toBe("room1");
      expect(await store.get("room1")).toBe(fresh);
    });

    it("reset of a room never asked for makes its key", async () => {
      const key = await store.reset("new-room");
      expect(await store.get("new-room")).toBe(key);
    });

    it("delete says true for a room with a key, then false; the key is gone", async () => {
      const key = await store.get("room1");
      expect(await store.delete("room1")).toBe(true);
      expect(await store.delete("room1")).toBe(false);
      expect(await store.delete("never-made")).toBe(false);
      expect(await store.roomOf(key)).toBeUndefined();
      const again = await store.get("room1");
      expect(again).not.toBe(key);
    });

    it("agrees on one key when one room is asked for many times at once", async () => {
      const keys = await Promise.all(Array.from({ length: 10 }, () => store.get("busy")));
      expect(new Set(keys).size).toBe(1);
      expect(await store.roomOf(keys[0])).toBe("busy");
    });

    it("refuses room names that cannot be a stream name, with ERR_KEYS_BAD_ROOM", async () => {
      for (const room of ["", "a/b", "a\\b", "..", "a\nb", "x".repeat(257)]) {
        await expect(store.get(room)).rejects.toMatchObject({ code: "ERR_KEYS_BAD_ROOM" });
        await expect(store.reset(room)).rejects.toMatchObject({ code: "ERR_KEYS_BAD_ROOM" });
        await expect(store.delete(room)).rejects.toMatchObject({ code: "ERR_KEYS_BAD_ROOM" });
      }
      // Unicode and punctuation are fine.
      const key = await store.get("直播 room-1.a_b");
      expect(await store.roomOf(key)).toBe("直播 room-1.a_b");
    });

    it("close is idempotent; calls after it reject with ERR_KEYS_CLOSED", async () => {
      await store.close();
      await store.close();
      await expect(store.get("room1")).rejects.toMatchObject({ code: "ERR_KEYS_CLOSED" });
      await expect(store.roomOf("x")).rejects.toMatchObject({ code: "ERR_KEYS_CLOSED" });
    });
  });
}
