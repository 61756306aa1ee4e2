/**
 * livego's static_push from the config file: a stream published to the first onair process is
 * pushed to a second one while it is live, and ffprobe plays it there.
 */
import { describe, expect, it } from "vitest";
import { hasFfmpeg, probeFrames, publishWithFfmpeg, waitFor } from "../../../test-support/media-tools.js";
import { startCli } from "./cli-process.js";

describe.skipIf(!hasFfmpeg)("static_push from the config", () => {
  it("pushes every stream of the app to the URL while it is live", async () => {
    const media = { rtmp_noauth: true, enable_hls: false, enable_api: false, republish_grace: 0 };
    const target = await startCli({ config: media });
    const origin = await startCli({
      config: {
        ...media,
        server: [
          { appname: "live", static_push: [`rtmp://127.0.0.1:${target.ports.rtmp}/edge`] },
          { appname: "other" },
        ],
      },
    });
    try {
      const publisher = publishWithFfmpeg(origin.url("rtmp", "live/pushed"), { seconds: 5 });
      await target.waitForLog("publish edge/pushed", 10_000);
      const probe = await probeFrames(target.url("flv", "edge/pushed"));
      expect(await publisher.exited).toBe(0);
      expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
      expect(probe.frames.filter((f) => f.mediaType === "video").length).toBeGreaterThan(50);
      // The push ends with the stream, and the other app is not pushed.
      await target.waitForLog("unpublish edge/pushed", 10_000);
      const other = publishWithFfmpeg(origin.url("rtmp", "other/kept"), { seconds: 1 });
      expect(await other.exited).toBe(0);
      await waitFor(() => origin.stdout().includes("unpublish other/kept"), 5000, "the other app's stream");
      expect(target.stdout()).not.toContain("kept");
    } finally {
      await Promise.all([origin.stop(), target.stop()]);
    }
  });
});
