/**
 * The CLI with its defaults (channel keys on, HLS low-latency): a key from the API, ffmpeg publishing
 * with it, ffprobe reading the room over HLS and HTTP-FLV; and the TS variant chosen by flag.
 */
import { describe, expect, it } from "vitest";
import { hasFfmpeg, probeFrames, publishWithFfmpeg } from "../../../test-support/media-tools.js";
import { startCli } from "./cli-process.js";

async function channelKey(apiUrl: string): Promise<string> {
  const response = await fetch(apiUrl);
  const body = (await response.json()) as { status: number; data: string };
  expect(body.status).toBe(200);
  return body.data;
}

describe.skipIf(!hasFfmpeg)("the CLI's HLS", () => {
  it("defaults: publish needs a key; the room plays over low-latency HLS (fMP4 parts) and HTTP-FLV", async () => {
    const cli = await startCli({ config: { republish_grace: 0 } });
    try {
      const refused = publishWithFfmpeg(cli.url("rtmp", "live/nokey"), { seconds: 1 });
      expect(await refused.exited).not.toBe(0);
      expect(refused.stderr()).toContain("invalid channel key");

      const key = await channelKey(cli.url("api", "control/get?room=hlsroom"));
      const publisher = publishWithFfmpeg(cli.url("rtmp", `live/${key}`), { seconds: 5, gop: 15 });
      await cli.waitForLog("publish live/hlsroom");
      // Wait for a few segments, then read the playlist as a player would.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const playlist = await (await fetch(cli.url("hls", "live/hlsroom"))).text();
      expect(playlist).toContain("#EXT-X-PART-INF:PART-TARGET=");
      expect(playlist).toContain("#EXT-X-MAP:");
      const [hls, flv] = await Promise.all([
        probeFrames(cli.url("hls", "live/hlsroom"), ["-live_start_index", "0"]),
        probeFrames(cli.url("flv", "live/hlsroom")),
      ]);
      expect(await publisher.exited).toBe(0);
      for (const probe of [hls, flv]) {
        expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
        expect(probe.frames.filter((f) => f.mediaType === "video").length).toBeGreaterThan(30);
      }
      expect(cli.stdout()).not.toContain(key);
    } finally {
      await cli.stop();
    }
  });

  it("--hls-variant ts serves MPEG-TS segments that ffprobe decodes", async () => {
    const cli = await startCli({
      config: { rtmp_noauth: true, enable_api: false, republish_grace: 0 },
      args: ["--hls-variant", "ts"],
    });
    try {
      const publisher = publishWithFfmpeg(cli.url("rtmp", "live/ts"), { seconds: 5, gop: 15 });
      await cli.waitForLog("publish live/ts");
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const playlist = await (await fetch(cli.url("hls", "live/ts"))).text();
      expect(playlist).toMatch(/\.ts\b/);
      expect(playlist).not.toContain("#EXT-X-PART");
      const probe = await probeFrames(cli.url("hls", "live/ts"), ["-live_start_index", "0"]);
      expect(await publisher.exited).toBe(0);
      expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
      expect(probe.frames.filter((f) => f.mediaType === "video").length).toBeGreaterThan(30);
    } finally {
      await cli.stop();
    }
  });
});
