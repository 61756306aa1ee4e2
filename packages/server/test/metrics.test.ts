/**
 * /metrics from an in-process hub with known packets and players, parsed by an independent
 * Prometheus text-format parser: each value is what happened. Real ffmpeg: metrics-ffmpeg.test.ts.
 */
import {
  BatchingWriter,
  createMediaPacket,
  type MediaPacket,
  StreamHub,
  type StreamInfo,
  StreamSource,
} from "@onair/core";
import { register as globalRegistry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createMetrics } from "../src/metrics.js";
import { streamProtocol } from "../src/metrics-protocol.js";
import { ParsedMetrics } from "./metrics-parse.js";

const info = (id: string, url = "test://x"): StreamInfo => ({
  key: "live/a",
  app: "live",
  name: "a",
  url,
  id,
});

/** A writer that takes every write at once and queues payloads as they are. */
class PayloadWriter extends BatchingWriter {
  constructor(id: string, url?: string) {
    super(info(id, url), { write: () => true, writableLength: 0 }, { encode: (p: MediaPacket) => p.payload });
  }
  start(): void {}
  protected end(): void {}
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("metrics", () => {
  it("gives streams, players by protocol, bytes and refusals as they are, in Prometheus text", async () => {
    const hub = new StreamHub({ batchWindowMs: 0, republishGraceMs: 0 });
    const rtmpStats = {
      connections: 3,
      partialMessageBytes: 0,
      accepted: 9,
      refused: { maxConnections: 0, handshakeTimeout: 2, unauthorized: 1 },
    };
    const metrics = createMetrics({
      hub,
      rtmp: { stats: () => rtmpStats },
      flv: { stats: () => ({ connections: 2, players: 2, refused: { perIp: 4, unauthorized: 0 } }) },
      hls: {
        stats: () => ({
          connections: 1,
          held: 2,
          heldStreams: 1,
          served: { playlists: 7, files: 5 },
          refused: { notFound: 1, nested: { x: 1 } },
        }),
      },
      webhooks: {
        stats: () => ({
          publish: { ok: 2, rejected: 1, timedOut: 0, failed: 0, dropped: 0 },
          inFlight: 1,
        }),
      },
    });
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);

    const reader = new StreamSource(info("rtmp-pub-1", "rtmp://127.0.0.1/live/a"));
    hub.handleReader(reader);
    reader.push(createMediaPacket("video", 0, Buffer.alloc(40), { sequenceHeader: true }));
    reader.push(createMediaPacket("video", 0, Buffer.alloc(1000), { keyframe: true }));
    const writers = [
      new PayloadWriter("rtmp-play-2", "rtmp://127.0.0.1/live/a"),
      new PayloadWriter("rtmp-play-3", "rtmps://127.0.0.1/live/a"),
      new PayloadWriter("http-flv-4"),
      new PayloadWriter("ws-flv-5"),
      new PayloadWriter("flv-record-6"),
      new PayloadWriter("hls-7"),
    ];
    for (const w of writers) hub.handleWriter(w); // 1040 bytes each (header + keyframe)
    reader.push(createMediaPacket("audio", 10, Buffer.alloc(100)));
    await settle();
    // A second publisher on a live key is refused by the hub.
    hub.handleReader(new StreamSource(info("rtmp-pub-8")));

    let m = new ParsedMetrics(await metrics.render());
    expect(m.value("onair_streams")).toBe(1);
    expect(m.type("onair_streams")).toBe("GAUGE");
    expect(m.series("onair_publishers")).toEqual({ "protocol=rtmp": 1 });
    expect(m.series("onair_players")).toEqual({
      "protocol=rtmp": 1,
      "protocol=rtmps": 1,
      "protocol=http-flv": 1,
      "protocol=ws-flv": 1,
    });
    expect(m.value("onair_recordings")).toBe(1);
    expect(m.value("onair_received_bytes_total")).toBe(1140);
    expect(m.value("onair_received_packets_total")).toBe(3);
    expect(m.type("onair_received_bytes_total")).toBe("COUNTER");
    expect(m.value("onair_sent_bytes_total")).toBe(6 * 1140);
    expect(m.value("onair_sent_packets_total")).toBe(6 * 3);
    expect(m.value("onair_gop_cache_bytes")).toBe(1100);
    expect(m.series("onair_stream_refused_total")).toEqual({ "reason=ERR_STREAM_BUSY": 1 });
    expect(m.series("onair_connections")).toEqual({
      "protocol=rtmp": 3,
      "protocol=http-flv": 2,
      "protocol=hls": 1,
    });
    expect(m.series("onair_refused_total")).toEqual({
      "protocol=rtmp,reason=maxConnections": 0,
      "protocol=rtmp,reason=handshakeTimeout": 2,
      "protocol=rtmp,reason=unauthorized": 1,
      "protocol=http-flv,reason=perIp": 4,
      "protocol=http-flv,reason=unauthorized": 0,
      "protocol=hls,reason=notFound": 1,
    });
    expect(m.series("onair_hls_responses_total")).toEqual({ "kind=playlist": 7, "kind=file": 5 });
    expect(m.value("onair_hls_held_requests")).toBe(2);
    expect(m.value("onair_webhook_requests_total", { hook: "publish", outcome: "ok" })).toBe(2);
    expect(m.value("onair_webhook_requests_total", { hook: "publish", outcome: "rejected" })).toBe(1);
    expect(m.value("onair_webhook_requests_in_flight")).toBe(1);
    expect(m.value("onair_slow_player_skips_total")).toBe(0);
    expect(m.value("onair_slow_players_closed_total")).toBe(0);
    expect(m.value("onair_republishes_total")).toBe(0);
    expect(m.value("onair_idle_publishers_closed_total")).toBe(0);
    // prom-client's default metrics: event-loop lag and process memory.
    expect(m.type("nodejs_eventloop_lag_seconds")).toBe("GAUGE");
    expect(m.value("process_resident_memory_bytes")).toBeGreaterThan(10_000_000);
    expect(m.value("nodejs_heap_size_used_bytes")).toBeGreaterThan(1_000_000);

    // Totals never go down: players leave, the stream ends and is forgotten.
    for (const w of writers) w.close();
    reader.end();
    expect(hub.streams()).toHaveLength(0);
    rtmpStats.refused.handshakeTimeout = 3;
    m = new ParsedMetrics(await metrics.render());
    expect(m.value("onair_streams")).toBe(0);
    expect(m.series("onair_players")).toEqual({
      "protocol=rtmp": 0,
      "protocol=http-flv": 0,
      "protocol=ws-flv": 0,
    });
    expect(m.value("onair_received_bytes_total")).toBe(1140);
    expect(m.value("onair_sent_bytes_total")).toBe(6 * 1140);
    expect(m.value("onair_refused_total", { protocol: "rtmp", reason: "handshakeTimeout" })).toBe(3);

    // Our own registry: nothing lands in prom-client's global one.
    expect(await globalRegistry.metrics()).not.toContain("onair_");
    metrics.close();
    expect(await metrics.render()).toBe("\n");
    hub.close();
  });

  it("can leave out the default metrics and label every series", async () => {
    const hub = new StreamHub();
    const metrics = createMetrics({ hub, defaultMetrics: false, labels: { instance_name: "edge-1" } });
    const { contentType, body } = await metrics.scrape();
    expect(contentType).toBe(metrics.contentType);
    const m = new ParsedMetrics(body);
    expect(m.families.has("nodejs_eventloop_lag_seconds")).toBe(false);
    expect(m.value("onair_streams", { instance_name: "edge-1" })).toBe(0);
    metrics.close();
    hub.close();
  });

  it("shows Node's metrics in every instance, collected once, with each one's labels", async () => {
    const hub = new StreamHub();
    const a = createMetrics({ hub, labels: { instance_name: "a" } });
    const b = createMetrics({ hub, labels: { instance_name: "b" } });
    const [ma, mb] = [new ParsedMetrics(await a.render()), new ParsedMetrics(await b.render())];
    expect(ma.value("process_resident_memory_bytes", { instance_name: "a" })).toBeGreaterThan(0);
    expect(mb.value("process_resident_memory_bytes", { instance_name: "b" })).toBeGreaterThan(0);
    expect(mb.value("onair_streams", { instance_name: "b" })).toBe(0);
    a.close();
    // Closing one leaves the other whole.
    expect(new ParsedMetrics(await b.render()).type("nodejs_eventloop_lag_seconds")).toBe("GAUGE");
    b.close();
    hub.close();
  });

  it("names the protocol of a reader or writer from a fixed set", () => {
    expect(streamProtocol(info("rtmp-pub-1", "rtmp://h/live/a"))).toBe("rtmp");
    expect(streamProtocol(info("rtmp-play-1", "rtmps://h/live/a"))).toBe("rtmps");
    expect(streamProtocol(info("http-flv-1"))).toBe("http-flv");
    expect(streamProtocol(info("ws-flv-1"))).toBe("ws-flv");
    expect(streamProtocol(info("flv-record-1"))).toBe("record");
    expect(streamProtocol(info("relay-pull-1"))).toBe("relay");
    expect(streamProtocol(info("hls-1"))).toBe("hls");
    expect(streamProtocol(info("anything-else", "evil://x"))).toBe("other");
  });
});
