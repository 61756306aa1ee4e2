/**
 * Found by `pnpm fuzz --parser hls-segmenter`: an fMP4 segment named its init section (and so had
 * it made and counted) on a packet that queued no sample (an AAC frame with no data, an AVC
 * end-of-sequence); when such a segment closed empty ("it never existed"), or lost its map to a
 * keyframe that configured the video track, nothing named the init section any more, yet it stayed
 * held and counted: bytes with no segment left, and, alternating sequence headers, without bound.
 */
import { createMediaPacket } from "@onair/core";
import { HlsSegmenter } from "@onair/hls";
import { describe, expect, it } from "vitest";
import { aacFrame, aacHeader, info } from "./segment-packets.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");
/** An AAC raw frame with no data: the muxer queues nothing for it. */
const emptyAac = (ts: number) => createMediaPacket("audio", ts, hex("af 01"));

describe("init sections no segment names", () => {
  for (const variant of ["fmp4", "low-latency"] as const) {
    it(`${variant}: a segment that got no sample leaves no bytes held`, () => {
      const segmenter = new HlsSegmenter(info(), { variant });
      segmenter.write(aacHeader(0));
      segmenter.write(emptyAac(0));
      segmenter.close();
      expect(segmenter.stats().segments).toBe(0);
      expect(segmenter.stats().bytes).toBe(0);
    });

    it(`${variant}: header changes between empty frames do not grow memory`, () => {
      const segmenter = new HlsSegmenter(info(), { variant, maxBytesPerStream: 64 * 1024 });
      for (let i = 0; i < 2000; i++) {
        segmenter.write(aacHeader(i * 10, i % 2 === 0 ? hex("12 10") : hex("11 88")));
        segmenter.write(emptyAac(i * 10));
      }
      expect(segmenter.stats().bytes).toBeLessThan(4096);
      segmenter.write(aacFrame(20_000));
      segmenter.close();
      expect(segmenter.stats().segments).toBe(1);
    });
  }
});

describe("an audio-only init section replaced by in-band parameter sets", () => {
  // avcC records with no SPS/PPS (NAL length sizes 4 and 2), and an Annex B IDR access unit carrying them.
  const EMPTY_AVCC = [hex("01 42 c0 0d ff e0 00"), hex("01 42 c0 0d fd e0 00")];
  const SPS = hex("67 42 c0 0d da 05 07 ec 04 40 00 00 03 00 40 00 00 0c a3 c5 0a a8");
  const PPS = hex("68 ce 0f c8");
  const IDR = hex("65 88 84 00 33 ff");
  const keyframe = (ts: number) =>
    createMediaPacket(
      "video",
      ts,
      Buffer.concat([hex("17 01 000000 00000001"), SPS, hex("000001"), PPS, hex("000001"), IDR]),
      { keyframe: true },
    );

  for (const variant of ["fmp4", "low-latency"] as const) {
    it(`${variant}: is let go, however often it happens`, () => {
      const segmenter = new HlsSegmenter(info(), { variant });
      segmenter.write(aacHeader(0));
      for (let i = 0; i < 500; i++) {
        const ts = i * 100;
        segmenter.write(
          createMediaPacket("video", ts, Buffer.concat([hex("17 00 000000"), EMPTY_AVCC[i % 2]]), {
            sequenceHeader: true,
          }),
        );
        segmenter.write(aacFrame(ts));
        segmenter.write(keyframe(ts + 1));
      }
      // The window and the few segments kept after it, each with its own init section: far below one per cycle.
      expect(segmenter.stats().segments).toBeLessThanOrEqual(9);
      expect(segmenter.stats().bytes).toBeLessThan(32 * 1024);
    });
  }
});
