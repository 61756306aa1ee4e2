/** The examples in examples/ run as written, against real ffmpeg. */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  freePort,
  hasFfmpeg,
  probeFrames,
  publishWithFfmpeg,
  run,
  waitFor,
} from "../../../test-support/media-tools.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));

describe.skipIf(!hasFfmpeg)("examples/rtmp-server.ts", () => {
  it("refuses a publisher without the token and serves one with it", async () => {
    const port = await freePort();
    const child = run("env", [
      `PORT=${port}`,
      "TOKEN=s3cret",
      "node",
      "--conditions=source",
      "--import",
      "tsx",
      `${root}examples/rtmp-server.ts`,
    ]);
    try {
      await waitFor(() => child.stdout().includes("listening"), 20_000, "example start");
      const refused = publishWithFfmpeg(`rtmp://127.0.0.1:${port}/live/demo?token=wrong`, { seconds: 3 });
      expect(await refused.exited).not.toBe(0);
      expect(refused.stderr()).toMatch(/wrong token|Unauthorized/);

      const publisher = publishWithFfmpeg(`rtmp://127.0.0.1:${port}/live/demo?token=s3cret`, { seconds: 4 });
      await waitFor(() => child.stdout().includes("live: live/demo"), 10_000, "publish");
      const probe = await probeFrames(`rtmp://127.0.0.1:${port}/live/demo`);
      expect(await publisher.exited).toBe(0);
      expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
      expect(probe.frames.filter((f) => f.mediaType === "video").length).toBeGreaterThan(60);
    } finally {
      child.kill("SIGTERM");
      await child.exited;
    }
  });
});

describe.skipIf(!hasFfmpeg)("examples/rtmp-to-http-flv.ts", () => {
  it("takes RTMP in and serves HTTP-FLV that ffprobe decodes", async () => {
    const rtmpPort = await freePort();
    const flvPort = await freePort();
    const child = run("env", [
      `RTMP_PORT=${rtmpPort}`,
      `FLV_PORT=${flvPort}`,
      "node",
      "--conditions=source",
      "--import",
      "tsx",
      `${root}examples/rtmp-to-http-flv.ts`,
    ]);
    try {
      await waitFor(() => child.stdout().includes("ready"), 20_000, "example start");
      const publisher = publishWithFfmpeg(`rtmp://127.0.0.1:${rtmpPort}/live/demo`, { seconds: 4 });
      await waitFor(
        () => child.stdout().includes(`http://127.0.0.1:${flvPort}/live/demo.flv`),
        10_000,
        "publish",
      );
      const probe = await probeFrames(`http://127.0.0.1:${flvPort}/live/demo.flv`);
      expect(await publisher.exited).toBe(0);
      expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
      expect(probe.frames.filter((f) => f.mediaType === "video").length).toBeGreaterThan(60);
    } finally {
      child.kill("SIGTERM");
      await child.exited;
    }
  });
});
