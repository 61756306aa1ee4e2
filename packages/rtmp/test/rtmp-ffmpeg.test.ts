/**
 * Interop with real ffmpeg/ffprobe: they publish to and play from our server, and our client
 * publishes to and plays from it alongside them. Assertions are on what the peer decoded.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type MediaPacket, type PacketSink, StreamHub } from "@onair/core";
import { createPacketFromTagBody, FlvDemuxer, parseVideoTagHeader } from "@onair/flv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hasFfmpeg,
  makeFlvFile,
  probeFrames,
  publishWithFfmpeg,
  type RunningProcess,
  run,
  tempDir,
  waitFor,
} from "../../../test-support/media-tools.js";
import { createRtmpServer, RtmpClient, type RtmpServer } from "../src/index.js";

describe.skipIf(!hasFfmpeg)("RTMP interop with ffmpeg", () => {
  let hub: StreamHub;
  let server: RtmpServer;
  let base: string;
  const processes: RunningProcess[] = [];
  const published = new Set<string>();

  beforeAll(async () => {
    // No republish grace: these tests check that a publisher leaving ends its players at once.
    hub = new StreamHub({ gopCache: 1, playWaitTimeoutMs: 15_000, republishGraceMs: 0 });
    hub.on("publish", (info) => published.add(info.key));
    hub.on("unpublish", (info) => published.delete(info.key));
    server = createRtmpServer({ handler: hub, host: "127.0.0.1", port: 0 });
    const address = await server.listen();
    base = `rtmp://127.0.0.1:${address.port}`;
  });

  afterAll(async () => {
    for (const p of processes) p.kill();
    hub.close();
    await server.close();
  });

  function publish(name: string, options: Parameters<typeof publishWithFfmpeg>[1]): RunningProcess {
    const p = publishWithFfmpeg(`${base}/live/${name}`, options);
    processes.push(p);
    return p;
  }

  it("ffmpeg publishes H.264+AAC and ffprobe plays it back over RTMP", async () => {
    const publisher = publish("basic", { seconds: 6, width: 320, height: 240, fps: 25, gop: 25 });
    await waitFor(() => published.has("live/basic"), 10_000, "publish");
    const probe = await probeFrames(`${base}/live/basic`);
    expect(await publisher.exited).toBe(0);
    expect(probe.exitCode).toBe(0);
    const video = probe.streams.find((s) => s.codec_type === "video");
    const audio = probe.streams.find((s) => s.codec_type === "audio");
    expect(video).toMatchObject({ codec_name: "h264", width: 320, height: 240 });
    expect(audio).toMatchObject({ codec_name: "aac", sample_rate: "44100" });
    const videoFrames = probe.frames.filter((f) => f.mediaType === "video");
    const audioFrames = probe.frames.filter((f) => f.mediaType === "audio");
    // 6 s at 25 fps = 150 frames; the player joins within the first seconds and starts at the
    // cached keyframe, then decodes everything up to the end without a gap.
    expect(videoFrames.length).toBeGreaterThanOrEqual(100);
    expect(videoFrames.length).toBeLessThanOrEqual(150);
    expect(videoFrames[0].keyFrame).toBe(true);
    expect(audioFrames.length).toBeGreaterThan(200); // 44.1 kHz AAC: ~43 frames/s
    expect(probe.stderr).not.toMatch(/error|non-existing|corrupt/i);
  });

  it("a player joining mid-stream decodes from its very first frame, a keyframe", async () => {
    const publisher = publish("late", { seconds: 8, fps: 25, gop: 50 });
    await waitFor(() => published.has("live/late"), 10_000, "publish");
    await new Promise((r) => setTimeout(r, 3100));
    const probe = await probeFrames(`${base}/live/late`);
    expect(await publisher.exited).toBe(0);
    const videoFrames = probe.frames.filter((f) => f.mediaType === "video");
    expect(videoFrames[0].keyFrame).toBe(true);
    expect(videoFrames[0].pictType).toBe("I");
    // The cached GOP starts at the keyframe at 2 s: the player gets 2 s..8 s.
    expect(videoFrames[0].ptsTime).toBeGreaterThanOrEqual(1.9);
    expect(videoFrames[0].ptsTime).toBeLessThanOrEqual(4.1);
    expect(videoFrames.length).toBeGreaterThanOrEqual(95);
    expect(probe.stderr).not.toMatch(/error|non-existing|corrupt/i);
  });

  it("ffmpeg publishes and our RtmpClient plays: headers first, then a keyframe, in order", async () => {
    const publisher = publish("client-play", { seconds: 4, fps: 25, gop: 25 });
    await waitFor(() => published.has("live/client-play"), 10_000, "publish");
    const client = await RtmpClient.connect(`${base}/live`);
    const reader = await client.play("client-play");
    const received: MediaPacket[] = [];
    const ended = new Promise<Error | undefined>((resolve) => {
      reader.attach({ packet: (p) => received.push(p), end: resolve } satisfies PacketSink);
    });
    expect(await ended).toBeUndefined();
    client.close();
    expect(await publisher.exited).toBe(0);
    const kinds = received.map((p) => p.kind);
    expect(kinds[0]).toBe("script");
    const firstVideo = received.find((p) => p.kind === "video");
    expect(firstVideo?.sequenceHeader).toBe(true);
    expect(parseVideoTagHeader(firstVideo?.payload ?? Buffer.alloc(0)).codec).toBe("avc");
    const media = received.filter((p) => p.kind === "video" && !p.sequenceHeader);
    expect(media[0].keyframe).toBe(true);
    expect(media.length).toBeGreaterThanOrEqual(50);
    for (let i = 1; i < media.length; i++)
      expect(media[i].timestamp).toBeGreaterThanOrEqual(media[i - 1].timestamp);
  });

  it("our RtmpClient publishes an FLV file and ffprobe plays every frame of it", async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, "in.flv");
      await makeFlvFile(file, { seconds: 3, fps: 25, gop: 25 });
      const tags: MediaPacket[] = [];
      new FlvDemuxer().push(readFileSync(file), (tag) =>
        tags.push(createPacketFromTagBody(tag.kind, tag.timestamp, tag.body)),
      );
      // The player is there first and waits for the publisher, so it must get every frame.
      const probing = probeFrames(`${base}/live/from-client`);
      await waitFor(() => hub.get("live/from-client")?.writerCount === 1, 10_000, "player");
      const client = await RtmpClient.connect(`${base}/live`);
      const writer = await client.publish("from-client");
      for (const tag of tags) writer.write(tag);
      await new Promise((r) => setTimeout(r, 300));
      writer.close();
      client.close();
      const probe = await probing;
      expect(probe.exitCode).toBe(0);
      expect(probe.streams.find((s) => s.codec_type === "video")).toMatchObject({
        codec_name: "h264",
        width: 320,
      });
      expect(probe.frames.filter((f) => f.mediaType === "video")).toHaveLength(75);
      expect(probe.stderr).not.toMatch(/error|non-existing|corrupt/i);
    } finally {
      dir.remove();
    }
  });

  it("two streams at once stay isolated", async () => {
    const a = publish("iso-a", { seconds: 4, width: 320, height: 240 });
    const b = publish("iso-b", { seconds: 4, width: 160, height: 120 });
    await waitFor(() => published.has("live/iso-a") && published.has("live/iso-b"), 10_000, "publish");
    const [pa, pb] = await Promise.all([
      probeFrames(`${base}/live/iso-a`),
      probeFrames(`${base}/live/iso-b`),
    ]);
    await Promise.all([a.exited, b.exited]);
    expect(pa.streams.find((s) => s.codec_type === "video")).toMatchObject({ width: 320, height: 240 });
    expect(pb.streams.find((s) => s.codec_type === "video")).toMatchObject({ width: 160, height: 120 });
    expect(pa.frames.filter((f) => f.mediaType === "video").length).toBeGreaterThanOrEqual(50);
    expect(pb.frames.filter((f) => f.mediaType === "video").length).toBeGreaterThanOrEqual(50);
  });

  it("refuses a second publisher on a live key while the first goes on", async () => {
    const first = publish("busy", { seconds: 6 });
    await waitFor(() => published.has("live/busy"), 10_000, "publish");
    const client = await RtmpClient.connect(`${base}/live`);
    const reader = await client.play("busy");
    let count = 0;
    reader.attach({ packet: () => void count++, end: () => {} });
    const second = publish("busy", { seconds: 6 });
    const code = await second.exited;
    expect(code).not.toBe(0);
    expect(second.stderr()).toMatch(/already being published|BadName/);
    const before = count;
    await new Promise((r) => setTimeout(r, 1000));
    expect(count).toBeGreaterThan(before + 20);
    expect(first.child.exitCode).toBeNull();
    client.close();
    first.kill();
  });

  it("killing the publisher ends its players cleanly", async () => {
    const publisher = publish("killed", { seconds: 30 });
    await waitFor(() => published.has("live/killed"), 10_000, "publish");
    const player = run("ffmpeg", [
      "-hide_banner",
      "-loglevel",
      "error",
      "-i",
      `${base}/live/killed`,
      "-f",
      "null",
      "-",
    ]);
    processes.push(player);
    await waitFor(() => hub.get("live/killed")?.writerCount === 1, 10_000, "player");
    await new Promise((r) => setTimeout(r, 1500));
    const killedAt = Date.now();
    publisher.kill("SIGKILL");
    expect(await player.exited).toBe(0);
    expect(Date.now() - killedAt).toBeLessThan(5000);
    await waitFor(() => hub.get("live/killed") === undefined, 5000, "stream gone");
  });
});
