/**
 * SIGTERM to the `onair` CLI with the defaults (channel keys, low-latency HLS) while players of the
 * protocols shutdown.test.ts leaves out are connected: a WebSocket-FLV player and an LL-HLS player
 * whose blocking playlist reload is held. The process exits 0 in < 2 s; neither player is left
 * hanging.
 */
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  hasFfmpeg,
  publishWithFfmpeg,
  type RunningProcess,
  waitFor,
} from "../../../test-support/media-tools.js";
import { startCli } from "./cli-process.js";
import { ParsedMetrics } from "./metrics-parse.js";

/** Resolves when the async `predicate` holds, polling every 50 ms; rejects after `timeoutMs`. */
async function until(predicate: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!(await predicate())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.runIf(hasFfmpeg)("SIGTERM with WS-FLV and LL-HLS players", () => {
  it("exits 0 in < 2 s, closing the WebSocket and ending the held playlist request", async () => {
    const cli = await startCli({ config: {} });
    let ffmpeg: RunningProcess | undefined;
    try {
      const key = ((await (await fetch(cli.url("api", "/control/get?room=bye"))).json()) as { data: string })
        .data;
      // 3 s GOPs: 3 s segments, so a reload blocking for two segments ahead is held for seconds.
      ffmpeg = publishWithFfmpeg(cli.url("rtmp", `live/${key}`), { seconds: 30, gop: 75 });
      await cli.waitForLog("publish live/bye", 10_000);

      let wsBytes = 0;
      let wsClose: number | undefined;
      const ws = new WebSocket(cli.url("ws", "live/bye"));
      ws.on("message", (data: Buffer) => (wsBytes += data.length));
      ws.on("close", (code) => (wsClose = code));
      ws.on("error", () => {});
      await waitFor(() => wsBytes > 10_000, 10_000, "WS-FLV bytes");

      // The LL-HLS playlist, then a blocking reload for the segment after next.
      let playlist = "";
      await until(
        async () => {
          const response = await fetch(cli.url("hls", "live/bye"));
          playlist = await response.text();
          return response.status === 200 && playlist.includes("#EXTINF");
        },
        10_000,
        "a first LL-HLS segment",
      );
      expect(playlist).toContain("CAN-BLOCK-RELOAD=YES");
      const first = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist)?.[1]);
      const segments = playlist.split("\n").filter((line) => line.startsWith("#EXTINF")).length;
      const msn = first + segments + 1;
      const held = fetch(`${cli.url("hls", "live/bye")}?_HLS_msn=${msn}&_HLS_part=0`).then(
        async (response) => {
          const text = await response.text();
          return `answered ${response.status}${text.includes("#EXT-X-ENDLIST") ? " with ENDLIST" : ""}`;
        },
        (error: Error) => `failed: ${error.message}`,
      );
      await until(
        async () => {
          const text = await (await fetch(cli.url("api", "/metrics"))).text();
          return (new ParsedMetrics(text).value("onair_hls_held_requests") ?? 0) >= 1;
        },
        5000,
        "the blocking reload to be held",
      );

      const { code, ms } = await cli.stop("SIGTERM");
      expect(code).toBe(0);
      expect(ms).toBeLessThan(2000);
      await waitFor(() => wsClose !== undefined, 2000, "the WebSocket to close");
      // The held request ended with the server: an answer, or a closed connection, but not a hang.
      const outcome = await Promise.race([
        held,
        new Promise<string>((resolve) => setTimeout(() => resolve("still held"), 2000)),
      ]);
      // The README's promise: HLS playlists end (the held reload is answered with the final one).
      expect(outcome).toBe("answered 200 with ENDLIST");
      expect(cli.stdout()).toMatch(/ stopped\n/);
    } finally {
      ffmpeg?.kill();
      await cli.stop("SIGKILL");
    }
  }, 25_000);
});
