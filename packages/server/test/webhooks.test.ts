/**
 * Webhooks against a real HTTP endpoint in this process: what is POSTed, what a 2xx, a non-2xx,
 * a timeout and a dead endpoint do to publish and play, the in-flight bound, HLS verdict reuse,
 * and logs that carry no secrets. Real publishers and players: webhooks-ffmpeg.test.ts.
 */
import { type AuthorizeRequest, StreamHub, StreamSource } from "@onair/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createWebhooks, WebhookError, type Webhooks } from "../src/webhooks.js";
import { startWebhookReceiver, type WebhookReceiver } from "./webhook-receiver.js";

const request = (overrides: Partial<AuthorizeRequest> = {}): AuthorizeRequest => ({
  action: "publish",
  protocol: "rtmp",
  app: "live",
  name: "cam",
  query: new URLSearchParams("token=t1&x=2"),
  remoteAddress: "127.0.0.1:50000",
  ...overrides,
});

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const r = await startWebhookReceiver();
  const port = Number(new URL(r.base).port);
  await r.close();
  return port;
}

describe("webhooks", () => {
  let receiver: WebhookReceiver;
  const opened: Webhooks[] = [];
  const make = (options: Parameters<typeof createWebhooks>[0]): Webhooks => {
    const hooks = createWebhooks(options);
    opened.push(hooks);
    return hooks;
  };

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((h) => h.close(0)));
    receiver.received.length = 0;
    receiver.answer = () => 200;
  });
  afterAll(async () => {
    await receiver.close();
  });

  it("POSTs publish and play as JSON and allows on 2xx, refuses on 403 and 401 with that status", async () => {
    const hooks = make({ onPublish: `${receiver.base}/publish`, onPlay: `${receiver.base}/play` });
    receiver.answer = (hook) => (hook.body.name === "banned" ? 403 : hook.body.name === "who" ? 401 : 204);
    expect(await hooks.authorize(request())).toBe(true);
    expect(await hooks.authorize(request({ action: "play", protocol: "http-flv", name: "banned" }))).toEqual({
      allow: false,
      reason: "play refused by webhook",
      status: 403,
    });
    expect(await hooks.authorize(request({ action: "play", name: "who" }))).toMatchObject({
      allow: false,
      status: 401,
    });
    expect(receiver.on("/publish")).toHaveLength(1);
    const [publish] = receiver.on("/publish");
    expect(publish.contentType).toBe("application/json");
    expect(publish.body).toEqual({
      action: "publish",
      key: "live/cam",
      app: "live",
      name: "cam",
      protocol: "rtmp",
      query: { token: "t1", x: "2" },
      remoteAddress: "127.0.0.1:50000",
      time: expect.any(String),
    });
    expect(Date.now() - Date.parse(publish.body.time as string)).toBeLessThan(5000);
    expect(receiver.on("/play").map((h) => [h.body.protocol, h.body.name])).toEqual([
      ["http-flv", "banned"],
      ["rtmp", "who"],
    ]);
    expect(hooks.stats().publish).toEqual({ ok: 1, rejected: 0, timedOut: 0, failed: 0, dropped: 0 });
    expect(hooks.stats().play).toMatchObject({ ok: 0, rejected: 2 });
  });

  it("asks nothing for an action without a URL", async () => {
    const hooks = make({ onPlay: `${receiver.base}/play` });
    expect(await hooks.authorize(request())).toBe(true);
    expect(receiver.received).toHaveLength(0);
  });

  it("treats a redirect as a refusal (not followed)", async () => {
    const hooks = make({ onPublish: `${receiver.base}/publish` });
    receiver.answer = () => 302;
    expect(await hooks.authorize(request())).toMatchObject({ allow: false, status: 403 });
    expect(receiver.received).toHaveLength(1);
  });

  it("follows onError when the hook does not answer in time: deny by default, allow when asked", async () => {
    receiver.answer = () => "hang";
    const lines: string[] = [];
    const deny = make({ onPublish: `${receiver.base}/slow`, timeoutMs: 200, log: (l) => lines.push(l) });
    const allow = make({
      onPublish: `${receiver.base}/slow`,
      timeoutMs: 200,
      onError: "allow",
      log: (l) => lines.push(l),
    });
    const started = Date.now();
    const [denied, allowed] = await Promise.all([deny.authorize(request()), allow.authorize(request())]);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(denied).toEqual({ allow: false, reason: "webhook failed", status: 403 });
    expect(allowed).toEqual({ allow: true });
    expect(deny.stats().publish.timedOut).toBe(1);
    expect(lines.some((l) => l.includes("did not answer within 200 ms") && l.includes("refused"))).toBe(true);
    expect(lines.some((l) => l.includes("did not answer within 200 ms") && l.includes("allowed"))).toBe(true);
  });

  it("follows onError when the endpoint is down, and logs it", async () => {
    const port = await closedPort();
    const lines: string[] = [];
    const hooks = make({ onPlay: `http://127.0.0.1:${port}/play`, log: (l) => lines.push(l) });
    expect(await hooks.authorize(request({ action: "play" }))).toMatchObject({ allow: false });
    expect(hooks.stats().play.failed).toBe(1);
    expect(lines.join("\n")).toMatch(/on_play .* failed \(ECONNREFUSED\): refused \(on_error: deny\)/);
  });

  it("bounds the POSTs in flight: past maxInFlight, publish follows onError and notifications are dropped", async () => {
    receiver.answer = () => "hang";
    const lines: string[] = [];
    const hooks = make({
      onPublish: `${receiver.base}/publish`,
      onStop: `${receiver.base}/stop`,
      maxInFlight: 2,
      timeoutMs: 3000,
      log: (l) => lines.push(l),
    });
    const pending = [hooks.authorize(request()), hooks.authorize(request())];
    expect(hooks.stats().inFlight).toBe(2);
    expect(await hooks.authorize(request())).toMatchObject({ allow: false, reason: "webhook failed" });
    const hub = new StreamHub();
    const detach = hooks.attach(hub);
    hub.emit("stop", { key: "live/a", app: "live", name: "a", url: "http://x/live/a.flv", id: "http-flv-1" });
    expect(hooks.stats().stop.dropped).toBe(1);
    expect(hooks.stats().publish.dropped).toBe(1);
    expect(lines.some((l) => l.includes("2 webhook POSTs are in flight"))).toBe(true);
    // Closing aborts what is in flight (after its grace), so nothing waits for the full timeout.
    await hooks.close(50);
    expect(await Promise.all(pending)).toEqual([
      { allow: false, reason: "webhook failed", status: 403 },
      { allow: false, reason: "webhook failed", status: 403 },
    ]);
    expect(hooks.stats().inFlight).toBe(0);
    detach();
    hub.close();
  });

  it("POSTs unpublish and stop for client publishers and players, not for recorders or relays", async () => {
    const hooks = make({ onUnpublish: `${receiver.base}/unpublish`, onStop: `${receiver.base}/stop` });
    const hub = new StreamHub({ republishGraceMs: 0 });
    const detach = hooks.attach(hub);
    const reader = new StreamSource({
      key: "live/cam",
      app: "live",
      name: "cam",
      url: "rtmp://127.0.0.1:1935/live/cam",
      id: "rtmp-pub-900",
      query: new URLSearchParams("token=t1"),
      remoteAddress: "127.0.0.1:4000",
    });
    hub.handleReader(reader);
    const player = {
      info: {
        key: "live/cam",
        app: "live",
        name: "cam",
        url: "ws://127.0.0.1:7001/live/cam.flv",
        id: "ws-flv-901",
        remoteAddress: "127.0.0.1:4001",
      },
      start() {},
      write() {},
      flush() {},
      bufferedBytes: 0,
      listeners: [] as ((error?: Error) => void)[],
      close() {
        for (const l of this.listeners.splice(0)) l();
      },
      onClose(listener: (error?: Error) => void) {
        this.listeners.push(listener);
      },
    };
    hub.handleWriter(player);
    hub.emit("stop", { ...player.info, url: "file:///tmp/x.flv", id: "flv-record-902" });
    hub.emit("stop", { ...player.info, id: "relay-push-903" });
    player.close();
    reader.end();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.on("/stop").map((h) => h.body)).toEqual([
      {
        action: "stop",
        key: "live/cam",
        app: "live",
        name: "cam",
        protocol: "ws-flv",
        id: "ws-flv-901",
        url: "ws://127.0.0.1:7001/live/cam.flv",
        query: {},
        remoteAddress: "127.0.0.1:4001",
        time: expect.any(String),
      },
    ]);
    expect(receiver.on("/unpublish").map((h) => h.body)).toEqual([
      {
        action: "unpublish",
        key: "live/cam",
        app: "live",
        name: "cam",
        protocol: "rtmp",
        id: "rtmp-pub-900",
        url: "rtmp://127.0.0.1:1935/live/cam",
        query: { token: "t1" },
        remoteAddress: "127.0.0.1:4000",
        time: expect.any(String),
      },
    ]);
    detach();
    hub.emit("stop", player.info);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(receiver.on("/stop")).toHaveLength(1);
    hub.close();
  });

  it("POSTs record done with the file", async () => {
    const hooks = make({ onRecordDone: `${receiver.base}/record` });
    hooks.recordDone(
      { key: "live/cam", app: "live", name: "cam", url: "file:///rec/live/cam-1.flv", id: "flv-record-3" },
      "/rec/live/cam-1.flv",
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(receiver.on("/record").map((h) => h.body)).toEqual([
      {
        action: "record_done",
        key: "live/cam",
        app: "live",
        name: "cam",
        id: "flv-record-3",
        path: "/rec/live/cam-1.flv",
        time: expect.any(String),
      },
    ]);
  });

  it("asks once per HLS viewer for a while, not for every playlist and segment request", async () => {
    const hooks = make({ onPlay: `${receiver.base}/play`, hlsVerdictMs: 60_000 });
    receiver.answer = (hook) => ((hook.body.query as Record<string, string>).user === "bad" ? 403 : 200);
    const hls = (query: string, remoteAddress = "10.0.0.1:5000") =>
      hooks.authorize(
        request({ action: "play", protocol: "hls", query: new URLSearchParams(query), remoteAddress }),
      );
    // Concurrent first requests share one POST; directives and the port do not make a new viewer.
    expect(await Promise.all([hls("user=a"), hls("user=a")])).toEqual([true, true]);
    expect(await hls("user=a&_HLS_msn=5&_HLS_part=1", "10.0.0.1:5001")).toBe(true);
    expect(receiver.on("/play")).toHaveLength(1);
    expect(await hls("user=bad")).toMatchObject({ allow: false });
    expect(await hls("user=bad")).toMatchObject({ allow: false });
    expect(await hls("user=a", "10.0.0.2:5000")).toBe(true);
    expect(receiver.on("/play")).toHaveLength(3);
    // Not for other protocols: each RTMP/FLV play is one connection, asked each time.
    await hooks.authorize(
      request({ action: "play", protocol: "http-flv", query: new URLSearchParams("user=a") }),
    );
    await hooks.authorize(
      request({ action: "play", protocol: "http-flv", query: new URLSearchParams("user=a") }),
    );
    expect(receiver.on("/play")).toHaveLength(5);
  });

  it("asks again after a failed HLS hook instead of reusing the policy's verdict", async () => {
    receiver.answer = () => 503;
    const port = await closedPort();
    const hooks = make({ onPlay: `http://127.0.0.1:${port}/play`, onError: "allow" });
    const hls = () =>
      hooks.authorize(request({ action: "play", protocol: "hls", query: new URLSearchParams() }));
    expect(await hls()).toEqual({ allow: true });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await hls()).toEqual({ allow: true });
    expect(hooks.stats().play.failed).toBe(2);
  });

  it("logs neither the hook URL's credentials and query nor a published stream name", async () => {
    receiver.answer = () => 403;
    const lines: string[] = [];
    const url = new URL(`${receiver.base}/publish?secret=s3cr3t`);
    url.username = "user";
    url.password = "pa55word";
    const hooks = make({ onPublish: url.href, onStop: url.href, log: (l) => lines.push(l) });
    await hooks.authorize(request({ name: "Xk9channelkeyXk9", query: new URLSearchParams("sign=abc123") }));
    expect(receiver.received).toHaveLength(1);
    // The URL's credentials go as Basic authorization, its query as it is.
    expect(receiver.received[0].authorization).toBe(
      `Basic ${Buffer.from("user:pa55word").toString("base64")}`,
    );
    expect(receiver.received[0].query).toBe("?secret=s3cr3t");
    const text = lines.join("\n");
    expect(text).toContain(`${receiver.base}/publish`);
    expect(text).toContain("refused");
    for (const secret of ["s3cr3t", "pa55word", "user@", "Xk9channelkeyXk9", "abc123"]) {
      expect(text).not.toContain(secret);
    }
  });

  it("refuses bad settings when made", () => {
    expect(() => createWebhooks({ onPublish: "ftp://x/y" })).toThrow(WebhookError);
    expect(() => createWebhooks({ onPlay: "not a url" })).toThrow(/onPlay: not a URL/);
    expect(() => createWebhooks({ timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => createWebhooks({ onError: "maybe" as "allow" })).toThrow(/onError/);
  });

  it("follows onError after close", async () => {
    const hooks = make({ onPublish: `${receiver.base}/publish`, onError: "allow" });
    await hooks.close();
    await hooks.close();
    expect(await hooks.authorize(request())).toEqual({ allow: true });
    expect(receiver.received).toHaveLength(0);
  });
});
