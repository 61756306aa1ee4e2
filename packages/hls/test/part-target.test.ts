import { describe, expect, it } from "vitest";
import { fitPartTarget, HlsSegmenter } from "../src/segment/hls-segmenter.js";
import { attribute, info, stream, tagValues } from "./segment-packets.js";

/** Every EXT-X-PART of a playlist, and its PART-TARGET. */
function partsOf(playlist: string): {
  target: number;
  parts: { duration: number; independent: boolean; last: boolean }[];
} {
  const target = Number(attribute(tagValues(playlist, "#EXT-X-PART-INF:")[0] ?? "", "PART-TARGET"));
  const lines = playlist.split("\n");
  const parts: { duration: number; independent: boolean; last: boolean }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith("#EXT-X-PART:")) continue;
    const list = lines[i].slice("#EXT-X-PART:".length);
    // The last part of a segment is the one its EXTINF follows.
    const last = lines[i + 1]?.startsWith("#EXTINF:") === true;
    parts.push({
      duration: Number(attribute(list, "DURATION")),
      independent: attribute(list, "INDEPENDENT") === "YES",
      last,
    });
  }
  return { target, parts };
}

describe("PART-TARGET fitted to the frame rate (RFC 8216bis 4.4.4.9)", () => {
  it("keeps the configured target where whole frames fill 85% of it", () => {
    expect(fitPartTarget(200, 40)).toBe(200); // 25 fps: 5 frames
    expect(fitPartTarget(200, 33)).toBe(200); // 30 fps: 6 frames
    expect(fitPartTarget(200, 34)).toBe(200);
    expect(fitPartTarget(200, 17)).toBe(200); // 60 fps
    expect(fitPartTarget(200, 23)).toBe(200); // AAC at 44.1 kHz leading an audio-only stream
  });

  it("grows it by one frame where they cannot (24 fps: 4 frames are 167 ms, under 170)", () => {
    expect(fitPartTarget(200, 41)).toBe(5 * 42 + 1);
    expect(fitPartTarget(200, 42)).toBe(5 * 43 + 1);
    expect(fitPartTarget(200, 250)).toBe(252); // 4 fps: one frame per part
  });

  for (const fps of [24, 25, 30, 60]) {
    it(`${fps} fps: every part but independent and last ones lasts 85–100% of PART-TARGET`, () => {
      const target = new HlsSegmenter(info(), { variant: "low-latency" });
      for (const packet of stream({ durationMs: 6000, fps })) target.write(packet);
      const { target: partTarget, parts } = partsOf(target.playlist());
      expect(parts.length).toBeGreaterThan(10);
      expect(partTarget).toBeCloseTo(target.partTargetMs / 1000, 3);
      expect(
        Number(attribute(tagValues(target.playlist(), "#EXT-X-SERVER-CONTROL:")[0], "PART-HOLD-BACK")),
      ).toBeCloseTo((3 * target.partTargetMs) / 1000, 3);
      for (const part of parts) {
        expect(part.duration).toBeLessThanOrEqual(partTarget + 0.0005);
        if (!part.independent && !part.last) expect(part.duration).toBeGreaterThanOrEqual(0.85 * partTarget);
      }
      target.close();
    });
  }
});
