/**
 * SIGTERM with a publisher, players and stragglers connected: the CLI tells the players, finishes
 * the recording and exits 0 in under 2 s, whatever the peers do.
 */
import { readdirSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { RtmpClient, type StatusInfo } from "@onair/rtmp";
import { describe, expect, it } from "vitest";
import {
  hasFfmpeg,
  probeFrames,
  publishWithFfmpeg,
  run,
  tempDir,
  waitFor,
} from "../../../test-support/media-tools.js";
import { startCli } from "./cli-process.js";

describe.skipIf(!hasFfmpeg)("SIGTERM", () => {
  it("with players connected: they are told, the recording is finished, exit 0 in < 2 s", async () => {
    const dir = tempDir("onair-shutdown-");
    const cli = await startCli({ config: { rtmp_noauth: true, flv_dir: dir.path, enable_hls: false } });
    const sockets: Socket[] = [];
    try {
      const publisher = publishWithFfmpeg(cli.url("rtmp", "live/bye"), { seconds: 60 });
      await cli.waitForLog("record live/bye");

      // A real player: ffmpeg over RTMP, copying to nowhere.
      const ffmpegPlayer = run("ffmpeg", [
        "-v",
        "error",
        "-i",
        cli.url("rtmp", "live/bye"),
        "-c",
        "copy",
        "-f",
        "null",
        "-",
      ]);
      // Our RTMP client, to see the onStatus messages.
      const client = await RtmpClient.connect(cli.url("rtmp", "live"));
      const statuses: string[] = [];
      client.on("status", (info: StatusInfo) => statuses.push(String(info.code)));
      const reader = await client.play("bye");
      let rtmpEnded = false;
      reader.attach({ packet: () => {}, end: () => (rtmpEnded = true) });
      let clientClosed = false;
      client.on("close", () => (clientClosed = true));
      // An HTTP-FLV player that reads.
      const response = await fetch(cli.url("flv", "live/bye"));
      const body = response.body?.getReader();
      let flvBytes = 0;
      const flvDone = (async () => {
        try {
          for (;;) {
            const chunk = await body?.read();
            if (chunk === undefined || chunk.done) return "ended";
            flvBytes += chunk.value.length;
          }
        } catch {
          return "reset";
        }
      })();
      // Stragglers: an HTTP-FLV player that never reads, and a TCP connection to RTMP that never handshakes.
      const stalled = connect(cli.ports.flv, "127.0.0.1");
      stalled.write(`GET /live/bye.flv HTTP/1.1\r\nHost: x\r\n\r\n`);
      stalled.pause();
      const silent = connect(cli.ports.rtmp, "127.0.0.1");
      for (const socket of [stalled, silent]) {
        socket.on("error", () => {});
        sockets.push(socket);
      }
      await waitFor(
        () => (cli.stdout().match(/ play live\/bye by /g) ?? []).length >= 3,
        10_000,
        "three players",
      );
      await waitFor(() => flvBytes > 50_000, 10_000, "HTTP-FLV bytes");

      const { code, ms } = await cli.stop("SIGTERM");
      expect(code).toBe(0);
      expect(ms).toBeLessThan(2000);
      expect(cli.stdout()).toContain("shutting down");
      expect(cli.stdout()).toMatch(/ stopped\n/);

      // The players were told the stream ended, and every connection is gone.
      await waitFor(() => rtmpEnded && clientClosed, 3000, "the RTMP player to end");
      expect(statuses).toContain("NetStream.Play.UnpublishNotify");
      expect(await flvDone).toBe("ended");
      expect(await ffmpegPlayer.exited).toBeDefined();
      await publisher.exited;
      // (It reads now, to see the close that came while it was not reading.)
      let stalledClosed = false;
      stalled.on("close", () => (stalledClosed = true));
      stalled.resume();
      await waitFor(() => stalledClosed, 3000, "the stalled player's socket to close");
      await waitFor(() => silent.destroyed || silent.readableEnded, 3000, "the silent RTMP socket to close");

      // The recording is a whole FLV file: ffprobe reads it to its end.
      const [file] = readdirSync(join(dir.path, "live"));
      expect(file).toMatch(/^bye-.*\.flv$/);
      const probe = await probeFrames(join(dir.path, "live", file as string));
      expect(probe.stderr).toBe("");
      expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
      expect(probe.frames.filter((f) => f.mediaType === "video").length).toBeGreaterThan(20);
      expect(cli.stdout()).toMatch(/recorded live\/bye to .*bye-.*\.flv/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await cli.stop("SIGKILL");
      dir.remove();
    }
  });

  it("before anything connected: exit 0 at once", async () => {
    const cli = await startCli({ config: { rtmp_noauth: true } });
    const { code, ms } = await cli.stop("SIGINT");
    expect(code).toBe(0);
    expect(ms).toBeLessThan(1000);
  });
});
