/**
 * A player that stops reading, through the `onair` CLI as a separate process: ffmpeg publishes a
 * file as fast as it can (no -re, looped), an HTTP-FLV player stops reading. The hub skips it to
 * keyframes and then closes it (past its byte bound, or after `write_timeout`, 1 s here, of
 * skipping); /metrics (parsed by parse-prometheus-text-format) counts both, the log shows the
 * stop, the server closes its socket, and a player that reads still plays.
 */
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  hasFfmpeg,
  makeFlvFile,
  probeFrames,
  type RunningProcess,
  run,
  tempDir,
  waitFor,
} from "../../../test-support/media-tools.js";
import { type CliProcess, startCli } from "./cli-process.js";
import { ParsedMetrics } from "./metrics-parse.js";

/** Resolves when the async `predicate` holds, polling every 100 ms; rejects after `timeoutMs`. */
async function until(predicate: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!(await predicate())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.runIf(hasFfmpeg)("a slow player through the onair CLI", () => {
  const dir = tempDir("onair-slow-");
  const processes: RunningProcess[] = [];
  const sockets: Socket[] = [];
  let cli: CliProcess | undefined;
  afterAll(async () => {
    for (const p of processes) p.kill();
    for (const socket of sockets) socket.destroy();
    await cli?.stop();
    dir.remove();
  });

  it("is skipped to keyframes, then closed; /metrics counts both", async () => {
    const file = join(dir.path, "in.flv");
    await makeFlvFile(file, { seconds: 4, width: 640, height: 360 });
    cli = await startCli({ config: { rtmp_noauth: true, enable_hls: false, write_timeout: 1 } });
    const scrape = async () =>
      new ParsedMetrics(await (await fetch((cli as CliProcess).url("api", "/metrics"))).text());

    // As fast as ffmpeg can send, over and over.
    const publisher = run("ffmpeg", [
      "-v",
      "error",
      "-stream_loop",
      "-1",
      "-i",
      file,
      "-c",
      "copy",
      "-f",
      "flv",
      cli.url("rtmp", "live/flood"),
    ]);
    processes.push(publisher);
    await cli.waitForLog("publish live/flood", 10_000);

    // A player that asks and never reads.
    const stalled = connect(cli.ports.flv, "127.0.0.1");
    stalled.on("error", () => {});
    sockets.push(stalled);
    stalled.write("GET /live/flood.flv HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stalled.pause();
    await cli.waitForLog(/play live\/flood by \S+ \(http-flv-\d+\)/);
    const id = /play live\/flood by \S+ \((http-flv-\d+)\)/.exec(cli.stdout())?.[1] as string;

    await until(
      async () => ((await scrape()).value("onair_slow_player_skips_total") ?? 0) >= 1,
      10_000,
      "a slow-player skip",
    );
    await until(
      async () => ((await scrape()).value("onair_slow_players_closed_total") ?? 0) >= 1,
      10_000,
      "the slow player to be closed",
    );
    await cli.waitForLog(`stop live/flood (${id})`, 5000);
    const m = await scrape();
    expect(m.value("onair_players", { protocol: "http-flv" })).toBe(0);
    expect(m.value("onair_streams")).toBe(1);

    // The stream goes on for players that read.
    const probe = await probeFrames(cli.url("flv", "live/flood"), ["-read_intervals", "%+1"], 15_000);
    expect(probe.streams.map((s) => s.codec_name).sort(), probe.stderr).toEqual(["aac", "h264"]);
    expect(probe.frames.filter((f) => f.mediaType === "video").length).toBeGreaterThan(10);

    // The stalled socket was closed by the server: reading now, it sees the end.
    let ended = false;
    stalled.on("close", () => (ended = true));
    stalled.resume();
    await waitFor(() => ended, 10_000, "the stalled socket to close");
  }, 28_000);
});
