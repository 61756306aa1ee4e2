/** Recording with real peers: ffmpeg publishes, the recorder writes a file, ffprobe reads it back. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { StreamHub } from "@onair/core";
import { createRtmpServer } from "@onair/rtmp";
import { describe, expect, it } from "vitest";
import {
  hasFfmpeg,
  makeFlvFile,
  probeFrames,
  publishWithFfmpeg,
  run,
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

/** ffprobe's format duration and size, and the duration and filesize the file's onMetaData claims. */
async function probeFormat(
  path: string,
): Promise<{ duration: number; size: number; metaDuration: number; metaFilesize: number }> {
  const p = run("ffprobe", ["-v", "error", "-show_format", "-of", "json", path]);
  expect(await p.exited).toBe(0);
  const format = (JSON.parse(p.stdout()) as { format: { duration: string; size: string } }).format;
  // The first script tag follows the 13-byte header and its own 11-byte tag header.
  const file = readFileSync(path);
  expect(file[13]).toBe(18);
  const body = file.subarray(24, 24 + file.readUIntBE(14, 3));
  const numberAfter = (key: string): number => {
    const at = body.indexOf(`${key}\0`, 0, "latin1");
    expect(at).toBeGreaterThan(0);
    return body.readDoubleBE(at + key.length + 1);
  };
  return {
    duration: Number(format.duration),
    size: Number(format.size),
    metaDuration: numberAfter("duration"),
    metaFilesize: numberAfter("filesize"),
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

  it("makes the metadata true at the end: a 4 s clip looped for 9 s is recorded as 9 s long", async () => {
    const dir = tempDir();
    const hub = new StreamHub({ republishGraceMs: 0 });
    const recording = recordStreams(hub, { dir: dir.path });
    try {
      const clip = join(dir.path, "clip.flv");
      await makeFlvFile(clip, { seconds: 4 });
      const clipFormat = await probeFormat(clip);
      expect(Math.abs(clipFormat.metaDuration - 4)).toBeLessThan(0.2);
      const source = new FlvFileSource(clip, { app: "live", name: "loop", loop: true });
      hub.handleReader(source);
      source.start();
      await new Promise((r) => setTimeout(r, 9000));
      source.stop();
      await waitFor(() => recording.recordings.size === 0, 5000, "recording closed");
      const files = readdirSync(join(dir.path, "live"));
      expect(files).toHaveLength(1);
      const path = join(dir.path, "live", files[0]);
      const format = await probeFormat(path);
      expect(Math.abs(format.metaDuration - 9)).toBeLessThan(0.3);
      expect(Math.abs(format.duration - 9)).toBeLessThan(0.3);
      expect(format.metaFilesize).toBe(format.size);
      // Each pass of the loop sends the same metadata again: the file keeps one copy (repeats
      // mid-file crash ffprobe 5.1).
      const bytes = readFileSync(path);
      expect(bytes.indexOf("onMetaData", 0, "latin1")).toBeGreaterThan(0);
      expect(bytes.indexOf("onMetaData", bytes.indexOf("onMetaData", 0, "latin1") + 1, "latin1")).toBe(-1);
      // What ffprobe decodes agrees with what the metadata now says.
      const probed = await probeRecording(path);
      expect(Math.abs(probed.duration - format.metaDuration)).toBeLessThan(0.2);
    } finally {
      await recording.stop();
      hub.close();
      dir.remove();
    }
  });
});
