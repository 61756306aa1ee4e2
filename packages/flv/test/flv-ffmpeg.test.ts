/**
 * Interop with a real peer: ffmpeg writes an FLV file, we demux it and check what we read against
 * what ffprobe reads; then we remux every tag and check ffprobe reads our file the same way.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasFfmpeg, run, tempDir } from "../../../test-support/media-tools.js";
import { FlvDemuxer, type FlvTag } from "../src/codec/flv-demuxer.js";
import { encodeFlvHeader, encodeFlvTag } from "../src/codec/flv-muxer.js";
import { createPacketFromTagBody, parseAudioTagHeader, parseVideoTagHeader } from "../src/codec/tag-body.js";

interface Probe {
  streams: { codec_name: string; codec_type: string; nb_read_frames?: string }[];
  format: { duration: string };
  packets?: { codec_type: string; dts_time?: string; flags: string }[];
}

async function execute(command: string, args: string[]): Promise<string> {
  const child = run(command, args);
  const code = await child.exited;
  if (code !== 0) throw new Error(`${command} failed (${code}): ${child.stderr()}`);
  return child.stdout();
}

/** ffprobe's view of a file: streams with decoded frame counts, duration, and every packet's dts and flags. */
async function probe(path: string): Promise<Probe> {
  const json = await execute("ffprobe", [
    "-v",
    "error",
    "-count_frames",
    "-show_entries",
    "stream=codec_name,codec_type,nb_read_frames:format=duration:packet=codec_type,dts_time,flags",
    "-of",
    "json",
    path,
  ]);
  return JSON.parse(json) as Probe;
}

function frameCount(result: Probe, type: string): number {
  return Number(result.streams.find((s) => s.codec_type === type)?.nb_read_frames);
}

function demuxFile(bytes: Buffer): { tags: FlvTag[]; demuxer: FlvDemuxer } {
  const tags: FlvTag[] = [];
  const demuxer = new FlvDemuxer({ checkPreviousTagSize: true });
  // Split in uneven pieces, as a socket would deliver it.
  for (let at = 0; at < bytes.length; at += 1000 + (at % 777)) {
    demuxer.push(bytes.subarray(at, at + 1000 + (at % 777)), (tag) => tags.push(tag));
  }
  return { tags, demuxer };
}

/** Video tags that carry a frame (not a sequence header or end of sequence). */
function videoFrameTags(tags: FlvTag[]): FlvTag[] {
  return tags.filter((t) => {
    if (t.kind !== "video") return false;
    const header = parseVideoTagHeader(t.body);
    return !header.sequenceHeader && !header.endOfSequence;
  });
}

describe.skipIf(!hasFfmpeg)("FLV interop with ffmpeg/ffprobe", () => {
  const dir = tempDir("onair-flv-");
  const source = join(dir.path, "source.flv");
  const remuxed = join(dir.path, "remuxed.flv");
  let sourceBytes: Buffer;
  let sourceProbe: Probe;
  let tags: FlvTag[];

  beforeAll(async () => {
    // The command of the brief, quiet and overwriting.
    await execute("ffmpeg", [
      "-hide_banner",
      "-loglevel",
      "error",
      "-y",
      "-f",
      "lavfi",
      "-i",
      "testsrc=size=320x240:rate=25",
      "-f",
      "lavfi",
      "-i",
      "sine",
      "-t",
      "2",
      "-c:v",
      "libx264",
      "-g",
      "25",
      "-c:a",
      "aac",
      "-f",
      "flv",
      source,
    ]);
    sourceBytes = readFileSync(source);
    sourceProbe = await probe(source);
    const result = demuxFile(sourceBytes);
    tags = result.tags;
    expect(result.demuxer.pending).toBe(false);
  });

  afterAll(() => dir.remove());

  it("reads the header and starts with metadata, then the sequence headers", () => {
    const demuxer = new FlvDemuxer();
    demuxer.push(sourceBytes.subarray(0, 13), () => {});
    expect(demuxer.header).toEqual({ version: 1, audio: true, video: true });
    expect(tags[0].kind).toBe("script");
    const firstVideo = tags.find((t) => t.kind === "video");
    const firstAudio = tags.find((t) => t.kind === "audio");
    expect(firstVideo && createPacketFromTagBody("video", 0, firstVideo.body).sequenceHeader).toBe(true);
    expect(firstAudio && createPacketFromTagBody("audio", 0, firstAudio.body).sequenceHeader).toBe(true);
    expect(firstVideo && parseVideoTagHeader(firstVideo.body).codec).toBe("avc");
    expect(firstAudio && parseAudioTagHeader(firstAudio.body)).toMatchObject({
      codec: "aac",
      sequenceHeader: true,
    });
    // Exactly one sequence header of each kind, and none after the media starts.
    expect(
      tags.filter((t) => createPacketFromTagBody(t.kind, t.timestamp, t.body).sequenceHeader),
    ).toHaveLength(2);
  });

  it("has one video tag per frame ffprobe decodes, keyframes where ffprobe puts them", () => {
    const frames = videoFrameTags(tags);
    expect(frames.length).toBe(frameCount(sourceProbe, "video"));
    expect(frames.length).toBe(50);
    const probedVideo = (sourceProbe.packets ?? []).filter((p) => p.codec_type === "video");
    expect(frames.length).toBe(probedVideo.length);
    const ours = frames.map((t) => ({
      dts: t.timestamp,
      key: createPacketFromTagBody("video", t.timestamp, t.body).keyframe,
    }));
    const theirs = probedVideo.map((p) => ({
      dts: Math.round(Number(p.dts_time) * 1000),
      key: p.flags.startsWith("K"),
    }));
    expect(ours).toEqual(theirs);
    expect(ours.filter((f) => f.key).map((f) => f.dts)).toEqual([0, 1000]); // -g 25 at 25 fps
    // Audio: every raw AAC tag is a frame ffprobe decodes.
    const audioFrames = tags.filter((t) => t.kind === "audio" && !parseAudioTagHeader(t.body).sequenceHeader);
    expect(audioFrames.length).toBe(frameCount(sourceProbe, "audio"));
  });

  it("remuxes every tag into a file ffprobe reads the same way", async () => {
    const remux = Buffer.concat([
      encodeFlvHeader({ audio: true, video: true }),
      ...tags.map((t) => encodeFlvTag(t.kind, t.timestamp, t.body)),
    ]);
    writeFileSync(remuxed, remux);
    const remuxProbe = await probe(remuxed);
    expect(remuxProbe.streams.map((s) => [s.codec_type, s.codec_name])).toEqual(
      sourceProbe.streams.map((s) => [s.codec_type, s.codec_name]),
    );
    expect(frameCount(remuxProbe, "video")).toBe(frameCount(sourceProbe, "video"));
    expect(frameCount(remuxProbe, "audio")).toBe(frameCount(sourceProbe, "audio"));
    expect(
      Math.abs(Number(remuxProbe.format.duration) - Number(sourceProbe.format.duration)),
    ).toBeLessThanOrEqual(0.04);
    // ffmpeg's writer and ours agree to the byte.
    expect(remux.equals(sourceBytes)).toBe(true);
  });
});
