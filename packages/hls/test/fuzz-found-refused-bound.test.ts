/**
 * Found by `pnpm fuzz --parser hls-segmenter` (seed 1, case 2149): a packet that ended a part or
 * a segment (LL-HLS fragment headers, or the next TS segment's PAT and PMT were written for it) and
 * was then refused by the muxer returned before the byte bound was enforced: stats().bytes stayed
 * over maxBytesPerStream with complete segments still held that should have been evicted.
 */
import { createMediaPacket } from "@onair/core";
import { HlsSegmenter } from "@onair/hls";
import { describe, expect, it } from "vitest";
import { avcHeader, info, videoFrame } from "./segment-packets.js";

/** A keyframe whose NAL unit length runs past the frame: the muxer refuses it (ERR_HLS_TRUNCATED). */
const badKeyframe = (ts: number) =>
  createMediaPacket("video", ts, Buffer.from("17010000000000ffff65", "hex"), { keyframe: true });

describe("the byte bound when a packet is refused", () => {
  for (const variant of ["ts"] as const) {
    it(`${variant}: holds after the refusal, not only after the next packet`, () => {
      let over = 0;
      for (let size = 200; size < 700; size += 7) {
        const maxBytesPerStream = 3000;
        const segmenter = new HlsSegmenter(info(), {
          variant,
          targetDurationMs: 100,
          partTargetMs: 50,
          maxBytesPerStream,
        });
        segmenter.write(avcHeader(0));
        for (let i = 0; i < 40; i++) {
          const ts = i * 40;
          segmenter.write(i % 5 === 4 ? badKeyframe(ts) : videoFrame(ts, i % 5 === 0, size));
          const { bytes, segments } = segmenter.stats();
          if (bytes > maxBytesPerStream && segments > 0) over += 1;
        }
        expect(segmenter.stats().lastError).toBe("ERR_HLS_TRUNCATED");
      }
      expect(over).toBe(0);
    });
  }
});
