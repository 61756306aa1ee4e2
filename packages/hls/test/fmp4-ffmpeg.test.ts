/**
 * Real peers read what the fMP4 muxer writes: ffmpeg makes an FLV, @onair/flv turns it into
 * packets, the muxer writes an init segment and one fragment per GOP (cut before each keyframe, as
 * the segmenter does), and ffprobe/ffmpeg (codecs, size, every frame decoded, packet timestamps) and
 * mux.js's inspector (samples per track, tfdt, avcC) read the result.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createMediaPacket, type MediaPacket } from "@onair/core";
import { createPacketFromTagBody, FlvDemuxer, parseVideoTagHeader } from "@onair/flv";
import { Fmp4Muxer } from "@onair/hls";
import muxjs from "mux.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasFfmpeg, makeFlvFile, run, tempDir } from "../../../test-support/media-tools.js";
import { hvc1Tag, hvcC, splitAnnexB } from "./hevc-tags.js";

const dir = tempDir("onair-hls-fmp4-");

function readPackets(path: string): MediaPacket[] {
  const packets: MediaPacket[] = [];
  new FlvDemuxer().push(readFileSync(path), (tag) => {
    packets.push(createPacketFromTagBody(tag.kind, tag.timestamp, Buffer.from(tag.body)));
  });
  return packets;
}

interface Muxed {
  init: Buffer;
  fragments: Buffer[];
  /** Samples queued per kind (what push() accepted as frames). */
  pushed: { video: number; audio: number };
  codecs: string;
}

/** Init + one fragment per GOP: flush(keyframe DTS) before each keyframe, and at the end. */
function mux(packets: readonly MediaPacket[]): Muxed {
  const muxer = new Fmp4Muxer();
  const fragments: Buffer[] = [];
  const pushed = { video: 0, audio: 0 };
  for (const packet of packets) {
    if (packet.kind === "video" && packet.keyframe && muxer.pendingSamples > 0) {
      fragments.push(muxer.flush(packet.timestamp));
    }
    const before = muxer.pendingSamples;
    muxer.push(packet);
    if (muxer.pendingSamples > before && packet.kind !== "script") pushed[packet.kind] += 1;
  }
  fragments.push(muxer.flush());
  return { init: muxer.initSegment() as Buffer, fragments, pushed, codecs: muxer.codecs };
}

function writeMp4(path: string, muxed: Muxed): void {
  writeFileSync(path, Buffer.concat([muxed.init, ...muxed.fragments]));
}

async function ffmpeg(args: string[]): Promise<void> {
  const p = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args]);
  const code = await p.exited;
  if (code !== 0) throw new Error(`ffmpeg failed (${code}): ${p.stderr()}`);
}

interface ProbedStream {
  codec_name: string;
  codec_type: string;
  width?: number;
  height?: number;
  sample_rate?: string;
  nb_read_frames?: string;
}
interface ProbedPacket {
  codec_type: string;
  pts: number;
  dts: number;
}

/** ffprobe -count_frames (every frame decoded) and every packet's timestamps. */
async function probe(
  path: string,
): Promise<{ streams: ProbedStream[]; packets: ProbedPacket[]; stderr: string }> {
  const p = run("ffprobe", [
    ...["-v", "error", "-count_frames"],
    ...[
      "-show_entries",
      "stream=codec_name,codec_type,width,height,sample_rate,nb_read_frames:packet=codec_type,pts,dts",
    ],
    ...["-of", "json", path],
  ]);
  expect(await p.exited).toBe(0);
  const parsed = JSON.parse(p.stdout()) as { streams: ProbedStream[]; packets: ProbedPacket[] };
  return { ...parsed, stderr: p.stderr() };
}

/** `ffmpeg -i file -f null -` decodes everything; its error lines. */
async function decodeErrors(path: string): Promise<string> {
  const p = run("ffmpeg", ["-hide_banner", "-v", "error", "-i", path, "-f", "null", "-"]);
  expect(await p.exited).toBe(0);
  return p.stderr();
}

type Box = { type: string; boxes?: Box[]; [key: string]: unknown };
const child = (parent: Box, type: string): Box | undefined => parent.boxes?.find((b) => b.type === type);

/** Per track id: samples and each fragment's tfdt, as mux.js's inspector reads them. */
function muxJsSamples(
  fragments: readonly Buffer[],
): Map<number, { samples: number; tfdts: number[]; firstSync: boolean[] }> {
  const tracks = new Map<number, { samples: number; tfdts: number[]; firstSync: boolean[] }>();
  for (const fragment of fragments) {
    const boxes = muxjs.mp4.tools.inspect(fragment) as Box[];
    expect(boxes.map((b) => b.type)).toEqual(["moof", "mdat"]);
    for (const traf of (boxes[0].boxes ?? []).filter((b) => b.type === "traf")) {
      const id = child(traf, "tfhd")?.trackId as number;
      const track = tracks.get(id) ?? { samples: 0, tfdts: [], firstSync: [] };
      const samples = child(traf, "trun")?.samples as { flags?: { isNonSyncSample: number } }[];
      track.samples += samples.length;
      track.firstSync.push(samples[0].flags?.isNonSyncSample === 0);
      track.tfdts.push(child(traf, "tfdt")?.baseMediaDecodeTime as number);
      tracks.set(id, track);
    }
  }
  return tracks;
}

const isFrame = (p: MediaPacket): boolean =>
  !p.sequenceHeader &&
  p.kind !== "script" &&
  (p.kind !== "video" || !parseVideoTagHeader(p.payload).endOfSequence);

describe.skipIf(!hasFfmpeg)("fMP4 from ffmpeg's FLV, read by ffprobe, ffmpeg and mux.js", () => {
  const av = join(dir.path, "av.flv");
  const bframes = join(dir.path, "bframes.flv");

  beforeAll(async () => {
    await Promise.all([
      makeFlvFile(av, { seconds: 4, fps: 25, gop: 25 }),
      // B-frames, so composition offsets are not 0 (libx264 medium: 3 B-frames), and 48 kHz audio.
      ffmpeg([
        ...["-f", "lavfi", "-i", "testsrc=size=426x240:rate=25:duration=3"],
        ...["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3"],
        ...["-c:v", "libx264", "-preset", "medium", "-bf", "3", "-g", "25", "-pix_fmt", "yuv420p"],
        ...["-c:a", "aac", "-f", "flv", bframes],
      ]),
    ]);
  }, 60_000);
  afterAll(() => dir.remove());

  for (const [name, file, width, height, rate] of [
    ["H.264 + AAC", "av", 320, 240, 44100],
    ["H.264 with B-frames (426x240, cropped) + AAC 48 kHz", "bframes", 426, 240, 48000],
  ] as const) {
    it(`${name}: codecs, size, every frame decoded, timestamps from the FLV`, async () => {
      const packets = readPackets(join(dir.path, `${file}.flv`));
      const muxed = mux(packets);
      const mp4 = join(dir.path, `${file}.mp4`);
      writeMp4(mp4, muxed);
      const frames = packets.filter(isFrame);
      const videoFrames = frames.filter((p) => p.kind === "video");
      const audioFrames = frames.filter((p) => p.kind === "audio");
      expect(muxed.pushed).toEqual({ video: videoFrames.length, audio: audioFrames.length });
      expect(videoFrames.length).toBeGreaterThanOrEqual(75);
      expect(muxed.fragments.length).toBeGreaterThanOrEqual(3);
      expect(muxed.codecs).toMatch(/^avc1\.[0-9a-f]{6},mp4a\.40\.2$/);

      const probed = await probe(mp4);
      expect(probed.stderr).toBe("");
      const video = probed.streams.find((s) => s.codec_type === "video");
      const audio = probed.streams.find((s) => s.codec_type === "audio");
      expect(video).toMatchObject({ codec_name: "h264", width, height });
      expect(audio).toMatchObject({ codec_name: "aac", sample_rate: String(rate) });
      expect(Number(video?.nb_read_frames)).toBe(videoFrames.length);
      expect(Number(audio?.nb_read_frames)).toBe(audioFrames.length);

      // Video: DTS and PTS (90 kHz) are the FLV timestamp and timestamp + composition time, × 90, frame by frame.
      const probedVideo = probed.packets.filter((p) => p.codec_type === "video");
      const expected = videoFrames.map((p) => [
        p.timestamp * 90,
        (p.timestamp + parseVideoTagHeader(p.payload).compositionTime) * 90,
      ]);
      expect(probedVideo.map((p) => [p.dts, p.pts])).toEqual(expected);
      if (file === "bframes") expect(expected.some(([dts, pts]) => pts !== dts)).toBe(true);
      const pts = probedVideo.map((p) => p.pts).sort((a, b) => a - b);
      expect(new Set(pts).size).toBe(pts.length);
      // Audio: PTS strictly increasing, 1024 apart, from the first frame's timestamp in samples.
      const probedAudio = probed.packets.filter((p) => p.codec_type === "audio");
      expect(probedAudio[0].pts).toBe(Math.round((audioFrames[0].timestamp * rate) / 1000));
      for (let i = 1; i < probedAudio.length; i++)
        expect(probedAudio[i].pts - probedAudio[i - 1].pts).toBe(1024);
      // The audio clock agrees with the FLV's at the end (no drift): within a ms.
      const lastMs = (probedAudio[probedAudio.length - 1].pts * 1000) / rate;
      expect(Math.abs(lastMs - audioFrames[audioFrames.length - 1].timestamp)).toBeLessThanOrEqual(1);

      expect(await decodeErrors(mp4)).toBe("");

      // mux.js: samples per track, each fragment's video tfdt is its first frame's DTS × 90, the avcC is the FLV's.
      const seen = muxJsSamples(muxed.fragments);
      expect(seen.get(1)?.samples).toBe(videoFrames.length);
      expect(seen.get(2)?.samples).toBe(audioFrames.length);
      const keyframes = videoFrames.filter((p) => p.keyframe).map((p) => p.timestamp * 90);
      expect(seen.get(1)?.tfdts).toEqual(keyframes);
      expect(seen.get(1)?.firstSync).toEqual(keyframes.map(() => true));
      const init = muxjs.mp4.tools.inspect(muxed.init) as Box[];
      const trak = (init[1].boxes ?? []).find((b) => b.type === "trak") as Box;
      const stsd = child(
        child(child(child(trak, "mdia") as Box, "minf") as Box, "stbl") as Box,
        "stsd",
      ) as Box;
      const avcC = ((stsd.sampleDescriptions as Box[])[0].config as Box[])[0];
      const header = packets.find((p) => p.kind === "video" && p.sequenceHeader) as MediaPacket;
      const record = header.payload.subarray(5);
      expect(avcC.sps).toEqual([new Uint8Array(record.subarray(8, 8 + record.readUInt16BE(6)))]);
      expect(child(trak, "tkhd")).toMatchObject({ width, height });
    });
  }

  it("audio only and video only", async () => {
    const packets = readPackets(av);
    for (const kind of ["audio", "video"] as const) {
      const muxed = mux(packets.filter((p) => p.kind === kind));
      const mp4 = join(dir.path, `${kind}-only.mp4`);
      writeMp4(mp4, muxed);
      const probed = await probe(mp4);
      expect(probed.stderr).toBe("");
      expect(probed.streams).toHaveLength(1);
      expect(probed.streams[0]).toMatchObject({ codec_name: kind === "audio" ? "aac" : "h264" });
      expect(Number(probed.streams[0].nb_read_frames)).toBe(muxed.pushed[kind]);
      expect(muxed.pushed[kind]).toBeGreaterThan(90);
    }
  });

  it("MP3 (libmp3lame at 44.1 and 22.05 kHz): mp4a with objectTypeIndication 0x6B / 0x69, every frame decoded", async () => {
    for (const [rate, codec] of [
      [44100, "mp4a.6B"],
      [22050, "mp4a.69"],
    ] as const) {
      const flv = join(dir.path, `mp3-${rate}.flv`);
      await ffmpeg([
        ...["-f", "lavfi", "-i", `sine=frequency=440:sample_rate=${rate}:duration=2`],
        ...["-c:a", "libmp3lame", "-b:a", "64k", "-f", "flv", flv],
      ]);
      const packets = readPackets(flv);
      const muxed = mux(packets);
      expect(muxed.codecs).toBe(codec);
      const mp4 = join(dir.path, `mp3-${rate}.mp4`);
      writeMp4(mp4, muxed);
      const probed = await probe(mp4);
      expect(probed.stderr).toBe("");
      expect(probed.streams[0]).toMatchObject({ codec_name: "mp3", sample_rate: String(rate) });
      expect(Number(probed.streams[0].nb_read_frames)).toBe(packets.filter(isFrame).length);
      expect(muxed.pushed.audio).toBe(packets.filter(isFrame).length);
      const frame = rate === 44100 ? 1152 : 576;
      const pts = probed.packets.map((p) => p.pts);
      for (let i = 1; i < pts.length; i++) expect(pts[i] - pts[i - 1]).toBe(frame);
      expect(await decodeErrors(mp4)).toBe("");
    }
  });

  it("HEVC (libx265 in Enhanced RTMP hvc1 tags, 426x240 with a conformance window): ffprobe reads hevc and decodes every frame", async () => {
    const raw = join(dir.path, "x265.hevc");
    await ffmpeg([
      ...["-f", "lavfi", "-i", "testsrc=size=426x240:rate=25:duration=3"],
      ...[
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "libx265",
        "-x265-params",
        "bframes=0:keyint=25:min-keyint=25:scenecut=0:log-level=error",
      ],
      ...["-bsf:v", "hevc_metadata=aud=insert", "-f", "hevc", raw],
    ]);
    const nalType = (nal: Buffer): number => (nal[0] >> 1) & 0x3f;
    const units: Buffer[][] = [];
    for (const nal of splitAnnexB(readFileSync(raw))) {
      if (nalType(nal) === 35 || units.length === 0) units.push([]);
      units[units.length - 1].push(nal);
    }
    const first = (type: number): Buffer => units.flat().find((n) => nalType(n) === type) as Buffer;
    const record = hvcC({ vps: first(32), sps: first(33), pps: first(34) });
    // No B-frames: the raw stream has no timestamps, so frames are 40 ms apart with composition time 0.
    const packets = [createMediaPacket("video", 0, hvc1Tag(1, 0, record), { sequenceHeader: true })];
    units.forEach((unit, index) => {
      const irap = unit.some((n) => nalType(n) >= 16 && nalType(n) <= 23);
      const data = Buffer.concat(
        unit.flatMap((n) => [Buffer.from([0, 0, n.length >> 8, n.length & 0xff]), n]),
      );
      packets.push(
        createMediaPacket("video", index * 40, hvc1Tag(irap ? 1 : 2, 1, data), { keyframe: irap }),
      );
    });
    const muxed = mux(packets);
    expect(muxed.codecs).toMatch(/^hvc1\.1\.6\.L\d+\.90$/);
    expect(muxed.pushed.video).toBe(75);
    expect(muxed.fragments).toHaveLength(3);
    const mp4 = join(dir.path, "hevc.mp4");
    writeMp4(mp4, muxed);
    const probed = await probe(mp4);
    expect(probed.stderr).toBe("");
    expect(probed.streams).toHaveLength(1);
    expect(probed.streams[0]).toMatchObject({ codec_name: "hevc", width: 426, height: 240 });
    expect(Number(probed.streams[0].nb_read_frames)).toBe(75);
    expect(probed.packets.map((p) => p.dts)).toEqual(units.map((_, i) => i * 40 * 90));
    expect(await decodeErrors(mp4)).toBe("");
    // A later fragment decodes alone behind the init segment (its first sample is an IRAP).
    const alone = join(dir.path, "hevc-last.mp4");
    writeFileSync(alone, Buffer.concat([muxed.init, muxed.fragments[2]]));
    const last = await probe(alone);
    expect(last.stderr).toBe("");
    expect(Number(last.streams[0].nb_read_frames)).toBe(25);
  });
});
