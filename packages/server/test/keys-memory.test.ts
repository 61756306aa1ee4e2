/** The in-memory key store and the key helpers. */
import { describe, expect, it } from "vitest";
import { createKeyStore } from "../src/keys/create-key-store.js";
import { generateChannelKey, keysEqual } from "../src/keys/key-store.js";
import { MemoryKeyStore } from "../src/keys/memory-key-store.js";
import { keyStoreContract } from "./keys-contract.js";

keyStoreContract("memory", async () => new MemoryKeyStore());

describe("channel keys", () => {
  it("are drawn evenly from 62 letters and digits", () => {
    const counts = new Map<string, number>();
    const keys = 2000;
    for (let i = 0; i < keys; i++) {
      for (const c of generateChannelKey()) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect(counts.size).toBe(62);
    const expected = (keys * 48) / 62;
    // 96 000 draws: each count is within a few percent of 1548 unless the draw is biased.
    for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.12);
    expect(generateChannelKey(10)).toHaveLength(10);
  });

  it("keysEqual compares whole keys of any length", () => {
    const key = generateChannelKey();
    expect(keysEqual(key, key)).toBe(true);
    expect(keysEqual(key, `${key}x`)).toBe(false);
    expect(keysEqual(key, "")).toBe(false);
    expect(keysEqual("", "")).toBe(true);
  });

  it("createKeyStore gives the memory store without redisAddr", async () => {
    const store = await createKeyStore({});
    expect(store).toBeInstanceOf(MemoryKeyStore);
    const blank = await createKeyStore({ redisAddr: "" });
    expect(blank).toBeInstanceOf(MemoryKeyStore);
    await store.close();
    await blank.close();
  });
});
