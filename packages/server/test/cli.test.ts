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
      options: { host: "0.0.0.0", rtmpPort: 1935, flvPort: 7001, hub: { gopCache: 1, batchWindowMs: 100 } },
    });
  });

  it("takes --host and --rtmp-port, and refuses bad values", () => {
    const parsed = parseCliOptions([
      "--host",
      "127.0.0.1",
      "--rtmp-port",
      "19350",
      "--flv-port",
      "0",
      "--flv-dir",
      "/tmp/r",
    ]);
    expect(parsed).toMatchObject({
      options: { host: "127.0.0.1", rtmpPort: 19350, flvPort: 0, flvDir: "/tmp/r" },
    });
    expect(() => parseCliOptions(["--rtmp-port", "99999"])).toThrow(/--rtmp-port/);
    expect(() => parseCliOptions(["--nope"])).toThrow();
    expect(parseCliOptions(["-h"])).toEqual({ help: true });
  });

  it("passes connection limits to both protocol servers and addresses to /streams only when asked", () => {
    const parsed = parseCliOptions([
      "--max-connections",
      "50",
      "--max-connections-per-ip",
      "4",
      "--expose-addresses",
    ]);
    expect(parsed).toMatchObject({
      options: {
        rtmp: { maxConnections: 50, maxConnectionsPerIp: 4 },
        flv: { maxConnections: 50, maxConnectionsPerIp: 4, exposeAddresses: true },
      },
    });
    const defaults = parseCliOptions([]);
    expect(defaults).not.toHaveProperty("options.rtmp");
    expect(defaults).not.toHaveProperty("options.flv");
    expect(() => parseCliOptions(["--max-connections-per-ip", "0"])).toThrow(/--max-connections-per-ip/);
  });
});

describe.skipIf(!hasFfmpeg)("onair CLI with real peers", () => {
  it("serves RTMP and HTTP-FLV: logs one line per publish and play, and ffprobe decodes both", async () => {
    const port = await freePort();
    const flvPort = await freePort();
    const server = run("node", [
      "--conditions=source",
      "--import",
      "tsx",
      `${root}packages/server/src/cli.ts`,
      "--host",
      "127.0.0.1",
      "--rtmp-port",
      String(port),
      "--flv-port",
      String(flvPort),
      // The players end with the publisher rather than wait for it to come back.
      "--republish-grace",
      "0",
    ]);
    try {
      await waitFor(() => server.stdout().includes("listening"), 20_000, "server start");
      const publisher = publishWithFfmpeg(`rtmp://127.0.0.1:${port}/live/cli`, { seconds: 4 });
      await waitFor(() => server.stdout().includes("publish live/cli"), 10_000, "publish log");
      const [probe, httpProbe] = await Promise.all([
        probeFrames(`rtmp://127.0.0.1:${port}/live/cli`),
        probeFrames(`http://127.0.0.1:${flvPort}/live/cli.flv`),
      ]);
      expect(await publisher.exited).toBe(0);
      for (const p of [probe, httpProbe]) {
        expect(p.streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
        expect(p.frames.filter((f) => f.mediaType === "video").length).toBeGreaterThan(60);
      }
      await waitFor(() => server.stdout().includes("unpublish live/cli"), 5000, "unpublish log");
      expect(server.stdout()).toMatch(/play live\/cli/);
      server.kill("SIGTERM");
      expect(await server.exited).toBe(0);
    } finally {
      server.kill();
    }
  });
});
