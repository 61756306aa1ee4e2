/**
 * Real peers read what the muxer writes: ffmpeg makes an FLV, @onair/flv turns it into packets, the
 * muxer writes a .ts file, and ffprobe (codecs, decoded frames, packet timestamps) and mux.js's
 * transmuxer (frames per track) read it.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createMediaPacket, type MediaPacket } from "@onair/core";
import { createPacketFromTagBody, FlvDemuxer, parseVideoTagHeader } from "@onair/flv";
import { TsMuxer } from "@onair/hls";
import muxjs from "mux.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasFfmpeg, makeFlvFile, probeFrames, run, tempDir } from "../../../test-support/media-tools.js";
import { hvc1Tag, hvcC, splitAnnexB } from "./hevc-tags.js";

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

  it("HEVC (libx265 in Enhanced RTMP hvc1 tags): ffprobe decodes every frame, with VPS/SPS/PPS before each IRAP", async () => {
    const raw = join(dir.path, "x265.hevc");
    await ffmpeg([
      ...["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=3"],
      ...["-c:v", "libx265", "-x265-params", "bframes=0:keyint=25:min-keyint=25:scenecut=0:log-level=error"],
      ...["-bsf:v", "hevc_metadata=aud=insert", "-f", "hevc", raw],
    ]);
    // Access units start at AUDs (type 35); the hvcC takes the first VPS, SPS and PPS.
    const nalType = (nal: Buffer): number => (nal[0] >> 1) & 0x3f;
    const units: Buffer[][] = [];
    for (const nal of splitAnnexB(readFileSync(raw))) {
      if (nalType(nal) === 35 || units.length === 0) units.push([]);
      units[units.length - 1].push(nal);
    }
    const first = (type: number): Buffer => units.flat().find((n) => nalType(n) === type) as Buffer;
    const record = hvcC({ vps: first(32), sps: first(33), pps: first(34) });
    const muxer = new TsMuxer();
    muxer.push(createMediaPacket("video", 0, hvc1Tag(1, 0, record), { sequenceHeader: true }));
    const parts = [muxer.startSegment()];
    let irapFrames = 0;
    let lastSegment = 0;
    units.forEach((unit, index) => {
      const irap = unit.some((n) => nalType(n) >= 16 && nalType(n) <= 23);
      if (irap) irapFrames += 1;
      if (irap && index > 0) {
        lastSegment = parts.length; // a segment starts here, as a segmenter would cut it
        parts.push(muxer.startSegment());
      }
      // The frames keep their in-band AUD and (on the first IRAP) parameter sets: the muxer drops the copies.
      const data = Buffer.concat(
        unit.flatMap((n) => [Buffer.from([0, 0, n.length >> 8, n.length & 0xff]), n]),
      );
      const body = hvc1Tag(irap ? 1 : 2, 1, data);
      parts.push(muxer.push(createMediaPacket("video", index * 40, body, { keyframe: irap })));
    });
    const ts = join(dir.path, "hevc.ts");
    writeFileSync(ts, Buffer.concat(parts));

    const probed = await probeFrames(ts);
    expect(probed.stderr).toBe("");
    expect(probed.streams.map((s) => s.codec_name)).toEqual(["hevc"]);
    expect(probed.streams[0]).toMatchObject({ width: 320, height: 240 });
    expect(count(probed.frames, "video")).toBe(units.length);
    expect(units.length).toBe(75);
    expect(irapFrames).toBe(3);
    expect(probed.frames.filter((f) => f.keyFrame)).toHaveLength(3);
    const packets = await probePackets(ts);
    expect(packets.map((p) => p.dts)).toEqual(units.map((_, i) => i * 40 * 90));

    // The last segment alone decodes: its IRAP carries VPS, SPS and PPS.
    const segment = join(dir.path, "hevc-last.ts");
    writeFileSync(segment, Buffer.concat(parts.slice(lastSegment)));
    const alone = await probeFrames(segment);
    expect(alone.stderr).toBe("");
    expect(alone.frames).toHaveLength(25);
    expect(alone.frames[0].keyFrame).toBe(true);
  });

  it("an H.264 segment cut at a later keyframe decodes alone (SPS/PPS before every IDR)", async () => {
    const muxer = new TsMuxer();
    const segments: Buffer[][] = [];
    for (const packet of readPackets(av)) {
      const bytes = muxer.push(packet);
      if (bytes.length === 0) continue;
      if (segments.length === 0 || (packet.kind === "video" && packet.keyframe))
        segments.push([muxer.startSegment()]);
      segments[segments.length - 1].push(bytes);
    }
    expect(segments.length).toBeGreaterThanOrEqual(4);
    const segment = join(dir.path, "av-segment-3.ts");
    writeFileSync(segment, Buffer.concat(segments[2]));
    const alone = await probeFrames(segment);
    expect(alone.stderr).toBe("");
    expect(alone.streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
    expect(count(alone.frames, "video")).toBe(25);
    expect(alone.frames.find((f) => f.mediaType === "video")?.keyFrame).toBe(true);
  });

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
