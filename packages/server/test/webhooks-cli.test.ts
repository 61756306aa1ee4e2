/**
 * Webhooks and /metrics end to end through the onair CLI as a separate process, configured from
 * YAML: ffmpeg publishes, ffprobe plays over RTMP, HTTP-FLV and HLS; a small HTTP server in the
 * test is the hook endpoint and decides. /metrics, parsed by an independent parser, agrees.
 */
import { existsSync, statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hasFfmpeg,
  probeFrames,
  publishWithFfmpeg,
  type RunningProcess,
  tempDir,
  waitFor,
} from "../../../test-support/media-tools.js";
import { type CliProcess, startCli } from "./cli-process.js";
import { ParsedMetrics } from "./metrics-parse.js";
import { startWebhookReceiver, type WebhookReceiver } from "./webhook-receiver.js";

describe.runIf(hasFfmpeg)("webhooks and /metrics through the onair CLI", () => {
  let receiver: WebhookReceiver;
  let cli: CliProcess;
  const records = tempDir("onair-hook-rec-");
  const processes: RunningProcess[] = [];

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    receiver.answer = ({ path, body }) => {
      const query = body.query as Record<string, string>;
      if (path === "/publish") return query.token === "good" ? 200 : 403;
      if (path === "/play") return query.user === "alice" ? 200 : 403;
      return 200;
    };
    cli = await startCli({
      config: {
        rtmp_noauth: true,
        flv_dir: records.path,
        hls_variant: "ts",
        // The recorder, a writer, stays for the grace after the publisher leaves: keep it short.
        republish_grace: 500,
        webhooks: {
          on_publish: `${receiver.base}/publish`,
          on_unpublish: `${receiver.base}/unpublish`,
          on_play: `${receiver.base}/play`,
          on_stop: `${receiver.base}/stop`,
          on_record_done: `${receiver.base}/record`,
          timeout: 2000,
          on_error: "deny",
        },
      },
    });
  });
  afterAll(async () => {
    for (const p of processes) p.kill();
    await cli?.stop();
    await receiver?.close();
    records.remove();
  });

  const scrape = async (): Promise<ParsedMetrics> => {
    const response = await fetch(cli.url("api", "/metrics"));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    return new ParsedMetrics(await response.text());
  };

  it("publishes and plays as the hooks answer, counts it in /metrics, and posts stop, unpublish and record done", async () => {
    const refused = publishWithFfmpeg(cli.url("rtmp", "live/cam?token=bad"), { seconds: 3 });
    processes.push(refused);
    expect(await refused.exited).not.toBe(0);
    await cli.waitForLog(
      /webhook on_publish \(http:\/\/127\.0\.0\.1:\d+\/publish\) for rtmp publish to app live .* answered 403: refused/,
    );

    const ffmpeg = publishWithFfmpeg(cli.url("rtmp", "live/cam?token=good"), { seconds: 7 });
    processes.push(ffmpeg);
    await cli.waitForLog("publish live/cam");
    // HLS has a playlist once the first segment is cut.
    await waitFor(() => cli.stdout().includes("segment live/cam"), 5000, "the HLS segmenter");
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const read = ["-read_intervals", "%+1.5"];
    const [flvAlice, rtmpAlice, hlsAlice, flvMallory, hlsMallory] = await Promise.all([
      probeFrames(`${cli.url("flv", "live/cam")}?user=alice`, read, 15_000),
      probeFrames(`${cli.url("rtmp", "live/cam")}?user=alice`, read, 15_000),
      probeFrames(`${cli.url("hls", "live/cam")}?user=alice`, read, 15_000),
      probeFrames(`${cli.url("flv", "live/cam")}?user=mallory`, read, 15_000),
      probeFrames(`${cli.url("hls", "live/cam")}?user=mallory`, read, 15_000),
    ]);
    for (const probe of [flvAlice, rtmpAlice, hlsAlice]) {
      expect(probe.streams.map((s) => s.codec_name).sort(), probe.stderr).toEqual(["aac", "h264"]);
      expect(probe.frames.filter((f) => f.mediaType === "video").length).toBeGreaterThan(5);
    }
    for (const probe of [flvMallory, hlsMallory]) {
      expect(probe.frames).toHaveLength(0);
      expect(probe.stderr).toMatch(/403/);
    }
    const plays = receiver
      .on("/play")
      .map((h) => `${h.body.protocol} ${(h.body.query as { user: string }).user}`);
    // HLS asked for a playlist and segments, but its viewer's hook was POSTed once.
    expect(plays.sort()).toEqual([
      "hls alice",
      "hls mallory",
      "http-flv alice",
      "http-flv mallory",
      "rtmp alice",
    ]);

    // While live: /metrics sees one stream and what the hooks did.
    const m = await scrape();
    expect(m.value("onair_streams")).toBe(1);
    expect(m.value("onair_publishers", { protocol: "rtmp" })).toBe(1);
    expect(m.value("onair_recordings")).toBe(1);
    expect(m.value("onair_received_bytes_total")).toBeGreaterThan(50_000);
    expect(m.value("onair_sent_bytes_total")).toBeGreaterThan(50_000);
    expect(m.value("onair_webhook_requests_total", { hook: "publish", outcome: "ok" })).toBe(1);
    expect(m.value("onair_webhook_requests_total", { hook: "publish", outcome: "rejected" })).toBe(1);
    expect(m.value("onair_webhook_requests_total", { hook: "play", outcome: "ok" })).toBe(3);
    expect(m.value("onair_webhook_requests_total", { hook: "play", outcome: "rejected" })).toBe(2);
    expect(m.value("onair_refused_total", { protocol: "rtmp", reason: "unauthorized" })).toBe(1);
    expect(m.value("onair_refused_total", { protocol: "http-flv", reason: "unauthorized" })).toBe(1);
    expect(m.value("onair_hls_responses_total", { kind: "file" })).toBeGreaterThan(0);
    expect(m.type("nodejs_eventloop_lag_seconds")).toBe("GAUGE");

    // The RTMP and HTTP-FLV players that played left: a stop each (HLS has no connection to end).
    await waitFor(() => receiver.on("/stop").length >= 2, 5000, "two stop hooks");
    expect(
      receiver
        .on("/stop")
        .map((h) => `${h.body.protocol} ${h.body.key}`)
        .sort(),
    ).toEqual(["http-flv live/cam", "rtmp live/cam"]);
    for (const hook of receiver.on("/stop"))
      expect(cli.stdout()).toContain(`stop live/cam (${hook.body.id})`);

    expect(await ffmpeg.exited).toBe(0);
    await waitFor(() => receiver.on("/record").length === 1, 8000, "the record done hook");
    const [unpublish] = receiver.on("/unpublish");
    expect(unpublish.body).toMatchObject({ action: "unpublish", key: "live/cam", protocol: "rtmp" });
    expect(cli.stdout()).toContain(`unpublish live/cam (${unpublish.body.id})`);
    const record = receiver.on("/record")[0].body;
    expect(record).toMatchObject({ action: "record_done", key: "live/cam", app: "live", name: "cam" });
    expect(existsSync(record.path as string)).toBe(true);
    expect(statSync(record.path as string).size).toBeGreaterThan(50_000);
    expect(receiver.on("/unpublish")).toHaveLength(1);

    const after = await scrape();
    expect(after.value("onair_streams")).toBe(0);
    expect(after.value("onair_received_bytes_total")).toBeGreaterThanOrEqual(
      m.value("onair_received_bytes_total") ?? 0,
    );
  }, 40_000);
});
