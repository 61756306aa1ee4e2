/**
 * Real peers read what the muxer writes: ffmpeg makes an FLV, @onair/flv turns it into packets, the
 * muxer writes a .ts file, and ffprobe (codecs, decoded frames, packet timestamps) and mux.js's
 * transmuxer (frames per track) read it.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MediaPacket } from "@onair/core";
import { createPacketFromTagBody, FlvDemuxer, parseVideoTagHeader } from "@onair/flv";
import { TsMuxer } from "@onair/hls";
import muxjs from "mux.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasFfmpeg, makeFlvFile, probeFrames, run, tempDir } from "../../../test-support/media-tools.js";

const dir = tempDir("onair-hls-ts-");

function readPackets(path: string): MediaPacket[] {
  const packets: MediaPacket[] = [];
  new FlvDemuxer().push(readFileSync(path), (tag) => {
    packets.push(createPacketFromTagBody(tag.kind, tag.timestamp, Buffer.from(tag.body)));
  });
  return packets;
}

/** Muxes an FLV file into one .ts file: PAT/PMT once the sequence headers are in, then every frame. */
function muxFile(flv: string, ts: string): MediaPacket[] {
  const packets = readPackets(flv);
  const muxer = new TsMuxer();
  const parts: Buffer[] = [];
  let started = false;
  for (const packet of packets) {
    const bytes = muxer.push(packet);
    if (bytes.length === 0) continue;
    if (!started) {
      parts.push(muxer.startSegment());
      started = true;
    }
    parts.push(bytes);
  }
  writeFileSync(ts, Buffer.concat(parts));
  return packets;
}

async function ffmpeg(args: string[]): Promise<void> {
  const p = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args]);
  const code = await p.exited;
  if (code !== 0) throw new Error(`ffmpeg failed (${code}): ${p.stderr()}`);
}

interface ProbedPacket {
  codec_type: string;
  pts: number;
  dts: number;
}

async function probePackets(path: string): Promise<ProbedPacket[]> {
  const p = run("ffprobe", [
    "-v",
    "error",
    "-show_entries",
    "packet=codec_type,pts,dts",
    "-of",
    "json",
    path,
  ]);
  await p.exited;
  return (JSON.parse(p.stdout()) as { packets: ProbedPacket[] }).packets;
}

function count(frames: { mediaType: string }[], type: string): number {
  return frames.filter((f) => f.mediaType === type).length;
}

/** Frames per track that mux.js's transmuxer finds in a TS (the samples of its trun boxes). */
function muxJsFrames(ts: Buffer): { video: number; audio: number } {
  type Box = { type: string; boxes?: Box[]; samples?: unknown[] };
  const transmuxer = new muxjs.mp4.Transmuxer({ remux: false });
  const frames = { video: 0, audio: 0 };
  transmuxer.on("data", (segment) => {
    const boxes = muxjs.mp4.tools.inspect(segment.data) as Box[];
    for (const moof of boxes.filter((b) => b.type === "moof")) {
      for (const traf of (moof.boxes ?? []).filter((b) => b.type === "traf")) {
        const samples = traf.boxes?.find((b) => b.type === "trun")?.samples?.length ?? 0;
        if (segment.type === "video") frames.video += samples;
        else if (segment.type === "audio") frames.audio += samples;
        else throw new Error(`unexpected ${segment.type} segment with remux off`);
      }
    }
  });
  transmuxer.push(new Uint8Array(ts));
  transmuxer.flush();
  return frames;
}

describe.skipIf(!hasFfmpeg)("MPEG-TS from ffmpeg's FLV, read by ffprobe and mux.js", () => {
  const av = join(dir.path, "av.flv");
  const bframes = join(dir.path, "bframes.flv");
  const audioOnly = join(dir.path, "audio.flv");
  const videoOnly = join(dir.path, "video.flv");

  beforeAll(async () => {
    await makeFlvFile(av, { seconds: 4, fps: 25, gop: 25 });
    // B-frames, so composition times are not 0 (libx264 medium: 3 B-frames).
    await ffmpeg([
      ...["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=3"],
      ...["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3"],
      ...["-c:v", "libx264", "-preset", "medium", "-bf", "3", "-g", "25", "-pix_fmt", "yuv420p"],
      ...["-c:a", "aac", "-f", "flv", bframes],
    ]);
    await ffmpeg(["-i", av, "-c", "copy", "-vn", "-f", "flv", audioOnly]);
    await ffmpeg(["-i", av, "-c", "copy", "-an", "-f", "flv", videoOnly]);
  }, 60_000);
  afterAll(() => dir.remove());

  for (const [name, file, expectVideo, expectAudio] of [
    ["H.264 + AAC", "av", true, true],
    ["H.264 with B-frames + AAC", "bframes", true, true],
    ["AAC only", "audio", false, true],
    ["H.264 only", "video", true, false],
  ] as const) {
    it(`${name}: same codecs, frame counts and first timestamps as the FLV`, async () => {
      const flv = join(dir.path, `${file}.flv`);
      const ts = join(dir.path, `${file}.ts`);
      const packets = muxFile(flv, ts);

      const [fromFlv, fromTs] = await Promise.all([probeFrames(flv), probeFrames(ts)]);
      expect(fromTs.stderr).toBe("");
      expect(fromTs.exitCode).toBe(0);
      const codecs = fromTs.streams.map((s) => s.codec_name).sort();
      expect(codecs).toEqual([...(expectAudio ? ["aac"] : []), ...(expectVideo ? ["h264"] : [])]);
      expect(count(fromTs.frames, "video")).toBe(count(fromFlv.frames, "video"));
      expect(count(fromTs.frames, "audio")).toBe(count(fromFlv.frames, "audio"));
      if (expectVideo) expect(count(fromTs.frames, "video")).toBeGreaterThan(50);
      if (expectAudio) expect(count(fromTs.frames, "audio")).toBeGreaterThan(100);

      // The TS packets' PTS/DTS (90 kHz) are the FLV timestamps (+ composition time) × 90.
      const probed = await probePackets(ts);
      // Coded frames only: not sequence headers, script data, or the AVC end of sequence ffmpeg ends with.
      const frames = packets.filter(
        (p) =>
          !p.sequenceHeader &&
          p.kind !== "script" &&
          (p.kind !== "video" || !parseVideoTagHeader(p.payload).endOfSequence),
      );
      const firstVideo = frames.find((p) => p.kind === "video");
      const firstAudio = frames.find((p) => p.kind === "audio");
      if (firstVideo !== undefined) {
        const cts = parseVideoTagHeader(firstVideo.payload).compositionTime;
        const probedVideo = probed.filter((p) => p.codec_type === "video");
        expect(probedVideo[0]).toMatchObject({
          dts: firstVideo.timestamp * 90,
          pts: (firstVideo.timestamp + cts) * 90,
        });
        // Every frame, in order.
        const expected = frames
          .filter((p) => p.kind === "video")
          .map((p) => [
            p.timestamp * 90,
            (p.timestamp + parseVideoTagHeader(p.payload).compositionTime) * 90,
          ]);
        expect(probedVideo.map((p) => [p.dts, p.pts])).toEqual(expected);
        if (file === "bframes") expect(expected.some(([dts, pts]) => pts !== dts)).toBe(true);
      }
      if (firstAudio !== undefined) {
        const probedAudio = probed.filter((p) => p.codec_type === "audio");
        expect(probedAudio[0].pts).toBe(firstAudio.timestamp * 90);
      }

      // mux.js counts the frames of ours as of ffmpeg's own TS of the same FLV (its transmuxer trims
      // audio that starts before the video, so that figure, not the FLV's, is the reference).
      const reference = join(dir.path, `${file}-ffmpeg.ts`);
      await ffmpeg(["-i", flv, "-c", "copy", "-f", "mpegts", reference]);
      const seen = muxJsFrames(readFileSync(ts));
      expect(seen).toEqual(muxJsFrames(readFileSync(reference)));
      expect(seen.video).toBe(expectVideo ? count(fromFlv.frames, "video") : 0);
      expect(Math.abs(seen.audio - (expectAudio ? count(fromFlv.frames, "audio") : 0))).toBeLessThanOrEqual(
        1,
      );
    });
  }

  it("ffmpeg copies the TS with no error lines", async () => {
    const ts = join(dir.path, "copy.ts");
    muxFile(av, ts);
    const p = run("ffmpeg", [
      "-hide_banner",
      "-loglevel",
      "error",
      "-i",
      ts,
      "-c",
      "copy",
      "-f",
      "null",
      "-",
    ]);
    expect(await p.exited).toBe(0);
    expect(p.stderr()).toBe("");
  });
});
