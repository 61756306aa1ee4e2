/** Recording with real peers: ffmpeg publishes, the recorder writes a file, ffprobe reads it back. */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { StreamHub } from "@onair/core";
import { createRtmpServer } from "@onair/rtmp";
import { describe, expect, it } from "vitest";
import {
  hasFfmpeg,
  makeFlvFile,
  probeFrames,
  publishWithFfmpeg,
  tempDir,
  waitFor,
} from "../../../test-support/media-tools.js";
import { FlvError, FlvFileSource, recordingPath, recordStreams } from "../src/index.js";

/** Codecs, and the duration as the decoded video frames span it (metadata may claim anything). */
async function probeRecording(
  path: string,
): Promise<{ duration: number; streams: string[]; videoFrames: number }> {
  const probe = await probeFrames(path);
  const video = probe.frames.filter((f) => f.mediaType === "video");
  return {
    duration: video[video.length - 1].ptsTime - video[0].ptsTime + 1 / 25,
    streams: probe.streams.map((s) => s.codec_name).sort(),
    videoFrames: video.length,
  };
}

describe("recording paths", () => {
  it("refuses traversal, separators and control characters", () => {
    const at = new Date("2026-01-02T03:04:05.006Z");
    expect(recordingPath("/rec", "live", "cam", at)).toBe("/rec/live/cam-2026-01-02T03-04-05-006Z.flv");
    for (const [app, name] of [
      ["..", "x"],
      ["live", ".."],
      ["live", "a/b"],
      ["a\\b", "x"],
      ["live", "x\0y"],
      ["", "x"],
    ]) {
      expect(() => recordingPath("/rec", app, name, at)).toThrow(FlvError);
    }
  });
});

describe.skipIf(!hasFfmpeg)("FLV recorder", () => {
  it("records a published stream to a valid file with both tracks and the published duration", async () => {
    const dir = tempDir();
    // No republish grace: the recording (a writer of the stream) ends when the publisher does.
    const hub = new StreamHub({ republishGraceMs: 0 });
    const server = createRtmpServer({ handler: hub, host: "127.0.0.1", port: 0 });
    const { port } = await server.listen();
    const recording = recordStreams(hub, { dir: dir.path });
    try {
      const publisher = publishWithFfmpeg(`rtmp://127.0.0.1:${port}/live/rec`, { seconds: 4 });
      expect(await publisher.exited).toBe(0);
      await waitFor(() => recording.recordings.size === 0, 5000, "recording closed");
      const files = readdirSync(join(dir.path, "live"));
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^rec-\d{4}-\d\d-\d\dT[\d-]+Z\.flv$/);
      const probed = await probeRecording(join(dir.path, "live", files[0]));
      expect(probed.streams).toEqual(["aac", "h264"]);
      expect(Math.abs(probed.duration - 4)).toBeLessThan(0.4);
      expect(probed.videoFrames).toBe(100);
    } finally {
      await recording.stop();
      hub.close();
      await server.close();
      dir.remove();
    }
  });

  it("closes open recordings cleanly when the server stops mid-stream", async () => {
    const dir = tempDir();
    const hub = new StreamHub();
    const recording = recordStreams(hub, { dir: dir.path });
    try {
      const clip = join(dir.path, "clip.flv");
      await makeFlvFile(clip, { seconds: 6 });
      const source = new FlvFileSource(clip, { app: "live", name: "file" });
      hub.handleReader(source);
      source.start();
      await new Promise((r) => setTimeout(r, 2000));
      await recording.stop();
      source.stop();
      const files = readdirSync(join(dir.path, "live"));
      const probed = await probeRecording(join(dir.path, "live", files[0]));
      expect(probed.streams).toEqual(["aac", "h264"]);
      expect(probed.duration).toBeGreaterThan(1.5);
      expect(probed.duration).toBeLessThan(2.6);
      expect(existsSync(join(dir.path, "..", "live"))).toBe(false);
    } finally {
      hub.close();
      dir.remove();
    }
  });
});
