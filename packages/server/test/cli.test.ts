/** The ready server as a user runs it: the CLI, with ffmpeg publishing and ffprobe playing. */
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
import { parseCliOptions } from "../src/index.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));

describe("CLI options", () => {
  it("defaults to RTMP on 0.0.0.0:1935", () => {
    expect(parseCliOptions([])).toEqual({
      help: false,
      options: { host: "0.0.0.0", rtmpPort: 1935, hub: { gopCache: 1, batchWindowMs: 0 } },
    });
  });

  it("takes --host and --rtmp-port, and refuses bad values", () => {
    const parsed = parseCliOptions(["--host", "127.0.0.1", "--rtmp-port", "19350"]);
    expect(parsed).toMatchObject({ options: { host: "127.0.0.1", rtmpPort: 19350 } });
    expect(() => parseCliOptions(["--rtmp-port", "99999"])).toThrow(/--rtmp-port/);
    expect(() => parseCliOptions(["--nope"])).toThrow();
    expect(parseCliOptions(["-h"])).toEqual({ help: true });
  });
});

describe.skipIf(!hasFfmpeg)("onair CLI with real peers", () => {
  it("serves RTMP: logs one line per publish and play, and ffprobe decodes the stream", async () => {
    const port = await freePort();
    const server = run("node", [
      "--conditions=source",
      "--import",
      "tsx",
      `${root}packages/server/src/cli.ts`,
      "--host",
      "127.0.0.1",
      "--rtmp-port",
      String(port),
    ]);
    try {
      await waitFor(() => server.stdout().includes("listening"), 20_000, "server start");
      const publisher = publishWithFfmpeg(`rtmp://127.0.0.1:${port}/live/cli`, { seconds: 4 });
      await waitFor(() => server.stdout().includes("publish live/cli"), 10_000, "publish log");
      const probe = await probeFrames(`rtmp://127.0.0.1:${port}/live/cli`);
      expect(await publisher.exited).toBe(0);
      expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
      expect(probe.frames.filter((f) => f.mediaType === "video").length).toBeGreaterThan(60);
      await waitFor(() => server.stdout().includes("unpublish live/cli"), 5000, "unpublish log");
      expect(server.stdout()).toMatch(/play live\/cli/);
      server.kill("SIGTERM");
      expect(await server.exited).toBe(0);
    } finally {
      server.kill();
    }
  });
});
