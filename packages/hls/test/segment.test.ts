/**
 * The segmenter under ordinary and awkward input: where it cuts, what each segment starts with,
 * discontinuities, audio-only and video-only streams, codecs it cannot mux, memory bounds, the
 * Low-Latency HLS parts and the blocking-reload view (lastMsn, lastPart, has()).
 */
import { createMediaPacket, type MediaPacket } from "@onair/core";
import { HlsErrorCode, HlsSegmentBudget, HlsSegmenter, type HlsSegmenterOptions, TS_PID } from "@onair/hls";
import muxjs from "mux.js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { hvc1Tag, hvcC } from "./hevc-tags.js";
import {
  AVC_RECORD_2,
  aacFrame,
  aacHeader,
  attribute,
  av1Frame,
  av1Header,
  avcHeader,
  extinfs,
  fileOf,
  frames,
  info,
  mp3Frame,
  type SyntheticStream,
  segmentUris,
  stream,
  tagValues,
  videoFrame,
} from "./segment-packets.js";
import { annexBUnits, readPes, splitPackets } from "./ts-reader.js";

function segmenter(options: HlsSegmenterOptions = {}, key = "live/cam"): HlsSegmenter {
  return new HlsSegmenter(info(key), options);
}

function feed(target: HlsSegmenter, packets: MediaPacket[]): void {
  for (const packet of packets) target.write(packet);
}

/** The bytes of every complete segment listed, oldest first. */
function segmentBytes(target: HlsSegmenter): Buffer[] {
  return segmentUris(target.playlist()).map((uri) => {
    const resource = target.resource(fileOf(uri));
    if (resource === undefined) throw new Error(`${uri} is listed but not served`);
    return resource.bytes;
  });
}

/** EXT-X-PART lines as { file, duration, independent }. */
function parts(playlist: string): { file: string; duration: number; independent: boolean }[] {
  return tagValues(playlist, "#EXT-X-PART:").map((list) => ({
    file: fileOf(attribute(list, "URI") ?? ""),
    duration: Number(attribute(list, "DURATION")),
    independent: attribute(list, "INDEPENDENT") === "YES",
  }));
}

const targetDuration = (playlist: string): number => Number(tagValues(playlist, "#EXT-X-TARGETDURATION:")[0]);

afterEach(() => {
  vi.useRealTimers();
});

describe("HlsSegmenter: where segments are cut", () => {
  it("TS: 1 s segments at the keyframes, each starting with PAT, PMT and an IDR frame with random access", () => {
    const target = segmenter({ variant: "ts" });
    feed(target, stream({ durationMs: 5000 }));
    const playlist = target.playlist();
    expect(playlist.startsWith("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n")).toBe(true);
    expect(extinfs(playlist)).toEqual([1, 1, 1, 1]);
    const segments = segmentBytes(target);
    expect(segments).toHaveLength(4);
    for (const bytes of segments) {
      const packets = splitPackets(bytes);
      expect(packets[0].pid).toBe(TS_PID.pat);
      expect(packets[1].pid).toBe(TS_PID.pmt);
      const video = readPes(packets, TS_PID.video);
      expect(video).toHaveLength(25);
      // random_access_indicator (0x40 in the adaptation field flags) on the first frame, an IDR slice in it.
      expect((video[0].adaptation?.[0] ?? 0) & 0x40).toBe(0x40);
      expect(annexBUnits(video[0].data).some((nal) => (nal[0] & 0x1f) === 5)).toBe(true);
      expect(annexBUnits(video[1].data).some((nal) => (nal[0] & 0x1f) === 5)).toBe(false);
    }
    // The first video frame of segment n is at n s (PES DTS at 90 kHz).
    const firstDts = segments.map((bytes) => readPes(splitPackets(bytes), TS_PID.video)[0].dts);
    expect(firstDts).toEqual([0, 90_000, 180_000, 270_000]);
    expect(target.resource(fileOf(segmentUris(playlist)[0]))?.contentType).toBe("video/mp2t");
  });

  it("cuts only at a keyframe once the target is reached: 400 ms GOPs make 1.2 s segments, 2 s GOPs 2 s ones", () => {
    const short = segmenter({ variant: "ts" });
    feed(short, stream({ durationMs: 6000, gopMs: 400 }));
    expect(extinfs(short.playlist())).toEqual([1.2, 1.2, 1.2, 1.2]);
    expect(targetDuration(short.playlist())).toBe(1);

    const long = segmenter({ variant: "fmp4" });
    feed(long, stream({ durationMs: 9000, gopMs: 2000 }));
    expect(extinfs(long.playlist())).toEqual([2, 2, 2, 2]);
    expect(targetDuration(long.playlist())).toBe(2);
  });

  it("no keyframe for 20 s: one long segment, TARGETDURATION grows to 20 and never shrinks", () => {
    const target = segmenter({ variant: "ts" });
    const keyframesAt = [0, 20_000, 21_000, 22_000, 23_000, 24_000];
    for (let t = 25_000; t < 40_000; t += 1000) keyframesAt.push(t);
    feed(target, stream({ durationMs: 40_000, keyframesAt }));
    const playlist = target.playlist();
    expect(extinfs(playlist).every((d) => d === 1)).toBe(true); // the long one left the window
    expect(targetDuration(playlist)).toBe(20);
    // Early on, the long segment was listed with its real duration.
    const early = segmenter({ variant: "ts" });
    feed(early, stream({ durationMs: 22_500, keyframesAt }));
    expect(extinfs(early.playlist())).toEqual([20, 1, 1]);
    expect(targetDuration(early.playlist())).toBe(20);
  });

  it("no keyframe for 30 s: the segment is cut anyway, and the next one does not start with an IDR", () => {
    const target = segmenter({ variant: "ts" });
    feed(target, stream({ durationMs: 45_000, keyframesAt: [0] }));
    const playlist = target.playlist();
    expect(extinfs(playlist)).toEqual([30]);
    const [first] = segmentBytes(target);
    expect(readPes(splitPackets(first), TS_PID.video)).toHaveLength(750);
    target.close();
    const all = segmentBytes(target);
    expect(all).toHaveLength(2);
    const second = readPes(splitPackets(all[1]), TS_PID.video);
    expect(annexBUnits(second[0].data).some((nal) => (nal[0] & 0x1f) === 5)).toBe(false);
  });

  it("stays under maxBytesPerStream when no keyframe comes: cut at a quarter of it, oldest dropped, even listed", () => {
    const maxBytesPerStream = 400_000;
    const target = segmenter({ variant: "ts", maxBytesPerStream });
    let most = 0;
    for (const packet of stream({ durationMs: 20_000, keyframesAt: [0], videoBytes: 20_000 })) {
      target.write(packet);
      most = Math.max(most, target.stats().bytes);
    }
    expect(most).toBeLessThanOrEqual(maxBytesPerStream);
    const stats = target.stats();
    expect(stats.segments).toBeGreaterThan(0);
    expect(stats.evictedInWindow).toBeGreaterThan(0);
    // Each complete segment holds at most a quarter of the bound (plus the frame that crossed it).
    for (const bytes of segmentBytes(target))
      expect(bytes.length).toBeLessThan(maxBytesPerStream / 4 + 21_000);
    // What is listed is served.
    expect(segmentBytes(target).length).toBe(extinfs(target.playlist()).length);
  });
});

describe("HlsSegmenter: a shared byte budget", () => {
  it("the stream holding the most loses its oldest segment first; the small one keeps its own", () => {
    const budget = new HlsSegmentBudget(300_000);
    const big = new HlsSegmenter(info("live/big"), { variant: "ts", budget });
    const small = new HlsSegmenter(info("live/small"), { variant: "ts", budget });
    feed(small, stream({ durationMs: 4500, videoBytes: 500 }));
    const smallSegments = small.stats().segments;
    expect(smallSegments).toBe(4);
    for (const packet of stream({ durationMs: 10_500, videoBytes: 5000 })) {
      big.write(packet);
      expect(budget.bytes).toBeLessThanOrEqual(300_000);
    }
    expect(small.stats().segments).toBe(smallSegments);
    expect(big.stats().evictedInWindow).toBeGreaterThan(0);
    expect(big.stats().bytes + small.stats().bytes).toBe(budget.bytes);
    big.dispose();
    expect(budget.bytes).toBe(small.stats().bytes);
    small.dispose();
    expect(budget.bytes).toBe(0);
  });

  it("when no stream has a complete segment left, the biggest one's segment in progress goes; its number is not used again", () => {
    const budget = new HlsSegmentBudget(150_000);
    const target = new HlsSegmenter(info(), { variant: "low-latency", budget });
    let most = 0;
    // No keyframe from 0 to 4 s: the segment in progress grows past the whole budget (75 kB/s of video).
    for (const packet of stream({ durationMs: 5000, keyframesAt: [0, 4000], videoBytes: 3000 })) {
      target.write(packet);
      most = Math.max(most, budget.bytes);
    }
    expect(most).toBeLessThanOrEqual(150_000);
    expect(target.stats().evictedInWindow).toBe(1);
    target.close();
    // What remains comes after the dropped segment (number 0), with a discontinuity: audio from
    // where it was dropped, video from the keyframe at 4 s.
    const playlist = target.playlist();
    expect(tagValues(playlist, "#EXT-X-MEDIA-SEQUENCE:")).toEqual(["1"]);
    expect(playlist).toContain("#EXT-X-DISCONTINUITY\n");
    const list = parts(playlist);
    expect(list.filter((p) => p.independent)).toHaveLength(1);
    expect(
      list
        .slice(
          0,
          list.findIndex((p) => p.independent),
        )
        .every((p) => !p.independent),
    ).toBe(true);
    expect(extinfs(playlist)).toHaveLength(1);
    expect(extinfs(playlist)[0]).toBeGreaterThan(2.5);
  });
});

describe("HlsSegmenter: discontinuities", () => {
  it("timestamps that jump back: EXT-X-DISCONTINUITY, then DISCONTINUITY-SEQUENCE 1 once it left", () => {
    const target = segmenter({ variant: "ts" });
    feed(target, stream({ durationMs: 3000, start: 50_000 }));
    feed(target, frames({ durationMs: 3000, start: 0 }));
    let playlist = target.playlist();
    expect(playlist.split("\n").filter((l) => l === "#EXT-X-DISCONTINUITY")).toHaveLength(1);
    // The segment before the jump ends where its media ends; the one after starts at the new base.
    expect(extinfs(playlist)).toEqual([1, 1, 1, 1, 1]);
    const lines = playlist.split("\n");
    const at = lines.indexOf("#EXT-X-DISCONTINUITY");
    const firstAfter = segmentBytes(target)[3];
    expect(readPes(splitPackets(firstAfter), TS_PID.video)[0].dts).toBe(0);
    expect(lines.slice(at).filter((l) => l.startsWith("#EXTINF"))).toHaveLength(2);
    expect(tagValues(playlist, "#EXT-X-DISCONTINUITY-SEQUENCE:")).toEqual(["0"]);
    // Ten more seconds: the marked segment leaves the held segments (6 listed + 3 kept).
    feed(target, frames({ durationMs: 10_000, start: 3000 }));
    playlist = target.playlist();
    expect(playlist).not.toContain("#EXT-X-DISCONTINUITY\n");
    expect(tagValues(playlist, "#EXT-X-DISCONTINUITY-SEQUENCE:")).toEqual(["1"]);
  });

  it("a jump forward of a minute is a discontinuity; a 2 s gap is not", () => {
    const jump = segmenter({ variant: "ts" });
    feed(jump, stream({ durationMs: 3000 }));
    feed(jump, frames({ durationMs: 3000, start: 63_000 }));
    expect(jump.playlist()).toContain("#EXT-X-DISCONTINUITY\n");
    expect(extinfs(jump.playlist())).toEqual([1, 1, 1, 1, 1]);

    const gap = segmenter({ variant: "ts" });
    feed(gap, stream({ durationMs: 3000 }));
    feed(gap, frames({ durationMs: 3000, start: 5000 }));
    expect(gap.playlist()).not.toContain("#EXT-X-DISCONTINUITY\n");
    expect(extinfs(gap.playlist())).toEqual([1, 1, 3, 1, 1]);
  });

  it("after a jump, video waits for a keyframe (inter frames dropped, audio kept)", () => {
    const target = segmenter({ variant: "ts" });
    feed(target, stream({ durationMs: 2000 }));
    // The new base starts 600 ms into a GOP: frames until the keyframe at 1000 are dropped.
    feed(
      target,
      frames({
        durationMs: 4000,
        start: 10_000_000 - 600,
        keyframesAt: [10_000_400, 10_001_400, 10_002_400],
      }),
    );
    const stats = target.stats();
    expect(stats.skippedPackets).toBe(25); // 1 s of video at 25 fps
    const segments = segmentBytes(target);
    const afterJump = segments[2];
    const video = readPes(splitPackets(afterJump), TS_PID.video);
    expect(annexBUnits(video[0].data).some((nal) => (nal[0] & 0x1f) === 5)).toBe(true);
    // Its audio starts before its first video frame.
    const audio = readPes(splitPackets(afterJump), TS_PID.audio);
    expect(audio[0].pts).toBeLessThan(video[0].dts ?? 0);
  });

  it("discontinuity() (a new publisher): the segment ends, the next one is marked and starts at a keyframe", () => {
    const target = segmenter({ variant: "fmp4" });
    feed(target, stream({ durationMs: 2500 }));
    target.discontinuity();
    expect(extinfs(target.playlist())).toEqual([1, 1, 0.52]);
    // The hub rebases the new publisher's timestamps: time goes on.
    feed(target, frames({ durationMs: 3000, start: 2540, keyframesAt: [2540, 3540, 4540] }));
    const playlist = target.playlist();
    const lines = playlist.split("\n");
    expect(lines.filter((l) => l === "#EXT-X-DISCONTINUITY")).toHaveLength(1);
    expect(lines[lines.indexOf("#EXT-X-DISCONTINUITY") + 1]).toMatch(/^#EXT-X-PROGRAM-DATE-TIME:/);
    expect(extinfs(playlist)).toEqual([1, 1, 0.52, 1, 1]);
  });

  it("a changed AVC sequence header: a new EXT-X-MAP, with a discontinuity; repeated identical headers change nothing", () => {
    const target = segmenter({ variant: "fmp4" });
    const packets = stream({ durationMs: 3000 });
    // Some encoders send the sequence header before every keyframe.
    for (const packet of packets) {
      if (packet.keyframe) target.write(avcHeader(packet.timestamp));
      target.write(packet);
    }
    expect(target.playlist()).not.toContain("#EXT-X-DISCONTINUITY\n");
    expect(tagValues(target.playlist(), "#EXT-X-MAP:")).toHaveLength(1);
    target.write(avcHeader(3000, AVC_RECORD_2));
    feed(target, frames({ durationMs: 3000, start: 3000 }));
    const playlist = target.playlist();
    const maps = tagValues(playlist, "#EXT-X-MAP:").map((m) => fileOf(attribute(m, "URI") ?? ""));
    expect(maps).toHaveLength(2);
    expect(maps[0]).not.toBe(maps[1]);
    const lines = playlist.split("\n");
    expect(lines[lines.indexOf("#EXT-X-DISCONTINUITY") + 1]).toBe(`#EXT-X-MAP:URI="cam/${maps[1]}"`);
    // Both init sections are served; the new one holds the new avcC.
    const inits = maps.map((file) => target.resource(file)?.bytes);
    expect(inits[0]?.includes(AVC_RECORD_2)).toBe(false);
    expect(inits[1]?.includes(AVC_RECORD_2)).toBe(true);
    expect(extinfs(playlist)).toEqual([1, 1, 1, 1, 1]);
  });
});

describe("HlsSegmenter: tracks", () => {
  it("audio only (TS): cut on time, about 1 s each, the PMT lists audio only", () => {
    const target = segmenter({ variant: "ts" });
    feed(target, stream({ durationMs: 5000, fps: 0 }));
    const durations = extinfs(target.playlist());
    // Cut at the frame nearest 1 s (frames last 23.2 ms): 0.998 s each.
    expect(durations).toEqual([0.998, 0.999, 0.998, 0.999, 0.998]);
    for (const d of durations) {
      expect(d).toBeGreaterThanOrEqual(0.97);
      expect(d).toBeLessThanOrEqual(1.03);
    }
    for (const bytes of segmentBytes(target)) {
      const packets = splitPackets(bytes);
      expect(packets.some((p) => p.pid === TS_PID.video)).toBe(false);
      expect(readPes(packets, TS_PID.audio).length).toBeGreaterThan(40);
    }
  });

  it("audio only (low-latency): every part is independent, served as audio/mp4", () => {
    const target = segmenter({ variant: "low-latency" });
    feed(target, stream({ durationMs: 3000, fps: 0 }));
    const list = parts(target.playlist());
    expect(list.length).toBeGreaterThan(10);
    expect(list.every((p) => p.independent)).toBe(true);
    expect(target.resource(list[0].file)?.contentType).toBe("audio/mp4");
  });

  it("MP3 audio (no sequence header) is segmented too", () => {
    const target = segmenter({ variant: "ts" });
    const packets: MediaPacket[] = [];
    for (let t = 0; t < 3000; t += 26) packets.push(mp3Frame(t));
    feed(target, packets);
    expect(extinfs(target.playlist())).toEqual([0.988, 0.988, 0.988]);
    const pmt = splitPackets(segmentBytes(target)[0])[1].payload;
    expect(pmt.includes(Buffer.from([0x03, 0xe1, 0x01]))).toBe(true); // stream type 3 on PID 0x101
  });

  it("video only (fMP4): one track in the init section, 1 s segments", () => {
    const target = segmenter({ variant: "fmp4" });
    feed(target, stream({ durationMs: 4000, audio: false }));
    expect(extinfs(target.playlist())).toEqual([1, 1, 1]);
    const map = fileOf(attribute(tagValues(target.playlist(), "#EXT-X-MAP:")[0], "URI") ?? "");
    const init = target.resource(map);
    expect(init?.contentType).toBe("video/mp4");
    const tracks = muxjs.mp4.probe.tracks(new Uint8Array(init?.bytes ?? Buffer.alloc(0)));
    expect(tracks.map((t) => t.type)).toEqual(["video"]);
    expect(target.stats().codecs).toBe("avc1.42c028");
  });

  it("HEVC (Enhanced RTMP hvc1): cut at IRAP frames, hvc1 in the init section, TS stream type 0x24", () => {
    const hex = (h: string): Buffer => Buffer.from(h, "hex");
    const record = hvcC({
      vps: hex("40010c01ffff01600000030090000003000003005d959809"),
      sps: hex("42010101600000030090000003000003005da00280802d165959a4932bc05a020000030002000003003210"),
      pps: hex("4401c172b46240"),
    });
    const nal = (irap: boolean): Buffer => {
      const unit = Buffer.alloc(300, 0x33);
      unit[0] = irap ? 19 << 1 : 1 << 1; // IDR_W_RADL or TRAIL_R
      unit[1] = 1;
      const length = Buffer.alloc(4);
      length.writeUInt32BE(unit.length);
      return Buffer.concat([length, unit]);
    };
    const packets: MediaPacket[] = [
      createMediaPacket("video", 0, hvc1Tag(1, 0, record), { sequenceHeader: true }),
      aacHeader(),
    ];
    for (const packet of frames({ durationMs: 3500 })) {
      if (packet.kind === "audio") packets.push(packet);
      else
        packets.push(
          createMediaPacket(
            "video",
            packet.timestamp,
            hvc1Tag(packet.keyframe ? 1 : 2, 1, nal(packet.keyframe)),
            packet,
          ),
        );
    }
    const ll = segmenter();
    feed(ll, packets);
    expect(extinfs(ll.playlist())).toEqual([1, 1, 1]);
    expect(ll.stats().codecs).toMatch(/^hvc1\.1\.6\.L93\.[0-9A-F]+,mp4a\.40\.2$/);
    expect(parts(ll.playlist()).filter((p) => p.independent)).toHaveLength(4); // and the one in progress
    const ts = segmenter({ variant: "ts" });
    feed(ts, packets);
    const pmt = splitPackets(segmentBytes(ts)[0])[1].payload;
    expect(pmt.includes(Buffer.from([0x24, 0xe1, 0x00]))).toBe(true); // HEVC on PID 0x100
    expect(ts.stats().skippedPackets).toBe(0);
  });

  it("a codec it cannot mux (AV1) is skipped: with AAC the output is audio only; alone, not playable", () => {
    const mixed = segmenter({ variant: "ts" });
    mixed.write(av1Header());
    mixed.write(aacHeader());
    for (let t = 0; t < 3000; t += 40) mixed.write(av1Frame(t, t % 1000 === 0));
    feed(mixed, frames({ durationMs: 3000, fps: 0 }));
    expect(mixed.playable).toBe(true);
    expect(extinfs(mixed.playlist())).toEqual([0.998, 0.999, 0.998]);
    expect(mixed.stats().lastError).toBe(HlsErrorCode.unsupportedCodec);
    expect(mixed.stats().skippedPackets).toBe(76);

    const alone = segmenter({ variant: "low-latency" });
    alone.write(av1Header());
    for (let t = 0; t < 3000; t += 40) alone.write(av1Frame(t, t % 1000 === 0));
    expect(alone.playable).toBe(false);
    expect(alone.lastMsn).toBe(-1);
    expect(alone.playlist()).not.toContain("#EXTINF");
  });

  it("a frame before its sequence header is skipped, never thrown", () => {
    const target = segmenter({ variant: "fmp4" });
    expect(() => target.write(videoFrame(0, true))).not.toThrow();
    expect(() => target.write(aacFrame(0))).not.toThrow();
    expect(target.stats().skippedPackets).toBe(2);
    expect(target.stats().lastError).toBe(HlsErrorCode.missingConfig);
    feed(target, stream({ durationMs: 2500, start: 40 }));
    expect(extinfs(target.playlist())).toEqual([1, 1]);
  });
});

describe("HlsSegmenter: Low-Latency HLS", () => {
  it("parts of 200 ms, the first of each segment INDEPENDENT, a preload hint for the next, no CAN-SKIP-UNTIL", () => {
    const target = segmenter();
    feed(target, stream({ durationMs: 3100 }));
    const playlist = target.playlist();
    expect(playlist).toContain(
      "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600\n#EXT-X-PART-INF:PART-TARGET=0.200\n",
    );
    expect(playlist).not.toContain("CAN-SKIP");
    const list = parts(playlist);
    expect(list.map((p) => p.duration)).toEqual(Array(15).fill(0.2));
    expect(list.map((p) => p.independent)).toEqual(Array.from({ length: 15 }, (_, i) => i % 5 === 0));
    const hint = fileOf(attribute(tagValues(playlist, "#EXT-X-PRELOAD-HINT:")[0], "TYPE=PART,URI") ?? "");
    expect(tagValues(playlist, "#EXT-X-PRELOAD-HINT:")[0]).toMatch(/^TYPE=PART,URI="cam\/.+\.m4s"$/);
    const hinted = fileOf(/URI="([^"]+)"/.exec(tagValues(playlist, "#EXT-X-PRELOAD-HINT:")[0])?.[1] ?? "");
    expect(hint === "" || hint === hinted).toBe(true);
    expect(target.isPreloadHint(hinted)).toBe(true);
    expect(target.resource(hinted)).toBeUndefined();
    expect(target.isPreloadHint(list[0].file)).toBe(false);
    // The hinted part is the next one written, whichever segment it lands in.
    feed(target, frames({ durationMs: 400, start: 3100 }));
    expect(target.resource(hinted)).toBeDefined();
    expect(target.isPreloadHint(hinted)).toBe(false);
    target.close();
    expect(target.playlist()).not.toContain("PRELOAD-HINT");
    expect(target.isPreloadHint(hinted)).toBe(false);
  });

  it("a segment's bytes are its parts' bytes, and its parts are then views of the segment's Buffer", () => {
    const target = segmenter();
    feed(target, stream({ durationMs: 2100 }));
    const playlist = target.playlist();
    const partFiles = parts(playlist)
      .slice(0, 5)
      .map((p) => p.file);
    const segment = target.resource(fileOf(segmentUris(playlist)[0]))?.bytes as Buffer;
    const partBytes = partFiles.map((file) => target.resource(file)?.bytes as Buffer);
    expect(Buffer.concat(partBytes).equals(segment)).toBe(true);
    for (const bytes of partBytes) expect(bytes.buffer).toBe(segment.buffer);
    // Each part is one moof + mdat.
    for (const bytes of partBytes) {
      const types = muxjs.mp4.tools.inspect(new Uint8Array(bytes)).map((b) => b.type);
      expect(types).toEqual(["moof", "mdat"]);
    }
  });

  it("30 fps: no part is longer than PART-TARGET (to the ms)", () => {
    const target = segmenter();
    feed(target, stream({ durationMs: 5000, fps: 30 }));
    const list = parts(target.playlist());
    expect(list.length).toBeGreaterThan(12);
    for (const part of list) expect(part.duration).toBeLessThanOrEqual(0.201);
    expect(list.filter((p) => p.duration < 0.19)).toEqual([]);
  });

  it("lastMsn, lastPart and has() step by step, including a part index past a segment's last part", () => {
    const target = segmenter();
    expect([target.lastMsn, target.lastPart, target.has(0), target.has(0, 0)]).toEqual([
      -1,
      -1,
      false,
      false,
    ]);
    expect(target.partTargetMs).toBe(200);
    expect(target.targetDurationS).toBe(1);
    const packets = stream({ durationMs: 1400, audio: false });
    feed(target, packets.slice(0, 2)); // header, keyframe at 0
    expect([target.lastMsn, target.lastPart]).toEqual([0, -1]);
    feed(target, packets.slice(2, 6)); // frames up to 160 ms
    expect([target.lastMsn, target.lastPart]).toEqual([0, -1]);
    target.write(packets[6]); // 200 ms: part 0 is complete
    expect([target.lastMsn, target.lastPart]).toEqual([0, 0]);
    expect([target.has(0, 0), target.has(0, 1), target.has(0)]).toEqual([true, false, false]);
    feed(target, packets.slice(7, 26)); // up to 960 ms: parts 0..3
    expect([target.lastMsn, target.lastPart]).toEqual([0, 3]);
    target.write(packets[26]); // the keyframe at 1000: segment 0 complete, 1 begins
    expect([target.lastMsn, target.lastPart]).toEqual([1, -1]);
    expect([target.has(0), target.has(0, 4), target.has(1, 0)]).toEqual([true, true, false]);
    // Part 5 of segment 0 does not exist: it means part 0 of segment 1.
    expect(target.has(0, 5)).toBe(false);
    feed(target, packets.slice(27)); // up to 1360 ms: part 0 of segment 1
    expect([target.lastMsn, target.lastPart]).toEqual([1, 0]);
    expect([target.has(0, 5), target.has(1, 0), target.has(1, 1), target.has(2, 0)]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    target.close();
    expect(target.ended).toBe(true);
    expect([target.lastMsn, target.has(1)]).toEqual([1, true]);
  });

  it("TS: has() is about complete segments; lastPart and partTargetMs are -1 and 0", () => {
    const target = segmenter({ variant: "ts" });
    feed(target, stream({ durationMs: 2500 }));
    expect([target.lastMsn, target.lastPart, target.partTargetMs]).toEqual([1, -1, 0]);
    expect([target.has(1), target.has(2), target.has(1, 3)]).toEqual([true, false, true]);
    expect(target.isPreloadHint("anything.m4s")).toBe(false);
  });

  it("EXT-X-PART lines only for the last three target durations, and the segment in progress", () => {
    const target = segmenter();
    feed(target, stream({ durationMs: 10_500 }));
    const playlist = target.playlist();
    const lines = playlist.split("\n");
    const firstPart = lines.findIndex((l) => l.startsWith("#EXT-X-PART:"));
    // Segments 4..9 listed; parts of 7, 8, 9 and of 10 (in progress).
    expect(lines.slice(0, firstPart).filter((l) => l.startsWith("#EXTINF"))).toHaveLength(3);
    expect(parts(playlist)).toHaveLength(3 * 5 + 2);
    // Parts of older, still held segments are served too.
    const older = target.stats();
    expect(older.segments).toBe(9);
  });

  it("onChange fires once per new part, once per new segment, and at the end; its remover works", () => {
    const target = segmenter();
    let calls = 0;
    const remove = target.onChange(() => {
      calls += 1;
    });
    const thrower = target.onChange(() => {
      throw new Error("a listener's bug");
    });
    feed(target, stream({ durationMs: 1000, audio: false })); // parts 0..3 of segment 0
    expect(calls).toBe(4);
    target.write(videoFrame(1000, true)); // part 4 and segment 0: one change
    expect(calls).toBe(5);
    target.close();
    expect(calls).toBe(6);
    remove();
    thrower();
    target.close();
    expect(calls).toBe(6);
  });
});

describe("HlsSegmenter: window, URIs, time, end", () => {
  it("lists 6 segments, keeps 3 more for late fetchers, lets go of older ones", () => {
    const target = segmenter({ variant: "ts" });
    feed(target, stream({ durationMs: 15_500 }));
    const playlist = target.playlist();
    const uris = segmentUris(playlist);
    expect(uris).toHaveLength(6);
    expect(tagValues(playlist, "#EXT-X-MEDIA-SEQUENCE:")).toEqual(["9"]);
    const token = /-(\d+)\.ts$/.exec(uris[0]);
    expect(token?.[1]).toBe("9");
    const name = (msn: number): string => fileOf(uris[0]).replace(/-9\.ts$/, `-${msn}.ts`);
    expect(target.resource(name(6))).toBeDefined();
    expect(target.resource(name(5))).toBeUndefined();
    expect(target.stats().segments).toBe(9);
  });

  it("appends the query to every URI (segments, parts, map, hint) and encodes the stream name", () => {
    const target = new HlsSegmenter(info("live/my cam"), {});
    feed(target, stream({ durationMs: 1500 }));
    const playlist = target.playlist("token=a%20b");
    const uris = playlist
      .split("\n")
      .flatMap((l) =>
        l.startsWith("#") ? [...l.matchAll(/URI="([^"]+)"/g)].map((m) => m[1]) : l ? [l] : [],
      );
    expect(uris.length).toBeGreaterThan(8);
    for (const uri of uris) expect(uri).toMatch(/^my%20cam\/[0-9a-z]+-[0-9a-z]+\.(m4s|mp4)\?token=a%20b$/);
    expect(target.playlist()).not.toContain("?");
  });

  it("PROGRAM-DATE-TIME is the wall clock of each segment's first frame", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.UTC(2026, 0, 2, 3, 4, 5);
    const target = segmenter({ variant: "ts" });
    for (const packet of stream({ durationMs: 4000 })) {
      vi.setSystemTime(start + packet.timestamp + 30); // each packet arrives 30 ms after its time
      target.write(packet);
    }
    expect(tagValues(target.playlist(), "#EXT-X-PROGRAM-DATE-TIME:")).toEqual([
      "2026-01-02T03:04:05.030Z",
      "2026-01-02T03:04:06.030Z",
      "2026-01-02T03:04:07.030Z",
    ]);
  });

  it("close(): ENDLIST, the last segment completed, close listeners told, later packets ignored; idempotent", () => {
    const target = segmenter({ variant: "fmp4" });
    const closes: (Error | undefined)[] = [];
    target.onClose((error) => closes.push(error));
    feed(target, stream({ durationMs: 2600 }));
    const error = new Error("publisher gone");
    target.close(error);
    target.close();
    const playlist = target.playlist();
    expect(playlist.endsWith("#EXT-X-ENDLIST\n")).toBe(true);
    expect(extinfs(playlist)).toEqual([1, 1, 0.6]);
    expect(closes).toEqual([error]);
    target.write(videoFrame(3000, true));
    expect(target.playlist()).toBe(playlist);
    let late = false;
    target.onClose(() => {
      late = true;
    });
    expect(late).toBe(true);
    expect(target.bufferedBytes).toBe(0);
  });

  it("dispose(): lets go of everything", () => {
    const target = segmenter();
    feed(target, stream({ durationMs: 3000 }));
    const file = fileOf(segmentUris(target.playlist())[0]);
    target.dispose();
    expect(target.ended).toBe(true);
    expect(target.resource(file)).toBeUndefined();
    expect(target.stats().bytes).toBe(0);
  });

  it("refuses bad options", () => {
    const bad: HlsSegmenterOptions[] = [
      { variant: "dash" as never },
      { targetDurationMs: 0 },
      { partTargetMs: 2000, targetDurationMs: 1000 },
      { windowSegments: 0 },
      { maxBytesPerStream: -1 },
      { keepAfterEndMs: Number.NaN },
    ];
    for (const options of bad) expect(() => segmenter(options)).toThrow(RangeError);
  });

  it("file names never repeat across segmenters of the same stream", () => {
    const names = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const target = segmenter({ variant: "ts" });
      feed(target, stream({ durationMs: 1500 } satisfies SyntheticStream));
      for (const uri of segmentUris(target.playlist())) {
        expect(names.has(uri)).toBe(false);
        names.add(uri);
      }
    }
    expect(names.size).toBe(5);
  });
});
