/** An HTTP-FLV pull from another onair: ffmpeg publishes there, ffprobe plays here what came through. */
import { StreamHub } from "@onair/core";
import { createHttpFlvServer, type HttpFlvServer } from "@onair/flv";
import { createRtmpServer, type RtmpServer } from "@onair/rtmp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hasFfmpeg,
  probeFrames,
  publishWithFfmpeg,
  type RunningProcess,
  waitFor,
} from "../../../test-support/media-tools.js";
import { RelayPull } from "../src/index.js";

describe.skipIf(!hasFfmpeg)("RelayPull over HTTP-FLV", () => {
  const hubs: StreamHub[] = [];
  const servers: (RtmpServer | HttpFlvServer)[] = [];
  let ffmpeg: RunningProcess | undefined;

  async function onair(): Promise<{ hub: StreamHub; rtmp: number; flv: number }> {
    const hub = new StreamHub({ batchWindowMs: 0 });
    const rtmp = createRtmpServer({ handler: hub, host: "127.0.0.1", port: 0 });
    const flv = createHttpFlvServer({ handler: hub, host: "127.0.0.1", port: 0 });
    hubs.push(hub);
    servers.push(rtmp, flv);
    return { hub, rtmp: (await rtmp.listen()).port, flv: (await flv.listen()).port };
  }

  let origin: Awaited<ReturnType<typeof onair>>;
  let edge: Awaited<ReturnType<typeof onair>>;

  beforeAll(async () => {
    origin = await onair();
    edge = await onair();
  });

  afterAll(async () => {
    ffmpeg?.kill();
    for (const hub of hubs) hub.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  it("pulls http://origin/live/e.flv into the edge hub, and ffprobe decodes it from the edge over RTMP", async () => {
    ffmpeg = publishWithFfmpeg(`rtmp://127.0.0.1:${origin.rtmp}/live/e`, { seconds: 6 });
    await waitFor(() => origin.hub.isLive("live/e"), 8000, "ffmpeg live on the origin");
    const pull = new RelayPull(edge.hub, {
      app: "here",
      name: "e",
      url: `http://127.0.0.1:${origin.flv}/live/e.flv`,
      reconnect: { initialDelayMs: 200 },
    });
    const events: string[] = [];
    for (const event of ["connecting", "connected", "live"] as const)
      pull.on(event, () => events.push(event));
    pull.start();
    try {
      await waitFor(() => pull.state === "live", 8000, "pull live");
      expect(events).toEqual(["connecting", "connected", "live"]);
      const probe = await probeFrames(
        `rtmp://127.0.0.1:${edge.rtmp}/here/e`,
        ["-read_intervals", "%+2"],
        20_000,
      );
      expect(
        probe.streams.find((s) => s.codec_type === "video"),
        probe.stderr,
      ).toMatchObject({
        codec_name: "h264",
        width: 320,
        height: 240,
      });
      expect(probe.streams.find((s) => s.codec_type === "audio")).toMatchObject({ codec_name: "aac" });
      const video = probe.frames.filter((f) => f.mediaType === "video");
      expect(video.length).toBeGreaterThanOrEqual(25);
      expect(video[0].keyFrame).toBe(true);
      expect(probe.frames.filter((f) => f.mediaType === "audio").length).toBeGreaterThanOrEqual(25);
      // The origin sees the relay as an HTTP-FLV player.
      expect(origin.hub.get("live/e")?.writerCount).toBeGreaterThanOrEqual(1);
    } finally {
      pull.stop();
    }
    expect(edge.hub.isLive("here/e")).toBe(false);
  });
});
