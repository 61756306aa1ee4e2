/**
 * HEVC through HLS, as OBS sends it: a libx265 stream wrapped in Enhanced RTMP `hvc1` tags is
 * published with our RtmpClient into an in-process RTMP server; ffprobe reads HEVC at the
 * published size, and every frame, from the fMP4 and the TS playlists.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createMediaPacket, StreamHub } from "@onair/core";
import { RtmpClient } from "@onair/rtmp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasFfmpeg, probeFrames, run, tempDir, waitFor } from "../../../test-support/media-tools.js";
import { hevcAccessUnits, hvc1Tag } from "./hevc-tags.js";
import { fetchPlaylist, type HlsStack, startHlsStack } from "./hls-peers.js";

const FRAMES = 100; // 4 s at 25 fps, an IRAP every second

describe("HEVC (Enhanced RTMP hvc1) into fMP4 and TS HLS, read by ffprobe", () => {
  const dir = tempDir("onair-hls-hevc-");
  let stack: HlsStack;
  let irapCount = 0;

  beforeAll(async () => {
    expect(hasFfmpeg, "ffmpeg and ffprobe are needed (apt-get install -y ffmpeg)").toBe(true);
    const raw = join(dir.path, "x265.hevc");
    const x265 = run("ffmpeg", [
      ...["-hide_banner", "-loglevel", "error", "-y"],
      ...["-f", "lavfi", "-i", `testsrc=size=320x240:rate=25:duration=${FRAMES / 25}`],
      ...["-c:v", "libx265", "-x265-params", "bframes=0:keyint=25:min-keyint=25:scenecut=0:log-level=error"],
      ...["-bsf:v", "hevc_metadata=aud=insert", "-f", "hevc", raw],
    ]);
    expect(await x265.exited, x265.stderr()).toBe(0);
    const { record, units } = hevcAccessUnits(readFileSync(raw));
    expect(units).toHaveLength(FRAMES);
    irapCount = units.filter((u) => u.irap).length;

    const hub = new StreamHub({ republishGraceMs: 0 });
    stack = await startHlsStack(hub, ["fmp4", "ts"]);
    const client = await RtmpClient.connect(stack.rtmpBase);
    const publisher = await client.publish("hevc");
    publisher.write(createMediaPacket("video", 0, hvc1Tag(1, 0, record), { sequenceHeader: true }));
    for (const [index, unit] of units.entries()) {
      publisher.write(
        createMediaPacket("video", index * 40, hvc1Tag(unit.irap ? 1 : 2, 1, unit.data), {
          keyframe: unit.irap,
        }),
      );
    }
    // The end of the stream closes the last segment and ends the playlists.
    await waitFor(() => hub.isLive("live/hevc"), 10_000, "publish");
    await new Promise((r) => setTimeout(r, 300));
    publisher.close();
    client.close();
    await waitFor(() => !hub.isLive("live/hevc"), 10_000, "unpublish");
  }, 40_000);

  afterAll(async () => {
    await stack?.close();
    dir.remove();
  });

  for (const variant of ["fmp4", "ts"] as const) {
    it(`${variant}: ffprobe reads hevc 320x240, every frame, from the playlist`, async () => {
      const url = stack.playlistUrl(variant, "hevc");
      const playlist = await fetchPlaylist(url);
      expect(playlist.ended, playlist.text).toBe(true);
      expect(playlist.segments.length, playlist.text).toBeGreaterThanOrEqual(irapCount);
      if (variant === "fmp4") expect(playlist.map, playlist.text).toBeDefined();
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
      expect(probed.frames.filter((f) => f.mediaType === "video")).toHaveLength(FRAMES);
      expect(probed.frames.filter((f) => f.keyFrame)).toHaveLength(irapCount);
    });
  }
});
