/**
 * Found by `pnpm fuzz --parser hls-segmenter` (seed 1, case 29): before the stream's frame interval
 * was known (its second lead frame), a part was not ended for lack of it, so with a PART-TARGET
 * under two frame intervals the first part held two frames: EXT-X-PART DURATION 0.078 with
 * PART-TARGET 0.040 (RFC 8216bis 4.4.4.9: a part lasts at most PART-TARGET).
 */
import { HlsSegmenter } from "@onair/hls";
import { describe, expect, it } from "vitest";
import { attribute, avcHeader, info, tagValues, videoFrame } from "./segment-packets.js";

describe("the first part of a stream", () => {
  it("lasts at most PART-TARGET when it is under two frame intervals", () => {
    const segmenter = new HlsSegmenter(info(), {
      variant: "low-latency",
      partTargetMs: 40,
      targetDurationMs: 200,
    });
    segmenter.write(avcHeader(0));
    for (let i = 0; i < 12; i++) segmenter.write(videoFrame(1000 + 39 * i, i % 2 === 0));
    const playlist = segmenter.playlist();
    const target = Number(tagValues(playlist, "#EXT-X-PART-INF:PART-TARGET=")[0]);
    const parts = tagValues(playlist, "#EXT-X-PART:").map((line) => Number(attribute(line, "DURATION")));
    expect(target).toBe(0.04);
    expect(parts.length).toBeGreaterThan(3);
    for (const duration of parts) expect(duration).toBeLessThanOrEqual(target + 0.001);
  });
});
