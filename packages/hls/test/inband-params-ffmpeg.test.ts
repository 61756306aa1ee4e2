/**
 * H.264 with its SPS/PPS in-band, as ffmpeg publishes through `-f tee` (no global header): the FLV
 * sequence header's avcC is empty and each IDR access unit carries SPS and PPS, in Annex B. ffmpeg
 * publishes such a stream over RTMP into an in-process server; ffprobe reads H.264 at 320x240 and
 * AAC, and every video frame the hub sent, from the TS and the low-latency fMP4 playlists.
 * HEVC alike: a libx265 stream (parameter sets repeated on each IRAP) published with our RtmpClient
 * as Enhanced RTMP hvc1 with an empty hvcC; ffprobe reads hevc 320x240 and every frame.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createMediaPacket, type MediaPacket, StreamHub } from "@onair/core";
import { parseVideoTagHeader } from "@onair/flv";
import { RtmpClient } from "@onair/rtmp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hasFfmpeg,
  probeFrames,
  run,
  tempDir,
  testStreamArgs,
  waitFor,
} from "../../../test-support/media-tools.js";
import { parseAvcParameterSets } from "../src/codec/annex-b.js";
import { hevcAccessUnits, hvc1Tag } from "./hevc-tags.js";
import { fetchPlaylist, type HlsStack, type RecordingWriter, record, startHlsStack } from "./hls-peers.js";

const SECONDS = 4;
const HEVC_FRAMES = 75; // 3 s at 25 fps, an IRAP every second
const VARIANTS = ["ts", "low-latency"] as const;

describe("H.264 with in-band SPS/PPS (ffmpeg -f tee) into TS and LL-HLS, read by ffprobe", () => {
  let stack: HlsStack;
  let recorder: RecordingWriter;
  let sequenceHeader: Buffer | undefined;
  const dir = tempDir("onair-hls-inband-");
  let irapCount = 0;

  beforeAll(async () => {
    expect(hasFfmpeg, "ffmpeg and ffprobe are needed (apt-get install -y ffmpeg)").toBe(true);
    const hub = new StreamHub({ republishGraceMs: 0 });
    stack = await startHlsStack(hub, VARIANTS, {
      ts: { windowSegments: 12 },
      "low-latency": { windowSegments: 12 },
    });
    recorder = record(hub, "live", "tee");
    const write = recorder.write.bind(recorder);
    recorder.write = (packet: MediaPacket): void => {
      if (packet.kind === "video" && packet.sequenceHeader) sequenceHeader ??= Buffer.from(packet.payload);
      write(packet);
    };
    const ffmpeg = run("ffmpeg", [
      ...testStreamArgs({ seconds: SECONDS }),
      ...["-map", "0:v", "-map", "1:a", "-f", "tee", `[f=flv]${stack.rtmpBase}/tee`],
    ]);
    // Meanwhile, libx265 with its VPS/SPS/PPS on every IRAP and no configuration record.
    const raw = join(dir.path, "x265.hevc");
    const x265 = run("ffmpeg", [
      ...["-hide_banner", "-loglevel", "error", "-y"],
      ...["-f", "lavfi", "-i", `testsrc=size=320x240:rate=25:duration=${HEVC_FRAMES / 25}`],
      ...["-c:v", "libx265", "-x265-params"],
      "bframes=0:keyint=25:min-keyint=25:scenecut=0:repeat-headers=1:log-level=error",
      ...["-bsf:v", "hevc_metadata=aud=insert", "-f", "hevc", raw],
    ]);
    expect(await x265.exited, x265.stderr()).toBe(0);
    expect(await ffmpeg.exited, ffmpeg.stderr()).toBe(0);
    await waitFor(() => recorder.ended, 10_000, "the end of the stream");

    const { units } = hevcAccessUnits(readFileSync(raw));
    expect(units).toHaveLength(HEVC_FRAMES);
    irapCount = units.filter((u) => u.irap).length;
    const client = await RtmpClient.connect(stack.rtmpBase);
    const publisher = await client.publish("hevc");
    publisher.write(createMediaPacket("video", 0, hvc1Tag(1, 0, Buffer.alloc(0)), { sequenceHeader: true }));
    for (const [index, unit] of units.entries()) {
      const body = hvc1Tag(unit.irap ? 1 : 2, 1, unit.data);
      publisher.write(createMediaPacket("video", index * 40, body, { keyframe: unit.irap }));
    }
    await waitFor(() => hub.isLive("live/hevc"), 10_000, "publish");
    await new Promise((r) => setTimeout(r, 300));
    publisher.close();
    client.close();
    await waitFor(() => !hub.isLive("live/hevc"), 10_000, "unpublish");
  }, 30_000);

  afterAll(async () => {
    await stack?.close();
    dir.remove();
  });

  it("ffmpeg sent an avcC with no parameter sets (what this test is about)", () => {
    expect(sequenceHeader).toBeDefined();
    const body = sequenceHeader as Buffer;
    expect(parseAvcParameterSets(body.subarray(parseVideoTagHeader(body).headerLength)).sets).toEqual([]);
  });

  for (const variant of VARIANTS) {
    it(`${variant}: ffprobe reads h264 320x240 and aac, and every video frame`, async () => {
      const url = stack.playlistUrl(variant, "tee");
      const playlist = await fetchPlaylist(url);
      expect(playlist.ended, playlist.text).toBe(true);
      expect(playlist.segments.length, playlist.text).toBeGreaterThanOrEqual(SECONDS - 1);
      const probed = await probeFrames(url);
      expect(probed.exitCode, probed.stderr).toBe(0);
      expect(probed.stderr).toBe("");
      expect(probed.streams.find((s) => s.codec_type === "video")).toMatchObject({
        codec_name: "h264",
        width: 320,
        height: 240,
      });
      expect(probed.streams.find((s) => s.codec_type === "audio")).toMatchObject({ codec_name: "aac" });
      const video = probed.frames.filter((f) => f.mediaType === "video");
      expect(video.length).toBe(recorder.count("video", 0));
      expect(video[0].keyFrame).toBe(true);
      expect(probed.frames.filter((f) => f.mediaType === "audio").length).toBeGreaterThan(0);
    });
  }

  for (const variant of VARIANTS) {
    it(`${variant}: HEVC with in-band VPS/SPS/PPS: ffprobe reads hevc 320x240, every frame`, async () => {
      const url = stack.playlistUrl(variant, "hevc");
      const playlist = await fetchPlaylist(url);
      expect(playlist.ended, playlist.text).toBe(true);
      const probed = await probeFrames(url);
      expect(probed.exitCode, probed.stderr).toBe(0);
      expect(probed.stderr).toBe("");
      expect(probed.streams).toHaveLength(1);
      expect(probed.streams[0]).toMatchObject({
        codec_type: "video",
        codec_name: "hevc",
        width: 320,
        height: 240,
      });
      expect(probed.frames.filter((f) => f.mediaType === "video")).toHaveLength(HEVC_FRAMES);
      expect(probed.frames.filter((f) => f.keyFrame)).toHaveLength(irapCount);
    });
  }
});
