/** Review findings in the segmenter: each test failed before its fix. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMediaPacket } from "@onair/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { HlsSegmentBudget, HlsSegmenter } from "../src/index.js";
import {
  aacFrame,
  aacHeader,
  avcHeader,
  extinfs,
  fileOf,
  info,
  mp3Frame,
  segmentUris,
  tagValues,
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

describe("review: a TS segment whose only chunk holds tables and media", () => {
  it("is kept (it is not a segment of tables alone)", () => {
    const segmenter = new HlsSegmenter(info(), { variant: "ts", targetDurationMs: 1000 });
    segmenter.write(avcHeader());
    for (let t = 0; t < 2000; t += 40) segmenter.write(videoFrame(t, t % 1000 === 0));
    // The first MP3 frame starts a segment (a new track): its bytes come with PAT/PMT in front.
    segmenter.write(mp3Frame(2000));
    segmenter.discontinuity();
    segmenter.close();
    const packets = splitPackets(allSegments(segmenter));
    const audioStarts = packets.filter((p) => p.pid === 0x101 && p.pusi);
    expect(audioStarts.length).toBe(1);
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

/** A playlist read line by line: each segment's sequence numbers and its parts. */
interface ReadSegment {
  uri: string;
  msn: number;
  dsn: number;
  durationS: number;
  parts: string[];
}

function readPlaylist(text: string) {
  const lines = text.split("\n");
  const value = (tag: string): number => {
    const line = lines.find((l) => l.startsWith(tag));
    return line === undefined ? 0 : Number(line.slice(tag.length));
  };
  const mediaSequence = value("#EXT-X-MEDIA-SEQUENCE:");
  const discontinuitySequence = value("#EXT-X-DISCONTINUITY-SEQUENCE:");
  const segments: ReadSegment[] = [];
  let dsn = discontinuitySequence;
  let parts: string[] = [];
  let pendingDuration = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === "#EXT-X-DISCONTINUITY") dsn += 1;
    else if (line.startsWith("#EXT-X-PART:")) parts.push(/URI="([^"]*)"/.exec(line)?.[1] ?? "");
    else if (line.startsWith("#EXTINF:")) pendingDuration = Number.parseFloat(line.slice(8));
    else if (line !== "" && !line.startsWith("#")) {
      segments.push({
        uri: line,
        msn: mediaSequence + segments.length,
        dsn,
        durationS: pendingDuration,
        parts,
      });
      parts = [];
    }
  }
  return {
    mediaSequence,
    discontinuitySequence,
    targetDuration: value("#EXT-X-TARGETDURATION:"),
    segments,
    trailingParts: parts,
    trailingDsn: dsn,
  };
}

/** A seeded pseudo-random generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("review: playlist invariants across reloads under awkward input", () => {
  for (const variant of ["ts", "fmp4", "low-latency"] as const) {
    it(`${variant}: sequence numbers of a segment never change, and never go back`, () => {
      const budget = new HlsSegmentBudget(120_000);
      const segmenter = new HlsSegmenter(info(), { variant, windowSegments: 3, budget });
      const next = random(7);
      segmenter.write(avcHeader());
      segmenter.write(aacHeader());
      const seen = new Map<string, { msn: number; dsn: number }>();
      const partOwner = new Map<string, string>();
      let lastMs = -1;
      let lastDs = -1;
      let lastText = "";
      let t = 0;
      let audioT = 0;
      for (let i = 0; i < 3000; i++) {
        const roll = next();
        if (roll < 0.003)
          t = Math.max(0, t - 2000 - Math.floor(next() * 5000)); // jump back
        else if (roll < 0.006)
          t += 10_000 + Math.floor(next() * 20_000); // jump forward
        else if (roll < 0.008)
          segmenter.discontinuity(); // a new publisher
        else if (roll < 0.009) segmenter.endSegment(); // the publisher left
        if (audioT < t - 100 || audioT > t + 100) audioT = t;
        segmenter.write(videoFrame(t, i % 30 === 0 || next() < 0.01, 200 + Math.floor(next() * 3000)));
        while (audioT <= t) {
          segmenter.write(aacFrame(audioT));
          audioT += 23;
        }
        t += 33 + (next() < 0.5 ? 1 : 0);
        const text = segmenter.playlist();
        if (text === lastText) continue;
        lastText = text;
        const read = readPlaylist(text);
        expect(read.mediaSequence).toBeGreaterThanOrEqual(lastMs);
        expect(read.discontinuitySequence).toBeGreaterThanOrEqual(lastDs);
        lastMs = read.mediaSequence;
        lastDs = read.discontinuitySequence;
        for (const segment of read.segments) {
          expect(Math.round(segment.durationS), text).toBeLessThanOrEqual(read.targetDuration);
          const before = seen.get(segment.uri);
          if (before !== undefined)
            expect({ uri: segment.uri, ...before }).toEqual({
              uri: segment.uri,
              msn: segment.msn,
              dsn: segment.dsn,
            });
          else seen.set(segment.uri, { msn: segment.msn, dsn: segment.dsn });
          for (const part of segment.parts) {
            const owner = partOwner.get(part);
            if (owner !== undefined) expect(owner, part).toBe(`${segment.msn}/${segment.dsn}`);
            partOwner.set(part, `${segment.msn}/${segment.dsn}`);
          }
        }
        const inProgress = (read.segments.at(-1)?.msn ?? read.mediaSequence - 1) + 1;
        for (const part of read.trailingParts) {
          const owner = partOwner.get(part);
          if (owner !== undefined) expect(owner, part).toBe(`${inProgress}/${read.trailingDsn}`);
          partOwner.set(part, `${inProgress}/${read.trailingDsn}`);
        }
      }
      expect(seen.size).toBeGreaterThan(20);
      // The input did what it is for: discontinuities left the window, segments were dropped by the byte bound.
      expect(lastDs).toBeGreaterThan(2);
      expect(segmenter.stats().evictedInWindow).toBeGreaterThan(0);
    });
  }
});

describe("review: low-latency part durations (RFC 8216bis 4.4.4.9)", () => {
  /** Every EXT-X-PART of the playlist with its segment: duration (ms), independence, and whether it ends its segment. */
  function partsOf(text: string) {
    const out: { durationMs: number; independent: boolean; last: boolean }[] = [];
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (!line.startsWith("#EXT-X-PART:")) continue;
      const next = lines[i + 1] ?? "";
      out.push({
        durationMs: Math.round(Number(/DURATION=([\d.]+)/.exec(line)?.[1]) * 1000),
        independent: line.includes("INDEPENDENT=YES"),
        // The final part of a complete segment is followed by its EXTINF.
        last: next.startsWith("#EXTINF:"),
      });
    }
    return out;
  }

  it("a keyframe inside a segment does not leave a short part that is neither independent nor final", () => {
    const segmenter = new HlsSegmenter(info(), { variant: "low-latency", windowSegments: 20 });
    segmenter.write(avcHeader());
    segmenter.write(aacHeader());
    // 25 fps, a keyframe every 500 ms (an LL encoder setting) and scene-cut keyframes at odd times.
    const scenecuts = new Set([1320, 2760, 3080]);
    for (let t = 0; t < 6000; t += 40) {
      segmenter.write(aacFrame(t));
      segmenter.write(videoFrame(t, t % 500 === 0 || scenecuts.has(t)));
    }
    const parts = partsOf(segmenter.playlist());
    expect(parts.length).toBeGreaterThan(10);
    for (const part of parts) expect(part.durationMs).toBeLessThanOrEqual(200);
    const short = parts.filter((p) => !p.independent && !p.last && p.durationMs < 0.85 * 200);
    expect(short).toEqual([]);
  });

  it("an all-intra stream (every frame a keyframe) still gets parts near the part target, not one per frame", () => {
    const segmenter = new HlsSegmenter(info(), { variant: "low-latency", windowSegments: 20 });
    segmenter.write(avcHeader());
    for (let t = 0; t < 3000; t += 10) segmenter.write(videoFrame(t, true, 100));
    const parts = partsOf(segmenter.playlist());
    // 3 s of 200 ms parts is about 15; one part per frame would be 300.
    expect(parts.length).toBeLessThan(20);
  });
});

describe("review: EXT-X-PROGRAM-DATE-TIME when media arrives in bursts", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("never maps two segments to the same time (RFC 8216bis 6.2.1: no ambiguous dates)", () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
    const segmenter = new HlsSegmenter(info(), { variant: "ts", windowSegments: 20 });
    segmenter.write(avcHeader());
    segmenter.write(aacHeader());
    const frame = (t: number) => {
      segmenter.write(aacFrame(t));
      segmenter.write(videoFrame(t, t % 1000 === 0));
    };
    // A publisher that stalled: 3 s of media at once (a GOP cache replay does the same), then real time.
    for (let t = 0; t < 3000; t += 40) frame(t);
    for (let t = 3000; t < 8000; t += 40) {
      vi.advanceTimersByTime(40);
      frame(t);
    }
    // And another stall of 2 s, then a burst to catch up.
    vi.advanceTimersByTime(2000);
    for (let t = 8000; t < 10_000; t += 40) frame(t);
    for (let t = 10_000; t < 12_000; t += 40) {
      vi.advanceTimersByTime(40);
      frame(t);
    }
    const text = segmenter.playlist();
    const dates = tagValues(text, "#EXT-X-PROGRAM-DATE-TIME:").map((d) => Date.parse(d));
    const durations = extinfs(text).map((s) => s * 1000);
    expect(dates.length).toBeGreaterThan(8);
    for (let i = 1; i < dates.length; i++) {
      // Each segment starts where the one before ends (sub-second overlaps are allowed; none here).
      expect(dates[i] - (dates[i - 1] + durations[i - 1]), `segment ${i}`).toBeGreaterThanOrEqual(0);
    }
  });

  it("a discontinuity (timestamps back to 0) does not make dates go back", () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
    const segmenter = new HlsSegmenter(info(), { variant: "ts", windowSegments: 20 });
    segmenter.write(avcHeader());
    for (let t = 0; t < 4000; t += 40) segmenter.write(videoFrame(t, t % 1000 === 0));
    // Sent 4 s of media in a burst, then the encoder restarts at 0.
    for (let t = 0; t < 4000; t += 40) {
      vi.advanceTimersByTime(40);
      segmenter.write(videoFrame(t, t % 1000 === 0));
    }
    const text = segmenter.playlist();
    const dates = tagValues(text, "#EXT-X-PROGRAM-DATE-TIME:").map((d) => Date.parse(d));
    const durations = extinfs(text).map((s) => s * 1000);
    for (let i = 1; i < dates.length; i++) {
      expect(dates[i] - (dates[i - 1] + durations[i - 1]), `segment ${i}`).toBeGreaterThanOrEqual(0);
    }
  });
});

describe("review: directory output when the shared budget drops a listed segment", () => {
  it("rewrites the playlist file, so it never names a file that was deleted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "onair-hls-review-"));
    try {
      const budget = new HlsSegmentBudget(400_000);
      const a = new HlsSegmenter(info("live/a"), { variant: "ts", dir, budget });
      const b = new HlsSegmenter(info("live/b"), { variant: "ts", dir, budget });
      for (const s of [a, b]) s.write(avcHeader());
      // Stream a: 8 s of 20 kB frames fill the budget; then b's bigger segments make it take a's listed ones.
      for (let t = 0; t < 8000; t += 40) a.write(videoFrame(t, t % 1000 === 0, 2000));
      for (let t = 0; t < 3000; t += 40) b.write(videoFrame(t, t % 1000 === 0, 5000));
      expect(a.stats().evictedInWindow).toBeGreaterThan(0);
      await a.settled();
      await b.settled();
      const onDisk = readFileSync(join(dir, "live", "a.m3u8"), "utf8");
      expect(onDisk).toBe(a.playlist()); // TS: the same text on disk and in memory
      for (const uri of segmentUris(onDisk))
        expect(existsSync(join(dir, "live", "a", fileOf(uri))), uri).toBe(true);
      a.dispose();
      b.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("review: low-latency playlists only grow at the end (RFC 8216bis 6.2.1)", () => {
  it("a segment's EXT-X-PROGRAM-DATE-TIME is there from its first part, never inserted later", () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
    try {
      const segmenter = new HlsSegmenter(info(), { variant: "low-latency", windowSegments: 4 });
      segmenter.write(avcHeader());
      segmenter.write(aacHeader());
      const dateOfPart = new Map<string, string | undefined>();
      let checked = 0;
      for (let t = 0; t < 6000; t += 40) {
        vi.advanceTimersByTime(40);
        segmenter.write(aacFrame(t));
        segmenter.write(videoFrame(t, t % 1000 === 0));
        if (t === 3000) segmenter.discontinuity();
        let date: string | undefined;
        for (const line of segmenter.playlist().split("\n")) {
          if (line.startsWith("#EXT-X-PROGRAM-DATE-TIME:")) date = line.slice(25);
          else if (line.startsWith("#EXTINF:")) date = undefined;
          else if (line.startsWith("#EXT-X-PART:")) {
            const uri = /URI="([^"]*)"/.exec(line)?.[1] ?? "";
            expect(date, `${uri} at ${t}`).toBeDefined();
            if (dateOfPart.has(uri)) expect(date, uri).toBe(dateOfPart.get(uri));
            else dateOfPart.set(uri, date);
            checked += 1;
          }
        }
      }
      expect(checked).toBeGreaterThan(100);
    } finally {
      vi.useRealTimers();
    }
  });
});
