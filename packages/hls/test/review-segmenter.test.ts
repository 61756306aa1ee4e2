/** Review findings in the segmenter: each test failed before its fix. */
import { createMediaPacket } from "@onair/core";
import { describe, expect, it } from "vitest";
import { HlsSegmentBudget, HlsSegmenter } from "../src/index.js";
import {
  aacFrame,
  aacHeader,
  avcHeader,
  fileOf,
  info,
  mp3Frame,
  segmentUris,
  videoFrame,
} from "./segment-packets.js";
import { expectContinuity, splitPackets } from "./ts-reader.js";

/** Every TS segment of the playlist, in order, concatenated (as a player reads them). */
function allSegments(segmenter: HlsSegmenter): Buffer {
  const parts = segmentUris(segmenter.playlist()).map((uri) => {
    const resource = segmenter.resource(fileOf(uri));
    expect(resource, uri).toBeDefined();
    return resource?.bytes ?? Buffer.alloc(0);
  });
  return Buffer.concat(parts);
}

describe("review: TS tables when an MP3 track appears after video", () => {
  it("writes PAT/PMT once at the start of the segment, continuity counters in order", () => {
    const segmenter = new HlsSegmenter(info(), { variant: "ts", targetDurationMs: 1000 });
    segmenter.write(avcHeader());
    // Video alone for two seconds (segments with PAT/PMT already written), then MP3 audio comes.
    for (let t = 0; t < 2000; t += 40) segmenter.write(videoFrame(t, t % 1000 === 0));
    for (let t = 2000; t < 4000; t += 40) {
      segmenter.write(videoFrame(t, t % 1000 === 0));
      segmenter.write(mp3Frame(t));
    }
    segmenter.close();
    const packets = splitPackets(allSegments(segmenter));
    expectContinuity(packets);
    // Each segment starts with exactly one PAT and one PMT.
    for (const uri of segmentUris(segmenter.playlist())) {
      const segment = splitPackets(segmenter.resource(fileOf(uri))?.bytes ?? Buffer.alloc(0));
      expect(segment[0].pid, uri).toBe(0);
      expect(segment[1].pid, uri).toBe(0x1000);
      expect(segment.filter((p) => p.pid === 0).length, uri).toBe(1);
    }
  });
});

describe("review: fMP4 byte accounting", () => {
  it("packets the muxer queues nothing for are not counted as held bytes", () => {
    const budget = new HlsSegmentBudget(64 * 1024 * 1024);
    const segmenter = new HlsSegmenter(info(), { variant: "fmp4", budget });
    segmenter.write(avcHeader());
    segmenter.write(aacHeader());
    segmenter.write(videoFrame(0, true));
    // A publisher sends end-of-sequence tags with bytes after them, and coded-frame tags with no
    // NAL units: the muxer queues nothing for them.
    const endOfSequence = Buffer.concat([Buffer.from([0x17, 0x02, 0, 0, 0]), Buffer.alloc(8000)]);
    const empty = Buffer.from([0x27, 0x01, 0, 0, 0]);
    for (let i = 0; i < 2000; i++) {
      segmenter.write(createMediaPacket("video", 40 + i, endOfSequence));
      segmenter.write(createMediaPacket("video", 40 + i, empty));
    }
    // 16 MB were sent, none of it media: what is held is the one frame and the init section.
    expect(segmenter.stats().bytes).toBeLessThan(64 * 1024);
    expect(budget.bytes).toBe(segmenter.stats().bytes);
    segmenter.write(aacFrame(3000));
    segmenter.dispose();
    expect(budget.bytes).toBe(0);
  });
});
