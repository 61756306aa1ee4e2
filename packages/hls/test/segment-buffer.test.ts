/**
 * Segments made in one Buffer (TS, low-latency fMP4): the first one grows from 64 KiB by doubling,
 * the next ones are sized from the last two. What readers got before a segment closed (its parts)
 * is what the complete segment holds; the bytes held are counted in the budget, and given back.
 */
import { HlsSegmentBudget, HlsSegmenter } from "@onair/hls";
import { describe, expect, it } from "vitest";
import { attribute, fileOf, info, segmentUris, stream, tagValues } from "./segment-packets.js";

describe("segments made in one Buffer", () => {
  it("low-latency: parts fetched while the segment grew are the segment's bytes, in order", () => {
    const target = new HlsSegmenter(info(), { variant: "low-latency", targetDurationMs: 2000 });
    const fetched = new Map<string, Buffer>();
    // 2 s segments of 25 fps with 6 KB frames: ~300 KB each, past the first Buffer's 64 KiB.
    for (const packet of stream({ durationMs: 9000, gopMs: 2000, videoBytes: 6000 })) {
      target.write(packet);
      const parts = tagValues(target.playlist(), "#EXT-X-PART:");
      for (const part of parts) {
        const file = fileOf(attribute(part, "URI") ?? "");
        if (!fetched.has(file)) fetched.set(file, Buffer.from(target.resource(file)?.bytes ?? []));
      }
    }
    const playlist = target.playlist();
    const segments = segmentUris(playlist).map(fileOf);
    expect(segments.length).toBeGreaterThanOrEqual(3);
    // The parts listed before a segment's URI (since the one before), in order, make it up exactly.
    const partsOf = new Map<string, string[]>();
    let parts: string[] = [];
    for (const line of playlist.split("\n")) {
      if (line.startsWith("#EXT-X-PART:")) parts.push(fileOf(attribute(line, "URI") ?? ""));
      else if (line !== "" && !line.startsWith("#")) {
        partsOf.set(fileOf(line), parts);
        parts = [];
      }
    }
    let checked = 0;
    for (const file of segments) {
      const segment = target.resource(file)?.bytes as Buffer;
      expect(segment.length).toBeGreaterThan(250_000);
      const list = partsOf.get(file) ?? [];
      if (list.length === 0) continue; // parts are listed for the last target durations only
      const early = list.map((part) => fetched.get(part) as Buffer);
      expect(Buffer.concat(early).equals(segment)).toBe(true);
      const late = list.map((part) => target.resource(part)?.bytes as Buffer);
      expect(Buffer.concat(late).equals(segment)).toBe(true);
      checked += 1;
    }
    expect(checked).toBeGreaterThanOrEqual(2);
    target.dispose();
  });

  it("ts: the bytes held, unused Buffer tails included, are what the budget counts and all come back", () => {
    const budget = new HlsSegmentBudget(64 * 1024 * 1024);
    const target = new HlsSegmenter(info(), {
      variant: "ts",
      targetDurationMs: 1000,
      windowSegments: 2,
      budget,
    });
    let held = 0;
    for (const packet of stream({ durationMs: 12_000, gopMs: 1000, videoBytes: 5000 })) {
      target.write(packet);
      held = Math.max(held, target.stats().bytes);
      expect(budget.bytes).toBe(target.stats().bytes);
    }
    const segments = segmentUris(target.playlist()).map(
      (uri) => target.resource(fileOf(uri))?.bytes as Buffer,
    );
    // Sized from the last two: a steady stream's segments use most of their Buffer.
    for (const bytes of segments) expect(bytes.buffer.byteLength).toBeLessThanOrEqual(bytes.length * 1.125);
    expect(held).toBeGreaterThan(0);
    target.dispose();
    expect(budget.bytes).toBe(0);
  });
});
