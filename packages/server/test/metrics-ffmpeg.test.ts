/**
 * /metrics with real peers: ffmpeg publishes over RTMP, an ffmpeg RTMP player and an HTTP-FLV
 * reader play; the scrape, served over HTTP and parsed by an independent parser, shows one
 * stream, a player per protocol, and byte counters that match the hub's and what the player got.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { StreamHub } from "@onair/core";
import { createHttpFlvServer, type HttpFlvServer } from "@onair/flv";
import { createRtmpServer, type RtmpServer } from "@onair/rtmp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hasFfmpeg,
  publishWithFfmpeg,
  type RunningProcess,
  run,
  waitFor,
} from "../../../test-support/media-tools.js";
import { createMetrics, type Metrics } from "../src/metrics.js";
import { ParsedMetrics } from "./metrics-parse.js";

/** Video + audio tag body bytes in an FLV byte stream (header skipped, a partial last tag left out). */
function flvPayloadBytes(bytes: Buffer): number {
  let total = 0;
  let offset = bytes.length >= 9 ? bytes.readUInt32BE(5) + 4 : bytes.length;
  while (offset + 11 <= bytes.length) {
    const size = bytes.readUIntBE(offset + 1, 3);
    if (offset + 11 + size + 4 > bytes.length) break;
    total += size;
    offset += 11 + size + 4;
  }
  return total;
}

describe.runIf(hasFfmpeg)("metrics with ffmpeg", () => {
  const hub = new StreamHub({ republishGraceMs: 0 });
  let rtmp: RtmpServer;
  let flv: HttpFlvServer;
  let metrics: Metrics;
  let http: Server;
  let metricsUrl: string;
  let rtmpBase: string;
  let flvBase: string;
  const processes: RunningProcess[] = [];

  beforeAll(async () => {
    rtmp = createRtmpServer({ handler: hub });
    flv = createHttpFlvServer({ handler: hub });
    rtmpBase = `rtmp://127.0.0.1:${(await rtmp.listen(0, "127.0.0.1")).port}`;
    flvBase = `http://127.0.0.1:${(await flv.listen(0, "127.0.0.1")).port}`;
    metrics = createMetrics({ hub, rtmp, flv });
    // What the control API does at GET /metrics.
    http = createServer((_req, res) => {
      void metrics.scrape().then(({ contentType, body }) => {
        res.writeHead(200, { "content-type": contentType });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    metricsUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/metrics`;
  });
  afterAll(async () => {
    for (const p of processes) p.kill();
    hub.close();
    metrics?.close();
    http?.closeAllConnections();
    await Promise.all([
      rtmp?.close(),
      flv?.close(),
      new Promise((resolve) => (http === undefined ? resolve(undefined) : http.close(resolve))),
    ]);
  });

  const scrape = async (): Promise<ParsedMetrics> => {
    const response = await fetch(metricsUrl);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    return new ParsedMetrics(await response.text());
  };

  it("shows one stream, a player per protocol and the bytes that went in and out", async () => {
    const before = await scrape();
    expect(before.value("onair_streams")).toBe(0);
    expect(before.value("onair_received_bytes_total")).toBe(0);

    const ffmpeg = publishWithFfmpeg(`${rtmpBase}/live/m`, { seconds: 8 });
    processes.push(ffmpeg);
    await waitFor(() => hub.isLive("live/m"), 8000, "live/m to go live");
    const player = run("ffmpeg", [
      "-hide_banner",
      "-loglevel",
      "error",
      "-i",
      `${rtmpBase}/live/m`,
      "-c",
      "copy",
      "-f",
      "null",
      "-",
    ]);
    processes.push(player);
    const received: Buffer[] = [];
    const abort = new AbortController();
    const reading = fetch(`${flvBase}/live/m.flv`, { signal: abort.signal }).then(async (response) => {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>)
        received.push(Buffer.from(chunk));
    });
    reading.catch(() => {});
    await waitFor(() => (hub.get("live/m")?.writerCount ?? 0) === 2, 8000, "two players");
    await new Promise((resolve) => setTimeout(resolve, 2000));

    // Freeze the publisher so the hub, the scrape and the player see the same bytes.
    ffmpeg.child.kill("SIGSTOP");
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const m = await scrape();
      const counters = hub.counters();
      const stats = hub.get("live/m")?.stats();
      expect(m.value("onair_streams")).toBe(1);
      expect(m.series("onair_publishers")).toEqual({ "protocol=rtmp": 1 });
      expect(m.series("onair_players")).toEqual({
        "protocol=rtmp": 1,
        "protocol=http-flv": 1,
        "protocol=ws-flv": 0,
      });
      expect(m.series("onair_connections")).toEqual({ "protocol=rtmp": 2, "protocol=http-flv": 1 });
      const bytesIn = m.value("onair_received_bytes_total") ?? 0;
      expect(bytesIn).toBeGreaterThan(50_000);
      expect(bytesIn).toBe(counters.bytesIn);
      expect(bytesIn).toBe(stats?.bytes);
      expect(m.value("onair_sent_bytes_total")).toBe(counters.bytesOut);
      // What the HTTP-FLV reader got, tag body by tag body, is what the hub counted for it
      // (once the last batch has crossed the socket).
      const flvPlayer = stats?.playerStats.find((p) => p.info.id.startsWith("http-flv-"));
      const counted =
        (flvPlayer?.videoBytes ?? 0) + (flvPlayer?.audioBytes ?? 0) + (flvPlayer?.dataBytes ?? 0);
      expect(counted).toBeGreaterThan(20_000);
      await waitFor(() => flvPayloadBytes(Buffer.concat(received)) >= counted, 3000, "the player's bytes");
      expect(flvPayloadBytes(Buffer.concat(received))).toBe(counted);
      // Every player got about what came in after it joined (the join burst included).
      expect(counters.bytesOut).toBeGreaterThan(bytesIn);
      expect(counters.bytesOut).toBeLessThanOrEqual(2 * bytesIn);
      expect(m.value("nodejs_eventloop_lag_seconds")).toBeGreaterThanOrEqual(0);
    } finally {
      ffmpeg.child.kill("SIGCONT");
    }
    abort.abort();
    player.kill();
    await waitFor(() => (hub.get("live/m")?.writerCount ?? 0) === 0, 5000, "players gone");
    const after = await scrape();
    expect(after.series("onair_players")).toEqual({
      "protocol=rtmp": 0,
      "protocol=http-flv": 0,
      "protocol=ws-flv": 0,
    });
    expect(after.value("onair_sent_bytes_total")).toBeGreaterThanOrEqual(hub.counters().bytesOut - 1);
    ffmpeg.kill();
  }, 20_000);
});
