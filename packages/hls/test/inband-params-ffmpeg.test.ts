/**
 * H.264 with its SPS/PPS in-band, as ffmpeg publishes through `-f tee` (no global header): the FLV
 * sequence header's avcC is empty and each IDR access unit carries SPS and PPS, in Annex B. ffmpeg
 * publishes such a stream over RTMP into an in-process server; ffprobe reads H.264 at 320x240 and
 * AAC, and every video frame the hub sent, from the TS and the low-latency fMP4 playlists.
 */
import { type MediaPacket, StreamHub } from "@onair/core";
import { parseVideoTagHeader } from "@onair/flv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasFfmpeg, probeFrames, run, testStreamArgs, waitFor } from "../../../test-support/media-tools.js";
import { parseAvcParameterSets } from "../src/codec/annex-b.js";
import { fetchPlaylist, type HlsStack, type RecordingWriter, record, startHlsStack } from "./hls-peers.js";

const SECONDS = 4;
const VARIANTS = ["ts", "low-latency"] as const;

describe("H.264 with in-band SPS/PPS (ffmpeg -f tee) into TS and LL-HLS, read by ffprobe", () => {
  let stack: HlsStack;
  let recorder: RecordingWriter;
  let sequenceHeader: Buffer | undefined;

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
    expect(await ffmpeg.exited, ffmpeg.stderr()).toBe(0);
    await waitFor(() => recorder.ended, 10_000, "the end of the stream");
  }, 30_000);

  afterAll(async () => {
    await stack?.close();
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
});
