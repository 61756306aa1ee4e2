/**
 * Every HLS variant with real peers: ffmpeg publishes an 8 s H.264/AAC stream (1 s GOP) over RTMP
 * into an in-process RTMP server; three HLS servers on the same hub (TS, fMP4, low-latency fMP4)
 * segment it. ffprobe reads each live playlist (codecs, resolution); once the stream ended, ffmpeg
 * copies each whole playlist with no error line, ffprobe reads every segment's timestamps (durations
 * within target + one GOP, no gap or overlap across segment boundaries), and mux.js counts in every
 * segment (and LL-HLS part) the frames the hub sent.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { StreamHub } from "@onair/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hasFfmpeg,
  probeFrames,
  publishWithFfmpeg,
  type RunningProcess,
  run,
  tempDir,
  waitFor,
} from "../../../test-support/media-tools.js";
import {
  fetchBytes,
  fetchPlaylist,
  fmp4Frames,
  type HlsStack,
  type ParsedPlaylist,
  type RecordingWriter,
  record,
  resolve,
  startHlsStack,
  tsFrames,
  type Variant,
} from "./hls-peers.js";

const VARIANTS = ["ts", "fmp4", "low-latency"] as const;
const GOP_S = 1;
const FPS = 25;
const SECONDS = 8;
/** The configured target durations (ms), so the test knows what the EXTINFs must stay under. */
const TARGET_MS = 1000;
const PART_TARGET_MS = 200;

interface ProbedPacket {
  codec_type: "video" | "audio";
  pts_time: string;
  dts_time: string;
  duration_time?: string;
}

async function probePackets(path: string): Promise<ProbedPacket[]> {
  const p = run("ffprobe", [
    ...["-v", "error", "-show_entries", "packet=codec_type,pts_time,dts_time,duration_time"],
    ...["-of", "json", path],
  ]);
  const code = await p.exited;
  if (code !== 0) throw new Error(`ffprobe ${path}: ${p.stderr()}`);
  return (JSON.parse(p.stdout()) as { packets: ProbedPacket[] }).packets;
}

describe("HLS variants read by ffprobe, ffmpeg and mux.js", () => {
  const dir = tempDir("onair-hls-variants-");
  let stack: HlsStack;
  let publisher: RunningProcess;
  let recorder: RecordingWriter;
  /** What ffprobe said about each live playlist, while the stream ran. */
  const live = new Map<Variant, Awaited<ReturnType<typeof probeFrames>>>();
  const ended = new Map<Variant, ParsedPlaylist>();

  beforeAll(async () => {
    // Fail, never skip, without the real peers.
    expect(hasFfmpeg, "ffmpeg and ffprobe are needed (apt-get install -y ffmpeg)").toBe(true);
    const hub = new StreamHub({ republishGraceMs: 0 });
    stack = await startHlsStack(hub, VARIANTS, {
      // A window longer than the stream: the ended playlist lists every segment written.
      ts: { targetDurationMs: TARGET_MS, windowSegments: 12 },
      fmp4: { targetDurationMs: TARGET_MS, windowSegments: 12 },
      "low-latency": { targetDurationMs: TARGET_MS, partTargetMs: PART_TARGET_MS, windowSegments: 12 },
    });
    recorder = record(hub, "live", "v");
    publisher = publishWithFfmpeg(`${stack.rtmpBase}/v`, {
      seconds: SECONDS,
      fps: FPS,
      gop: GOP_S * FPS,
    });
    await waitFor(() => hub.isLive("live/v"), 10_000, "publish");
    // ffprobe opens each live playlist after a few segments exist.
    await new Promise((r) => setTimeout(r, 3500));
    await Promise.all(
      VARIANTS.map(async (variant) => {
        live.set(variant, await probeFrames(stack.playlistUrl(variant, "v"), ["-read_intervals", "%+#1"]));
      }),
    );
    expect(await publisher.exited).toBe(0);
    await waitFor(() => recorder.ended, 10_000, "the end of the stream");
    for (const variant of VARIANTS) {
      const playlist = await fetchPlaylist(stack.playlistUrl(variant, "v"));
      ended.set(variant, playlist);
    }
  }, 40_000);

  afterAll(async () => {
    publisher?.kill();
    await stack?.close();
    dir.remove();
  });

  for (const variant of VARIANTS) {
    describe(variant, () => {
      it("ffprobe reads the live playlist: H.264 320x240 and AAC", () => {
        const probed = live.get(variant);
        expect(probed?.exitCode, probed?.stderr).toBe(0);
        expect(probed?.streams.find((s) => s.codec_type === "video")).toMatchObject({
          codec_name: "h264",
          width: 320,
          height: 240,
        });
        expect(probed?.streams.find((s) => s.codec_type === "audio")).toMatchObject({ codec_name: "aac" });
      });

      it("the ended playlist: ENDLIST, EXTINFs within target + one GOP; ffmpeg copies it all with no error line", async () => {
        const playlist = ended.get(variant) as ParsedPlaylist;
        expect(playlist.ended, playlist.text).toBe(true);
        expect(playlist.segments.length, playlist.text).toBeGreaterThanOrEqual(SECONDS / 2);
        for (const segment of playlist.segments) {
          expect(segment.duration, playlist.text).toBeGreaterThan(0);
          expect(segment.duration, playlist.text).toBeLessThanOrEqual(TARGET_MS / 1000 + GOP_S + 0.001);
          // RFC 8216 4.3.3.1: each EXTINF rounded to the nearest integer is ≤ EXT-X-TARGETDURATION.
          expect(Math.round(segment.duration), playlist.text).toBeLessThanOrEqual(playlist.targetDuration);
        }
        if (variant === "ts") expect(playlist.map).toBeUndefined();
        else expect(playlist.map, playlist.text).toBeDefined();
        if (variant === "low-latency") {
          expect(playlist.tags).toContain("#EXT-X-PART-INF");
          expect(playlist.tags).toContain("#EXT-X-SERVER-CONTROL");
        } else expect(playlist.tags).not.toContain("#EXT-X-PART");

        const copy = run("ffmpeg", [
          ...["-hide_banner", "-v", "error", "-i", stack.playlistUrl(variant, "v")],
          ...["-c", "copy", "-f", "null", "-"],
        ]);
        expect(await copy.exited, copy.stderr()).toBe(0);
        expect(copy.stderr()).toBe("");
      });

      it("every segment: timestamps run on across boundaries, and mux.js counts the frames the hub sent", async () => {
        const url = stack.playlistUrl(variant, "v");
        const playlist = ended.get(variant) as ParsedPlaylist;
        const init = playlist.map === undefined ? undefined : await fetchBytes(resolve(playlist.map, url));
        const counted = { video: 0, audio: 0 };
        let firstVideoMs: number | undefined;
        let firstAudioMs: number | undefined;
        let previous: { video?: number; audio?: number } = {};
        for (const [index, segment] of playlist.segments.entries()) {
          const bytes = await fetchBytes(resolve(segment.uri, url));
          const frames = init === undefined ? tsFrames(bytes) : fmp4Frames(bytes);
          counted.video += frames.video;
          counted.audio += frames.audio;
          // The parts of a low-latency segment hold its frames, split.
          if (segment.parts.length > 0) {
            const inParts = { video: 0, audio: 0 };
            for (const part of segment.parts) {
              const p = fmp4Frames(await fetchBytes(resolve(part.uri, url)));
              inParts.video += p.video;
              inParts.audio += p.audio;
            }
            expect(inParts, `segment ${index} vs its parts`).toEqual({
              video: frames.video,
              audio: frames.audio,
            });
            expect(segment.parts[0].independent, `segment ${index}'s first part`).toBe(true);
          }
          // ffprobe reads the segment alone (the init section first for fMP4).
          const file = join(dir.path, `${variant}-${index}.${init === undefined ? "ts" : "mp4"}`);
          writeFileSync(file, init === undefined ? bytes : Buffer.concat([init, bytes]));
          const packets = await probePackets(file);
          for (const kind of ["video", "audio"] as const) {
            const times = packets.filter((p) => p.codec_type === kind).map((p) => Number(p.dts_time));
            expect(times.length, `${kind} in segment ${index}`).toBeGreaterThan(0);
            const first = Math.min(...times);
            const last = Math.max(...times);
            if (index === 0) {
              if (kind === "video") firstVideoMs = Math.round(first * 1000);
              else firstAudioMs = Math.round(first * 1000);
            }
            const before = previous[kind];
            if (before !== undefined) {
              // The next frame: one frame duration later (40 ms video, 23.2 ms audio), give or take rounding.
              const step = first - before;
              const frame = kind === "video" ? 1 / FPS : 1024 / 44_100;
              expect(step, `${kind} from segment ${index - 1} to ${index}`).toBeGreaterThan(frame * 0.5);
              expect(step, `${kind} from segment ${index - 1} to ${index}`).toBeLessThan(frame * 1.5);
            }
            previous = { ...previous, [kind]: last };
          }
        }
        // Every frame the hub sent from the first segment's start on, and no other.
        // (fMP4 audio times count samples: within a millisecond of the FLV timestamps; allow half a frame.)
        expect(firstVideoMs).toBeDefined();
        expect(firstAudioMs).toBeDefined();
        expect(counted.video).toBe(recorder.count("video", (firstVideoMs as number) - 20));
        expect(counted.audio).toBe(recorder.count("audio", (firstAudioMs as number) - 11));
        expect(counted.video).toBeGreaterThanOrEqual((SECONDS - 1) * FPS);
      });
    });
  }
});
