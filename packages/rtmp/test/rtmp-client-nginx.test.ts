/** Our RtmpClient against a third-party server, nginx-rtmp, with ffmpeg/ffprobe on the other side. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { MediaPacket } from "@onair/core";
import { createPacketFromTagBody, FlvDemuxer } from "@onair/flv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hasFfmpeg,
  makeFlvFile,
  probeFrames,
  publishWithFfmpeg,
  tempDir,
  waitFor,
} from "../../../test-support/media-tools.js";
import { hasNginxRtmp, type NginxRtmp, startNginxRtmp } from "../../../test-support/nginx-rtmp.js";
import { RtmpClient } from "../src/index.js";

describe.skipIf(!hasFfmpeg || !hasNginxRtmp)("RtmpClient with nginx-rtmp", () => {
  let nginx: NginxRtmp;
  let tags: MediaPacket[] = [];
  const dir = tempDir();

  beforeAll(async () => {
    nginx = await startNginxRtmp();
    const file = join(dir.path, "clip.flv");
    await makeFlvFile(file, { seconds: 4, fps: 25, gop: 25 });
    new FlvDemuxer().push(readFileSync(file), (tag) =>
      tags.push(createPacketFromTagBody(tag.kind, tag.timestamp, tag.body)),
    );
  });

  afterAll(async () => {
    await nginx.stop();
    dir.remove();
    tags = [];
  });

  it("publishes to nginx-rtmp in real time and ffprobe plays it from nginx", async () => {
    const client = await RtmpClient.connect(`rtmp://127.0.0.1:${nginx.port}/live`);
    const writer = await client.publish("from-onair");
    const started = Date.now();
    const probing = (async () => {
      await new Promise((r) => setTimeout(r, 500));
      // nginx-rtmp does not end its players when the publisher leaves: read 2.5 s of it.
      return probeFrames(`rtmp://127.0.0.1:${nginx.port}/live/from-onair`, ["-read_intervals", "%+2.5"]);
    })();
    // Paced by timestamps, as a live publisher would be.
    for (const tag of tags) {
      const due = started + tag.timestamp - Date.now();
      if (due > 0) await new Promise((r) => setTimeout(r, due));
      writer.write(tag);
    }
    writer.close();
    client.close();
    const probe = await probing;
    expect(probe.streams.find((s) => s.codec_type === "video")).toMatchObject({
      codec_name: "h264",
      width: 320,
      height: 240,
    });
    expect(probe.streams.find((s) => s.codec_type === "audio")).toMatchObject({ codec_name: "aac" });
    const video = probe.frames.filter((f) => f.mediaType === "video");
    expect(video.length).toBeGreaterThanOrEqual(45);
    expect(video[0].keyFrame).toBe(true);
  });

  it("plays from nginx-rtmp what ffmpeg publishes there", async () => {
    const publisher = publishWithFfmpeg(`rtmp://127.0.0.1:${nginx.port}/live/from-ffmpeg`, { seconds: 4 });
    await new Promise((r) => setTimeout(r, 700));
    const client = await RtmpClient.connect(`rtmp://127.0.0.1:${nginx.port}/live`);
    const reader = await client.play("from-ffmpeg");
    const packets: MediaPacket[] = [];
    reader.attach({ packet: (p) => packets.push(p), end: () => {} });
    await publisher.exited;
    await waitFor(() => packets.filter((p) => p.kind === "video").length > 40, 5000, "video from nginx");
    client.close();
    const video = packets.filter((p) => p.kind === "video");
    expect(video[0].sequenceHeader).toBe(true);
    expect(packets.some((p) => p.kind === "audio" && p.sequenceHeader)).toBe(true);
    expect(video.find((p) => !p.sequenceHeader)?.keyframe).toBe(true);
  });

  it("cannot publish to an application nginx does not have: nginx closes the connection at connect", async () => {
    // nginx-rtmp answers a connect to an unknown application by closing the connection (no
    // _error reply), so the client's connect rejects with the closed connection.
    await expect(RtmpClient.connect(`rtmp://127.0.0.1:${nginx.port}/nope`)).rejects.toThrow(
      `connection to 127.0.0.1:${nginx.port} closed`,
    );
    expect(nginx.log()).toContain("application not found: 'nope'");
  });
});
