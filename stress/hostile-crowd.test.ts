/**
 * Issue 8's hostile crowd against the real server process while a real ffmpeg player watches.
 *
 * A 640x360 25 fps ffmpeg publisher streams in real time; an ffmpeg RTMP player decodes it; then,
 * for CROWD_MS, every hostile kind of ./hostile-clients.ts runs at once (random bytes, garbage after
 * a valid handshake, 16 MiB messages trickled at chunk size 2^31-1 and on 60 chunk streams at once,
 * a 50 000-deep AMF connect,
 * 300 idle sockets, slowloris, 64 KiB URLs, garbage HTTP, HTTP-FLV players that never read).
 *
 * Frames kept: the player's decoded-frame count over the crowd window divided by the publisher's
 * encoded-frame count over the same window, both read from ffmpeg's `-progress` output at the same
 * instants (the start of the crowd, and once the player has caught up after it stops: at least
 * SETTLE_MS, at most MAX_SETTLE_MS). Comparing with the publisher
 * instead of fps × seconds keeps the figure honest on a loaded 2-core machine: if the publisher
 * itself runs slow, the player is not blamed; the player's steady lag appears at both ends and
 * cancels, and a lag the crowd added (a starved CPU) is given MAX_SETTLE_MS to drain; frames that
 * never arrive (dropped, skipped, or a player cut off) are never made up, and lower the ratio.
 *
 * Memory: the server's RSS is read from /proc after a warm-up with the publisher and the player
 * running (the baseline), its peak during the crowd from VmHWM (reset at the start of the crowd)
 * and from 100 ms samples, and again SETTLE_MS after the crowd. The server runs without
 * --expose-gc and nothing forces a collection: these are the figures a user would see.
 */
import { afterEach, describe, expect, it } from "vitest";
import { hasFfmpeg, probeFrames, waitFor } from "../test-support/media-tools.js";
import { type CountingFfmpeg, playCounting, publishCounting } from "./ffmpeg-progress.js";
import { mib, recordFigures } from "./figures.js";
import { ISSUE_8_CROWD, type RunningCrowd, startHostileCrowd } from "./hostile-clients.js";
import { MB, type ServerProcess, sampleMemory, startServer } from "./server-process.js";

/**
 * The most the server's RSS may grow under the crowd, over its baseline with one live stream and
 * one player. Issue 8 measured +170 to +191 MB before the byte budgets; its aim is +64 MB. What is
 * left is the crowd's honest cost: ~350 open sockets, one partial message of a few KB per trickle
 * connection, the never-reading players' queues (shared Buffers, bounded by the slow-player policy)
 * and the V8 heap's growth while it parses a 350 KB AMF body a few times a second.
 */
const MAX_RSS_GROWTH_UNDER_CROWD = 64 * MB;
/**
 * The most its private address space (VmData) may grow: RSS misses a buffer allocated on an
 * announced length and never touched, and such reservations are what run a server out of memory.
 * Before the byte budgets the crowd's trickle connections alone reserved 16 MiB per chunk stream
 * (GBs); what is left is the crowd's real cost and the allocators' own growth.
 */
const MAX_DATA_GROWTH_UNDER_CROWD = 128 * MB;
/** Share of the publisher's frames the player must decode while the crowd runs. */
const MIN_FRAMES_KEPT = 0.95;
const CROWD_MS = 20_000;
/** After the crowd stops: time for the player to drain its lag before the second frame reading. */
const SETTLE_MS = 2_000;
/** ... and at most this, on a machine so loaded that the player fell further behind. */
const MAX_SETTLE_MS = 8_000;
const FPS = 25;

if (!hasFfmpeg) throw new Error("the hostile-crowd stress test needs ffmpeg and ffprobe");

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("a hostile crowd against the server process", () => {
  let server: ServerProcess | undefined;
  let crowd: RunningCrowd | undefined;
  const peers: CountingFfmpeg[] = [];

  afterEach(async () => {
    await crowd?.stop();
    for (const peer of peers) {
      peer.process.kill();
      await peer.process.exited;
    }
    peers.length = 0;
    await server?.stop();
    crowd = undefined;
    server = undefined;
  });

  it("keeps the ffmpeg player's frames, stays up and stays within its memory bound", async () => {
    const running = await startServer();
    server = running;
    const url = `rtmp://127.0.0.1:${running.rtmpPort}/live/stress`;
    const publisher = publishCounting(url, { seconds: 120, width: 640, height: 360, fps: FPS });
    peers.push(publisher);
    await waitFor(() => publisher.frames() > FPS, 15_000, "the publisher to start");
    const player = playCounting(url);
    peers.push(player);
    await waitFor(() => player.frames() > 2 * FPS, 15_000, "the player to decode 2 s of frames");
    await sleep(2_000); // warm-up: the GOP cache is full, the player is in step

    const baselineRss = running.rssBytes();
    const baselineFds = running.fdCount();
    const baselineData = running.dataBytes();
    const peakReset = running.resetPeakRss();
    const sampler = sampleMemory(running, 100);
    const published0 = publisher.frames();
    const played0 = player.frames();
    const crowdStart = Date.now();
    crowd = startHostileCrowd({ host: "127.0.0.1", rtmpPort: running.rtmpPort, flvPort: running.flvPort });

    await sleep(CROWD_MS);
    const fdsUnderCrowd = running.alive() ? running.fdCount() : -1;
    const stats = await crowd.stop();
    const crowdMs = Date.now() - crowdStart;
    await sleep(SETTLE_MS);
    const settleDeadline = Date.now() + MAX_SETTLE_MS - SETTLE_MS;
    while (
      player.frames() - played0 < MIN_FRAMES_KEPT * (publisher.frames() - published0) &&
      Date.now() < settleDeadline
    ) {
      await sleep(250);
    }
    const settledMs = Date.now() - crowdStart - crowdMs;

    const alive = running.alive();
    sampler.stop();
    const sampledPeak = sampler.peakRss();
    const peakData = sampler.peakData();
    const peakRss = alive && peakReset ? Math.max(sampledPeak, running.peakRssBytes()) : sampledPeak;
    const afterRss = alive ? running.rssBytes() : 0;
    const published = publisher.frames() - published0;
    const played = player.frames() - played0;
    const framesKept = published > 0 ? played / published : 0;

    // A fresh viewer at the end: the server still accepts and serves a new RTMP player.
    const probe = alive
      ? await probeFrames(url, ["-rw_timeout", "10000000", "-read_intervals", "%+#20"], 20_000)
      : undefined;
    const probedVideo = probe?.streams.find((s) => s.codec_type === "video");

    recordFigures("hostile-crowd", {
      crowdMs,
      rssBaselineMiB: mib(baselineRss),
      rssPeakMiB: mib(peakRss),
      rssAfterMiB: mib(afterRss),
      rssGrowthMiB: mib(peakRss - baselineRss),
      rssBoundMiB: mib(MAX_RSS_GROWTH_UNDER_CROWD),
      dataBaselineMiB: mib(baselineData),
      dataPeakMiB: mib(peakData),
      dataGrowthMiB: mib(peakData - baselineData),
      dataBoundMiB: mib(MAX_DATA_GROWTH_UNDER_CROWD),
      fdsBaseline: baselineFds,
      fdsUnderCrowd,
      fdsAfter: alive ? running.fdCount() : -1,
      framesPublished: published,
      framesPlayed: played,
      settledMs,
      framesExpectedAtFps: Math.round(((crowdMs + settledMs) / 1000) * FPS),
      framesKept: Math.round(framesKept * 1000) / 1000,
      peakFrom: peakReset ? "VmHWM and 100 ms samples" : "100 ms samples",
      crowd: stats,
    });

    expect(alive, `server died: ${running.stderr().slice(-2000)}`).toBe(true);
    // The crowd really ran: every kind connected, and the kinds the server must refuse were refused.
    for (const [kind, count] of Object.entries(ISSUE_8_CROWD)) {
      expect(stats[kind]?.connections, kind).toBeGreaterThanOrEqual(count);
    }
    expect(stats.rtmpRandomBytes.closedByServer).toBeGreaterThan(0);
    expect(stats.httpGarbage.closedByServer).toBeGreaterThan(0);
    expect(published).toBeGreaterThan(((CROWD_MS / 1000) * FPS) / 2);
    expect(framesKept).toBeGreaterThanOrEqual(MIN_FRAMES_KEPT);
    expect(peakRss - baselineRss).toBeLessThan(MAX_RSS_GROWTH_UNDER_CROWD);
    expect(peakData - baselineData).toBeLessThan(MAX_DATA_GROWTH_UNDER_CROWD);
    expect(probe?.exitCode, probe?.stderr).toBe(0);
    expect(probedVideo?.width).toBe(640);
    expect(probedVideo?.height).toBe(360);
  }, 90_000);
});
