/**
 * The segmenter on real media: ffmpeg makes FLV files (1 s GOPs; 2 s GOPs with B-frames), the
 * segmenter cuts them into TS, fMP4 and low-latency fMP4, and ffprobe/ffmpeg read the result: each
 * segment decodes on its own starting at a keyframe, segment durations stay within the target plus
 * one GOP, the whole playlist (from the directory output) plays with no error, its video timestamps
 * run on across segment boundaries, and every frame of the FLV is in it.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MediaPacket } from "@onair/core";
import { createPacketFromTagBody, FlvDemuxer } from "@onair/flv";
import { HlsSegmenter, type HlsVariant } from "@onair/hls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasFfmpeg, makeFlvFile, probeFrames, run, tempDir } from "../../../test-support/media-tools.js";
import { extinfs, fileOf, segmentUris, tagValues } from "./segment-packets.js";

const dir = tempDir("onair-hls-segment-");

function readPackets(path: string): MediaPacket[] {
  const packets: MediaPacket[] = [];
  new FlvDemuxer().push(readFileSync(path), (tag) => {
    packets.push(createPacketFromTagBody(tag.kind, tag.timestamp, Buffer.from(tag.body)));
  });
  return packets;
}

async function ffmpeg(args: string[]): Promise<string> {
  const p = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args]);
  const code = await p.exited;
  if (code !== 0) throw new Error(`ffmpeg failed (${code}): ${p.stderr()}`);
  return p.stderr();
}

async function videoDts(input: string): Promise<number[]> {
  const p = run("ffprobe", [
    ...["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=dts_time", "-of", "json"],
    input,
  ]);
  await p.exited;
  return (JSON.parse(p.stdout()) as { packets: { dts_time: string }[] }).packets.map((packet) =>
    Number(packet.dts_time),
  );
}

describe.skipIf(!hasFfmpeg)("HlsSegmenter on ffmpeg's FLV, read by ffprobe and ffmpeg", () => {
  const gop1 = join(dir.path, "gop1.flv");
  const gop2 = join(dir.path, "gop2-bframes.flv");
  let counts: Record<string, { video: number; audio: number }> = {};

  beforeAll(async () => {
    await makeFlvFile(gop1, { seconds: 6, fps: 25, gop: 25 });
    await ffmpeg([
      ...["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=6"],
      ...["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=6"],
      ...["-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", "50", "-keyint_min", "50"],
      ...["-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv", gop2],
    ]);
    counts = {};
    for (const file of [gop1, gop2]) {
      const probed = await probeFrames(file);
      counts[file] = {
        video: probed.frames.filter((f) => f.mediaType === "video").length,
        audio: probed.frames.filter((f) => f.mediaType === "audio").length,
      };
    }
  }, 60_000);
  afterAll(() => dir.remove());

  const cases: [string, string, HlsVariant, number][] = [
    ["1 s GOP", "gop1", "ts", 1],
    ["1 s GOP", "gop1", "fmp4", 1],
    ["1 s GOP", "gop1", "low-latency", 1],
    ["2 s GOP with B-frames", "gop2-bframes", "ts", 2],
    ["2 s GOP with B-frames", "gop2-bframes", "low-latency", 2],
  ];
  for (const [name, file, variant, gopS] of cases) {
    it(`${variant}, ${name}: every segment decodes alone from a keyframe; the playlist plays whole`, async () => {
      const flv = join(dir.path, `${file}.flv`);
      const out = join(dir.path, `${file}-${variant}`);
      const segmenter = new HlsSegmenter(
        { key: "live/cam", app: "live", name: "cam", url: "", id: "t" },
        { variant, windowSegments: 20, dir: out },
      );
      for (const packet of readPackets(flv)) segmenter.write(packet);
      segmenter.close();
      await segmenter.settled();
      const playlist = segmenter.playlist();
      expect(segmenter.stats().skippedPackets).toBe(0);

      // Durations: within the target (1 s) plus one GOP; together the whole file.
      const durations = extinfs(playlist);
      expect(durations.length).toBeGreaterThanOrEqual(Math.floor(6 / gopS) - 1);
      for (const d of durations.slice(0, -1)) {
        expect(d).toBeGreaterThanOrEqual(1);
        expect(d).toBeLessThanOrEqual(1 + gopS);
      }
      const total = durations.reduce((a, b) => a + b, 0);
      expect(Math.abs(total - 6)).toBeLessThan(0.1);
      expect(Number(tagValues(playlist, "#EXT-X-TARGETDURATION:")[0])).toBe(gopS);

      // Each segment alone (with its init section for fMP4): no decode error, a keyframe first.
      const init = tagValues(playlist, "#EXT-X-MAP:").map((m) => fileOf(/URI="([^"]+)"/.exec(m)?.[1] ?? ""));
      for (const [index, uri] of segmentUris(playlist).entries()) {
        const bytes = segmenter.resource(fileOf(uri))?.bytes as Buffer;
        const alone = join(out, `alone-${index}.${variant === "ts" ? "ts" : "mp4"}`);
        writeFileSync(
          alone,
          variant === "ts" ? bytes : Buffer.concat([segmenter.resource(init[0])?.bytes as Buffer, bytes]),
        );
        const probed = await probeFrames(alone);
        expect(probed.stderr, `segment ${index}`).toBe("");
        const video = probed.frames.filter((f) => f.mediaType === "video");
        expect(video.length, `segment ${index}`).toBeGreaterThan(0);
        expect(video[0].keyFrame, `segment ${index}`).toBe(true);
        expect(video.filter((f) => f.keyFrame).length).toBeLessThanOrEqual(Math.ceil(1 / gopS) + 1);
        expect(probed.frames.some((f) => f.mediaType === "audio")).toBe(true);
      }

      // The playlist written to the directory: ffmpeg plays it with no error line, every frame is there.
      const m3u8 = join(out, "live", "cam.m3u8");
      expect(readFileSync(m3u8, "utf8").endsWith("#EXT-X-ENDLIST\n")).toBe(true);
      expect(readdirSync(join(out, "live", "cam")).length).toBeGreaterThan(durations.length - 1);
      expect(await ffmpeg(["-i", m3u8, "-c", "copy", "-f", "null", "-"])).toBe("");
      const whole = await probeFrames(m3u8);
      expect(whole.stderr).toBe("");
      expect(whole.frames.filter((f) => f.mediaType === "video").length).toBe(counts[flv].video);
      expect(
        Math.abs(whole.frames.filter((f) => f.mediaType === "audio").length - counts[flv].audio),
      ).toBeLessThanOrEqual(1);
      // Video decode times run on across segment boundaries: one frame (40 ms) apart, always.
      const dts = await videoDts(m3u8);
      expect(dts.length).toBe(counts[flv].video);
      for (let i = 1; i < dts.length; i++) expect(dts[i] - dts[i - 1]).toBeCloseTo(0.04, 3);
    });
  }
});
