import { describe, expect, it } from "vitest";
import { createMediaPacket, GopCache, type MediaPacket } from "../src/index.js";
import { packets } from "./helpers.js";

const inter = (t: number, bytes: number) => createMediaPacket("video", t, Buffer.alloc(bytes, 0x27));
const key = (t: number, bytes: number) =>
  createMediaPacket("video", t, Buffer.alloc(bytes, 0x17), { keyframe: true });

function timestamps(cache: GopCache): number[] {
  const seen: number[] = [];
  cache.forEach((p: MediaPacket) => {
    if (!p.sequenceHeader && p.kind !== "script") seen.push(p.timestamp);
  });
  return seen;
}

describe("GopCache", () => {
  it("stays under its byte cap when a publisher sends one keyframe and then only inter frames", () => {
    const cache = new GopCache(1, { maxBytes: 10_000, maxPackets: 1e9 });
    cache.add(packets.videoHeader());
    cache.add(key(0, 1000));
    let most = 0;
    for (let t = 1; t <= 20_000; t++) {
      cache.add(inter(t, 100));
      most = Math.max(most, cache.bytes);
    }
    expect(most).toBeLessThanOrEqual(10_000);
    // The one GOP outgrew the cap: dropped, and nothing more until the next keyframe.
    expect(cache.size).toBe(0);
    expect(cache.gopCount).toBe(0);
    const headers: MediaPacket[] = [];
    cache.forEach((p) => {
      headers.push(p);
    });
    expect(headers.map((p) => p.sequenceHeader)).toEqual([true]);
    cache.add(key(200_000, 1000));
    cache.add(inter(200_001, 100));
    expect(timestamps(cache)).toEqual([200_000, 200_001]);
  });

  it("stays under its packet cap the same way", () => {
    const cache = new GopCache(1, { maxBytes: Infinity, maxPackets: 50 });
    cache.add(key(0, 10));
    for (let t = 1; t < 10_000; t++) cache.add(inter(t, 1));
    expect(cache.size).toBe(0);
    cache.add(key(20_000, 10));
    expect(cache.size).toBe(1);
  });

  it("drops the oldest GOP first when several are kept", () => {
    const cache = new GopCache(3, { maxBytes: 2500, maxPackets: 1e9 });
    cache.add(key(0, 1000));
    cache.add(key(1, 1000));
    expect(timestamps(cache)).toEqual([0, 1]);
    cache.add(key(2, 1000)); // 3000 bytes: the oldest goes
    expect(timestamps(cache)).toEqual([1, 2]);
    expect(cache.bytes).toBe(2000);
  });

  it("does not cache a keyframe bigger than the cap on its own", () => {
    const cache = new GopCache(1, { maxBytes: 500, maxPackets: 1e9 });
    cache.add(key(0, 501));
    cache.add(inter(1, 10));
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
  });

  it("visits headers and only the newest GOPs that fit in a byte budget", () => {
    const cache = new GopCache(3);
    cache.add(packets.videoHeader()); // 2 bytes
    cache.add(key(0, 100));
    cache.add(inter(1, 100));
    cache.add(key(2, 300));
    cache.add(key(3, 100));
    const seen = (budget: number) => {
      const out: string[] = [];
      const gops = cache.forEachWithin(budget, (p) => out.push(p.sequenceHeader ? "H" : String(p.timestamp)));
      return { out, gops };
    };
    expect(seen(10_000)).toEqual({ out: ["H", "0", "1", "2", "3"], gops: 3 });
    expect(seen(402)).toEqual({ out: ["H", "2", "3"], gops: 2 });
    expect(seen(401)).toEqual({ out: ["H", "3"], gops: 1 });
    expect(seen(101)).toEqual({ out: ["H"], gops: 0 });
  });
});
