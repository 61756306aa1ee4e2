/**
 * `/stat/livestat` and `/metrics` end to end through the `onair` CLI as a separate process, with a
 * player of every protocol: ffmpeg publishes with a channel key; ffmpeg plays over RTMP, the test
 * reads HTTP-FLV (fetch) and WebSocket-FLV (ws) and counts the tag bytes it got, an HLS viewer
 * fetches the playlist and a segment. livestat's player byte counters must be within 5% of what
 * those players received; /metrics, parsed by parse-prometheus-text-format, counts the players by
 * protocol, the refused publish, and has the event-loop lag.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  hasFfmpeg,
  publishWithFfmpeg,
  type RunningProcess,
  run,
  waitFor,
} from "../../../test-support/media-tools.js";
import { type CliProcess, startCli } from "./cli-process.js";
import { ParsedMetrics } from "./metrics-parse.js";

/** Resolves when the async `predicate` holds, polling every 50 ms; rejects after `timeoutMs`. */
async function until(predicate: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!(await predicate())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface StatEntry {
  key: string;
  url: string;
  stream_id: string;
  video_total_bytes: number;
  video_speed: number;
  audio_total_bytes: number;
  audio_speed: number;
}

/** Video and audio tag body bytes of FLV bytes as a player got them (a partial last tag left out). */
function countFlvTags(bytes: Buffer): { video: number; audio: number } {
  let video = 0;
  let audio = 0;
  let offset = bytes.length >= 9 ? bytes.readUInt32BE(5) + 4 : bytes.length;
  while (offset + 11 <= bytes.length) {
    const size = bytes.readUIntBE(offset + 1, 3);
    if (offset + 11 + size + 4 > bytes.length) break;
    if ((bytes[offset] & 0x1f) === 9) video += size;
    else if ((bytes[offset] & 0x1f) === 8) audio += size;
    offset += 11 + size + 4;
  }
  return { video, audio };
}

function expectWithin5(got: number, want: number, what: string): void {
  expect(want, what).toBeGreaterThan(0);
  expect(Math.abs(got - want) / want, `${what}: livestat ${got}, player got ${want}`).toBeLessThanOrEqual(
    0.05,
  );
}

describe.runIf(hasFfmpeg)("livestat and /metrics through the onair CLI", () => {
  let cli: CliProcess;
  const processes: RunningProcess[] = [];

  beforeAll(async () => {
    // Players stay for the grace after the publisher leaves: the counters are read then, still.
    cli = await startCli({ config: { hls_variant: "ts", republish_grace: 8000 } });
  });
  afterAll(async () => {
    for (const p of processes) p.kill();
    await cli?.stop();
  });

  const api = async (path: string) => {
    const response = await fetch(cli.url("api", path));
    return { http: response.status, text: await response.text() };
  };

  it("counts every player's bytes within 5% of what it got, and /metrics agrees by protocol", async () => {
    const refused = publishWithFfmpeg(cli.url("rtmp", "live/NoSuchKey"), { seconds: 1 });
    processes.push(refused);
    const key = JSON.parse((await api("/control/get?room=counted")).text).data as string;
    const publisher = publishWithFfmpeg(cli.url("rtmp", `live/${key}`), { seconds: 6 });
    processes.push(publisher);
    await cli.waitForLog("publish live/counted", 10_000);
    expect(await refused.exited).not.toBe(0);

    // HTTP-FLV and WebSocket-FLV players that keep every byte; an RTMP player (ffmpeg).
    const flvBytes: Buffer[] = [];
    const flvDone = (async () => {
      const response = await fetch(cli.url("flv", "live/counted"));
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        flvBytes.push(Buffer.from(chunk.value));
      }
    })().catch(() => {});
    const wsBytes: Buffer[] = [];
    const ws = new WebSocket(cli.url("ws", "live/counted"));
    ws.on("message", (data: Buffer) => wsBytes.push(Buffer.from(data)));
    ws.on("error", () => {});
    const rtmpPlayer = run("ffmpeg", [
      "-v",
      "error",
      "-i",
      cli.url("rtmp", "live/counted"),
      "-c",
      "copy",
      "-f",
      "null",
      "-",
    ]);
    processes.push(rtmpPlayer);
    await waitFor(
      () => (cli.stdout().match(/ play live\/counted by /g) ?? []).length >= 3,
      10_000,
      "three players",
    );

    // An HLS viewer: the playlist and its first segment.
    await cli.waitForLog("segment live/counted", 5000);
    await until(
      async () => (await fetch(cli.url("hls", "live/counted"))).status === 200,
      8000,
      "the HLS playlist",
    );
    const playlist = await (await fetch(cli.url("hls", "live/counted"))).text();
    const segment = playlist.split("\n").find((line) => line !== "" && !line.startsWith("#"));
    expect(segment, playlist).toBeDefined();
    const segmentResponse = await fetch(new URL(segment as string, cli.url("hls", "live/counted")));
    expect(segmentResponse.status).toBe(200);
    expect((await segmentResponse.arrayBuffer()).byteLength).toBeGreaterThan(1000);

    // While live: /metrics by protocol.
    const live = new ParsedMetrics((await api("/metrics")).text);
    expect(live.value("onair_streams")).toBe(1);
    expect(live.value("onair_publishers", { protocol: "rtmp" })).toBe(1);
    for (const protocol of ["rtmp", "http-flv", "ws-flv"]) {
      expect(live.value("onair_players", { protocol }), protocol).toBe(1);
    }
    expect(live.value("onair_refused_total", { protocol: "rtmp", reason: "unauthorized" })).toBe(1);
    expect(live.value("onair_hls_responses_total", { kind: "file" })).toBeGreaterThanOrEqual(1);
    expect(live.type("onair_slow_player_skips_total")).toBe("COUNTER");
    expect(live.type("onair_slow_players_closed_total")).toBe("COUNTER");
    expect(live.type("nodejs_eventloop_lag_seconds")).toBe("GAUGE");
    expect(live.value("nodejs_eventloop_lag_seconds")).toBeGreaterThanOrEqual(0);

    // The publisher ends; the players stay for the grace, with everything delivered.
    expect(await publisher.exited).toBe(0);
    await cli.waitForLog("unpublish live/counted", 5000);
    const total = () => Buffer.concat(flvBytes).length + Buffer.concat(wsBytes).length;
    let last = -1;
    await waitFor(
      () => {
        const now = total();
        const settled = now === last;
        last = now;
        return settled;
      },
      5000,
      "the players to have every byte",
    );

    const stat = JSON.parse((await api("/stat/livestat?room=counted")).text).data as {
      publishers: StatEntry[];
      players: StatEntry[];
    };
    const byPrefix = (prefix: string) => {
      const found = stat.players.filter((p) => p.stream_id.startsWith(prefix));
      expect(found, `${prefix} in ${JSON.stringify(stat.players)}`).toHaveLength(1);
      return found[0] as StatEntry;
    };
    const flv = byPrefix("http-flv-");
    const wsPlayer = byPrefix("ws-flv-");
    const rtmp = byPrefix("rtmp-play-");
    const flvGot = countFlvTags(Buffer.concat(flvBytes));
    const wsGot = countFlvTags(Buffer.concat(wsBytes));
    expectWithin5(flv.video_total_bytes, flvGot.video, "HTTP-FLV video");
    expectWithin5(flv.audio_total_bytes, flvGot.audio, "HTTP-FLV audio");
    expectWithin5(wsPlayer.video_total_bytes, wsGot.video, "WS-FLV video");
    expectWithin5(wsPlayer.audio_total_bytes, wsGot.audio, "WS-FLV audio");
    // The RTMP player got the same stream from the same point: the same counts, within 5%.
    expectWithin5(rtmp.video_total_bytes, flvGot.video, "RTMP video");
    // HLS is listed as its segmenter, as in livego (HLS viewers hold no connection to count).
    const hls = byPrefix("hls-");
    expect(hls.url).toBe("/live/counted.m3u8");
    expectWithin5(hls.video_total_bytes, flvGot.video, "HLS segmenter video");
    for (const player of [flv, wsPlayer, rtmp, hls]) {
      expect(player.key).toBe("live/counted");
      expect(player.video_speed, player.stream_id).toBeGreaterThan(0);
      expect(player.audio_speed, player.stream_id).toBeGreaterThan(0);
    }

    ws.close();
    rtmpPlayer.kill();
    await cli.stop();
    await flvDone;
  }, 28_000);
});
