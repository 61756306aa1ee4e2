/**
 * Webhooks with real peers: an in-process RTMP server and HTTP-FLV server on one hub, ffmpeg
 * publishing and ffprobe playing, and a small HTTP server standing for the user's hook endpoint.
 * What the endpoint answers decides what ffmpeg and ffprobe get; unpublish and stop arrive with
 * the ids the hub gave.
 */
import { StreamHub, type StreamInfo } from "@onair/core";
import { createHttpFlvServer, type HttpFlvServer } from "@onair/flv";
import { createRtmpServer, type RtmpServer } from "@onair/rtmp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hasFfmpeg,
  probeFrames,
  publishWithFfmpeg,
  type RunningProcess,
  waitFor,
} from "../../../test-support/media-tools.js";
import { createWebhooks, type Webhooks } from "../src/webhooks.js";
import { startWebhookReceiver, type WebhookReceiver } from "./webhook-receiver.js";

describe.runIf(hasFfmpeg)("webhooks with ffmpeg and ffprobe", () => {
  const hub = new StreamHub({ republishGraceMs: 0, playWaitTimeoutMs: 0 });
  let receiver: WebhookReceiver;
  let webhooks: Webhooks;
  let detach: () => void;
  let rtmp: RtmpServer;
  let flv: HttpFlvServer;
  let rtmpBase: string;
  let flvBase: string;
  const logged: string[] = [];
  const processes: RunningProcess[] = [];
  const played: StreamInfo[] = [];
  hub.on("play", (info) => played.push(info));

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    receiver.answer = ({ path, body }) => {
      const query = body.query as Record<string, string>;
      if (path === "/publish") return query.token === "good" ? 200 : 403;
      if (path === "/play") return query.user === "alice" ? 200 : query.user === "slow" ? "hang" : 403;
      return 200;
    };
    webhooks = createWebhooks({
      onPublish: `${receiver.base}/publish`,
      onUnpublish: `${receiver.base}/unpublish`,
      onPlay: `${receiver.base}/play`,
      onStop: `${receiver.base}/stop`,
      timeoutMs: 1500,
      log: (line) => logged.push(line),
    });
    detach = webhooks.attach(hub);
    rtmp = createRtmpServer({ handler: hub, authorize: webhooks.authorize });
    flv = createHttpFlvServer({ handler: hub, authorize: webhooks.authorize });
    rtmpBase = `rtmp://127.0.0.1:${(await rtmp.listen(0, "127.0.0.1")).port}`;
    flvBase = `http://127.0.0.1:${(await flv.listen(0, "127.0.0.1")).port}`;
  });
  afterAll(async () => {
    for (const p of processes) p.kill();
    detach?.();
    hub.close();
    await Promise.all([rtmp?.close(), flv?.close(), webhooks?.close(0)]);
    await receiver?.close();
  });

  it("refuses a publish the hook answers 403: ffmpeg fails and the stream never goes live", async () => {
    const ffmpeg = publishWithFfmpeg(`${rtmpBase}/live/cam?token=bad`, { seconds: 5 });
    processes.push(ffmpeg);
    const code = await ffmpeg.exited;
    expect(code).not.toBe(0);
    expect(hub.isLive("live/cam")).toBe(false);
    expect(receiver.on("/publish").map((h) => h.body)).toEqual([
      {
        action: "publish",
        key: "live/cam",
        app: "live",
        name: "cam",
        protocol: "rtmp",
        query: { token: "bad" },
        remoteAddress: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
        time: expect.any(String),
      },
    ]);
    expect(rtmp.stats().refused.unauthorized).toBe(1);
    expect(receiver.on("/unpublish")).toHaveLength(0);
    expect(logged.some((l) => l.includes("on_publish") && l.includes("answered 403: refused"))).toBe(true);
  }, 15_000);

  it("lets through what the hook allows and refuses the rest, over RTMP and HTTP-FLV; stop and unpublish follow", async () => {
    receiver.received.length = 0;
    const ffmpeg = publishWithFfmpeg(`${rtmpBase}/live/cam?token=good`, { seconds: 6 });
    processes.push(ffmpeg);
    await waitFor(() => hub.isLive("live/cam"), 8000, "live/cam to go live");
    const read = ["-read_intervals", "%+1.5"];
    const [flvAlice, rtmpAlice, flvMallory, rtmpMallory, flvSlow] = await Promise.all([
      probeFrames(`${flvBase}/live/cam.flv?user=alice`, read, 10_000),
      probeFrames(`${rtmpBase}/live/cam?user=alice`, read, 10_000),
      probeFrames(`${flvBase}/live/cam.flv?user=mallory`, read, 10_000),
      probeFrames(`${rtmpBase}/live/cam?user=mallory`, read, 10_000),
      probeFrames(`${flvBase}/live/cam.flv?user=slow`, read, 10_000),
    ]);
    // Allowed: ffprobe decoded the stream.
    for (const probe of [flvAlice, rtmpAlice]) {
      expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
      expect(probe.frames.filter((f) => f.mediaType === "video").length).toBeGreaterThan(5);
    }
    // Refused by a 403, and by the deny policy when the hook hung past its timeout.
    for (const probe of [flvMallory, rtmpMallory, flvSlow]) {
      expect(probe.frames).toHaveLength(0);
      expect(probe.exitCode).not.toBe(0);
    }
    expect(flvMallory.stderr).toMatch(/403/);
    expect(flvSlow.stderr).toMatch(/403/);
    expect(logged.some((l) => l.includes("on_play") && l.includes("did not answer within 1500 ms"))).toBe(
      true,
    );
    const plays = receiver
      .on("/play")
      .map((h) => `${h.body.protocol} ${(h.body.query as { user: string }).user}`);
    expect(plays.sort()).toEqual([
      "http-flv alice",
      "http-flv mallory",
      "http-flv slow",
      "rtmp alice",
      "rtmp mallory",
    ]);

    // The two players that played got a stop each, with the ids the hub gave them.
    const playerIds = played.filter((p) => p.query?.get("user") === "alice").map((p) => p.id);
    expect(playerIds).toHaveLength(2);
    await waitFor(() => receiver.on("/stop").length >= 2, 5000, "two stop hooks");
    const stops = receiver.on("/stop").map((h) => h.body);
    expect(stops.map((b) => b.id).sort()).toEqual([...playerIds].sort());
    expect(stops.map((b) => `${b.protocol} ${b.action} ${b.key}`).sort()).toEqual([
      "http-flv stop live/cam",
      "rtmp stop live/cam",
    ]);
    expect(stops.every((b) => (b.query as { user?: string }).user === "alice")).toBe(true);

    const publisherId = hub.get("live/cam")?.reader?.info.id;
    expect(publisherId).toMatch(/^rtmp-pub-/);
    expect(await ffmpeg.exited).toBe(0);
    await waitFor(() => receiver.on("/unpublish").length === 1, 5000, "the unpublish hook");
    expect(receiver.on("/unpublish")[0].body).toMatchObject({
      action: "unpublish",
      key: "live/cam",
      protocol: "rtmp",
      id: publisherId,
      query: { token: "good" },
    });
    expect(webhooks.stats()).toMatchObject({
      publish: { ok: 1 },
      play: { ok: 2, rejected: 2, timedOut: 1 },
      stop: { ok: 2 },
      unpublish: { ok: 1 },
      inFlight: 0,
    });
  }, 20_000);
});
