/**
 * HTTP-FLV and WebSocket-FLV with real peers: ffmpeg publishes over RTMP, ffprobe plays over
 * HTTP, a ws client reads WebSocket-FLV; assertions on what they decoded.
 */
import { createMediaPacket, type MediaPacket, nextStreamId, StreamHub, StreamSource } from "@onair/core";
import { createRtmpServer, type RtmpServer } from "@onair/rtmp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  hasFfmpeg,
  probeFrames,
  publishWithFfmpeg,
  type RunningProcess,
  waitFor,
} from "../../../test-support/media-tools.js";
import {
  createHttpFlvServer,
  createPacketFromTagBody,
  FlvDemuxer,
  type HttpFlvServer,
} from "../src/index.js";

describe.skipIf(!hasFfmpeg)("HTTP-FLV and WS-FLV with ffmpeg", () => {
  let hub: StreamHub;
  let rtmp: RtmpServer;
  let flv: HttpFlvServer;
  let rtmpBase: string;
  let httpBase: string;
  const processes: RunningProcess[] = [];

  beforeAll(async () => {
    // No republish grace: a player ends when its publisher does.
    hub = new StreamHub({ republishGraceMs: 0 });
    rtmp = createRtmpServer({ handler: hub, host: "127.0.0.1", port: 0 });
    flv = createHttpFlvServer({ handler: hub, host: "127.0.0.1", port: 0 });
    rtmpBase = `rtmp://127.0.0.1:${(await rtmp.listen()).port}/live`;
    httpBase = `127.0.0.1:${(await flv.listen()).port}`;
  });

  afterAll(async () => {
    for (const p of processes) p.kill();
    hub.close();
    await Promise.all([rtmp.close(), flv.close()]);
  });

  function publish(name: string, seconds: number, gop = 25): RunningProcess {
    const p = publishWithFfmpeg(`${rtmpBase}/${name}`, { seconds, fps: 25, gop });
    processes.push(p);
    return p;
  }

  it("ffprobe plays HTTP-FLV: codecs, resolution, frame count", async () => {
    const publisher = publish("h1", 5);
    await waitFor(() => hub.isLive("live/h1"), 10_000, "publish");
    const probe = await probeFrames(`http://${httpBase}/live/h1.flv`);
    expect(await publisher.exited).toBe(0);
    expect(probe.exitCode).toBe(0);
    expect(probe.streams.find((s) => s.codec_type === "video")).toMatchObject({
      codec_name: "h264",
      width: 320,
      height: 240,
    });
    expect(probe.streams.find((s) => s.codec_type === "audio")).toMatchObject({ codec_name: "aac" });
    const video = probe.frames.filter((f) => f.mediaType === "video");
    expect(video.length).toBeGreaterThanOrEqual(75); // 125 published; the player joins in the first seconds
    expect(video.length).toBeLessThanOrEqual(125);
    expect(probe.stderr).not.toMatch(/error|corrupt|non-existing/i);
  });

  it("a late HTTP-FLV player's first decoded frame is a keyframe", async () => {
    const publisher = publish("h2", 7, 50);
    await waitFor(() => hub.isLive("live/h2"), 10_000, "publish");
    await new Promise((r) => setTimeout(r, 3100));
    const probe = await probeFrames(`http://${httpBase}/live/h2.flv`);
    await publisher.exited;
    const video = probe.frames.filter((f) => f.mediaType === "video");
    expect(video[0].keyFrame).toBe(true);
    expect(video[0].pictType).toBe("I");
    expect(video[0].ptsTime).toBeGreaterThanOrEqual(1.9);
    expect(video.length).toBeGreaterThanOrEqual(70);
    expect(probe.stderr).not.toMatch(/error|corrupt|non-existing/i);
  });

  it("WebSocket-FLV carries the same FLV: header, metadata, sequence headers, keyframe first", async () => {
    const publisher = publish("w1", 4);
    await waitFor(() => hub.isLive("live/w1"), 10_000, "publish");
    const ws = new WebSocket(`ws://${httpBase}/live/w1.flv`);
    const demuxer = new FlvDemuxer();
    const packets: MediaPacket[] = [];
    ws.on("message", (data: Buffer) =>
      demuxer.push(data, (tag) => packets.push(createPacketFromTagBody(tag.kind, tag.timestamp, tag.body))),
    );
    const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
    expect(await closed).toBe(1000); // the stream ended, the socket closed cleanly
    await publisher.exited;
    expect(demuxer.header).toMatchObject({ audio: true, video: true });
    expect(packets[0].kind).toBe("script");
    const video = packets.filter((p) => p.kind === "video");
    expect(video[0].sequenceHeader).toBe(true);
    expect(video[1].keyframe).toBe(true);
    expect(video.length).toBeGreaterThanOrEqual(80);
    expect(packets.some((p) => p.kind === "audio" && p.sequenceHeader)).toBe(true);
  });
});

describe.skipIf(!hasFfmpeg)("HTTP-FLV authorize with ffprobe", () => {
  let hub: StreamHub;
  let rtmp: RtmpServer;
  let flv: HttpFlvServer;
  let publisher: RunningProcess | undefined;
  let httpBase: string;

  beforeAll(async () => {
    hub = new StreamHub({ republishGraceMs: 0 });
    rtmp = createRtmpServer({ handler: hub, host: "127.0.0.1", port: 0 });
    flv = createHttpFlvServer({
      handler: hub,
      host: "127.0.0.1",
      port: 0,
      authorize: ({ query }) =>
        query.get("token") === "secret" || { allow: false, reason: "a valid token is required", status: 401 },
    });
    const rtmpPort = (await rtmp.listen()).port;
    httpBase = `http://127.0.0.1:${(await flv.listen()).port}`;
    publisher = publishWithFfmpeg(`rtmp://127.0.0.1:${rtmpPort}/live/guarded`, { seconds: 6, fps: 25 });
    await waitFor(() => hub.isLive("live/guarded"), 10_000, "publish");
  });

  afterAll(async () => {
    publisher?.kill();
    hub.close();
    await Promise.all([rtmp.close(), flv.close()]);
  });

  it("ffprobe without a token is refused with 401 and decodes nothing", async () => {
    const probe = await probeFrames(`${httpBase}/live/guarded.flv`);
    expect(probe.exitCode).not.toBe(0);
    expect(probe.stderr).toMatch(/401/);
    expect(probe.frames).toHaveLength(0);
    expect(flv.stats().refused.unauthorized).toBeGreaterThanOrEqual(1);
  });

  it("ffprobe with ?token= plays", async () => {
    const probe = await probeFrames(`${httpBase}/live/guarded.flv?token=secret`);
    expect(probe.exitCode).toBe(0);
    expect(probe.streams.find((s) => s.codec_type === "video")).toMatchObject({ codec_name: "h264" });
    expect(probe.frames.filter((f) => f.mediaType === "video").length).toBeGreaterThanOrEqual(25);
  });
});

describe("WebSocket-FLV message sizes", () => {
  it("sends a late player's large cached GOP as messages of at most 64 KiB that form one FLV stream", async () => {
    const hub = new StreamHub({ batchWindowMs: 0 });
    const flv = createHttpFlvServer({ handler: hub, host: "127.0.0.1", port: 0 });
    const { port } = await flv.listen();
    const source = new StreamSource({
      key: "live/big",
      app: "live",
      name: "big",
      url: "",
      id: nextStreamId("r"),
    });
    hub.handleReader(source);
    const keyframe = Buffer.alloc(200_000, 0x55);
    keyframe.set([0x17, 1, 0, 0, 0]);
    source.push(
      createMediaPacket("video", 0, Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64]), { sequenceHeader: true }),
    );
    source.push(createMediaPacket("video", 0, keyframe, { keyframe: true }));
    const ws = new WebSocket(`ws://127.0.0.1:${port}/live/big.flv`);
    const sizes: number[] = [];
    const demuxer = new FlvDemuxer();
    const tags: { kind: string; size: number }[] = [];
    ws.on("message", (data: Buffer) => {
      sizes.push(data.length);
      demuxer.push(data, (tag) => tags.push({ kind: tag.kind, size: tag.body.length }));
    });
    await waitFor(() => tags.length === 2, 5000, "the cached tags");
    expect(Math.max(...sizes)).toBeLessThanOrEqual(64 * 1024);
    expect(sizes.length).toBeGreaterThanOrEqual(4);
    expect(tags).toEqual([
      { kind: "video", size: 7 },
      { kind: "video", size: 200_000 },
    ]);
    ws.close();
    hub.close();
    await flv.close();
  });
});
