/**
 * Relays against a different server, nginx-rtmp, with ffmpeg publishing and ffprobe decoding what
 * came through: push to nginx, pull from nginx, static push, and a push that comes back after
 * nginx restarts on the same port.
 */
import { StreamHub } from "@onair/core";
import { createRtmpServer, type RtmpServer } from "@onair/rtmp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  freePort,
  hasFfmpeg,
  type ProbeResult,
  probeFrames,
  publishWithFfmpeg,
  type RunningProcess,
  waitFor,
} from "../../../test-support/media-tools.js";
import { hasNginxRtmp, type NginxRtmp, startNginxRtmp } from "../../../test-support/nginx-rtmp.js";
import { type Relay, RelayPull, RelayPush, staticPush } from "../src/index.js";
import { startNginxOnPort } from "./nginx-on-port.js";

const reconnect = { initialDelayMs: 200, maxDelayMs: 1000 };

/** What ffprobe must have decoded: H.264 320x240 and AAC, frames from a keyframe on. */
function expectDecoded(probe: ProbeResult, minVideoFrames = 25): void {
  expect(
    probe.streams.find((s) => s.codec_type === "video"),
    probe.stderr,
  ).toMatchObject({
    codec_name: "h264",
    width: 320,
    height: 240,
  });
  expect(probe.streams.find((s) => s.codec_type === "audio")).toMatchObject({ codec_name: "aac" });
  const video = probe.frames.filter((f) => f.mediaType === "video");
  expect(video.length).toBeGreaterThanOrEqual(minVideoFrames);
  expect(video[0].keyFrame).toBe(true);
  expect(probe.frames.filter((f) => f.mediaType === "audio").length).toBeGreaterThanOrEqual(minVideoFrames);
}

/** ffprobe reads `seconds` of a live URL. */
const probeLive = (url: string, seconds = 2) => probeFrames(url, ["-read_intervals", `%+${seconds}`], 20_000);

describe.skipIf(!hasFfmpeg || !hasNginxRtmp)("relays with nginx-rtmp", () => {
  let nginx: NginxRtmp;
  let hub: StreamHub;
  let server: RtmpServer;
  let onairPort: number;
  const processes: RunningProcess[] = [];
  const relays: Relay[] = [];

  const ffmpeg = (url: string, seconds: number): RunningProcess => {
    const p = publishWithFfmpeg(url, { seconds });
    processes.push(p);
    return p;
  };
  const live = (relay: Relay, timeoutMs = 8000) =>
    waitFor(() => relay.state === "live", timeoutMs, `${relay.kind} live`);

  beforeAll(async () => {
    nginx = await startNginxRtmp();
    hub = new StreamHub({ batchWindowMs: 0 });
    server = createRtmpServer({ handler: hub, host: "127.0.0.1", port: 0 });
    onairPort = (await server.listen()).port;
  });

  afterAll(async () => {
    for (const relay of relays) relay.stop();
    for (const p of processes) p.kill();
    hub.close();
    await server.close();
    await nginx.stop();
  });

  it("pushes what ffmpeg publishes to onair to nginx, where ffprobe plays it", async () => {
    ffmpeg(`rtmp://127.0.0.1:${onairPort}/live/a`, 6);
    await waitFor(() => hub.isLive("live/a"), 8000, "ffmpeg live on onair");
    const push = new RelayPush(hub, {
      app: "live",
      name: "a",
      url: `rtmp://127.0.0.1:${nginx.port}/live/a`,
      reconnect,
    });
    relays.push(push);
    push.start();
    await live(push);
    expectDecoded(await probeLive(`rtmp://127.0.0.1:${nginx.port}/live/a`));
    push.stop();
  });

  it("pulls what ffmpeg publishes to nginx into onair, where ffprobe plays it", async () => {
    // Started before the stream exists: nginx holds the play until a publisher comes.
    const pull = new RelayPull(hub, {
      app: "here",
      name: "b",
      url: `rtmp://127.0.0.1:${nginx.port}/live/b`,
      reconnect,
    });
    relays.push(pull);
    pull.start();
    await waitFor(() => pull.state === "connected", 5000, "pull connected");
    ffmpeg(`rtmp://127.0.0.1:${nginx.port}/live/b`, 6);
    await live(pull);
    expect(hub.get("here/b")?.stats().publisher?.url).toBe(`rtmp://127.0.0.1:${nginx.port}/live/b`);
    expectDecoded(await probeLive(`rtmp://127.0.0.1:${onairPort}/here/b`));
    pull.stop();
  });

  it("static push: a stream of the app goes to nginx as it goes live", async () => {
    const pushes = staticPush(hub, {
      rules: [{ app: "static", urls: [`rtmp://127.0.0.1:${nginx.port}/live`] }],
      reconnect,
    });
    try {
      ffmpeg(`rtmp://127.0.0.1:${onairPort}/static/c`, 6);
      await waitFor(() => pushes.relays.some((r) => r.state === "live"), 8000, "static push live");
      expect(pushes.relays.map((r) => r.url)).toEqual([`rtmp://127.0.0.1:${nginx.port}/live/c`]);
      expectDecoded(await probeLive(`rtmp://127.0.0.1:${nginx.port}/live/c`));
    } finally {
      pushes.stop();
    }
  });

  it("a push comes back after nginx restarts on the same port, and ffprobe plays it again", async () => {
    const port = await freePort();
    let remote = await startNginxOnPort(port);
    try {
      ffmpeg(`rtmp://127.0.0.1:${onairPort}/live/d`, 10);
      await waitFor(() => hub.isLive("live/d"), 8000, "ffmpeg live on onair");
      const push = new RelayPush(hub, {
        app: "live",
        name: "d",
        url: `rtmp://127.0.0.1:${port}/live/d`,
        reconnect,
      });
      relays.push(push);
      const states: string[] = [];
      for (const event of ["live", "disconnected", "retrying"] as const)
        push.on(event, () => states.push(event));
      push.start();
      await live(push);
      await remote.stop();
      await waitFor(() => states.includes("retrying"), 5000, "push retrying");
      expect(push.state === "retrying" || push.state === "connecting").toBe(true);
      remote = await startNginxOnPort(port);
      await waitFor(() => states.filter((s) => s === "live").length === 2, 8000, "push live again");
      expect(states.slice(0, 3)).toEqual(["live", "disconnected", "retrying"]);
      expectDecoded(await probeLive(`rtmp://127.0.0.1:${port}/live/d`));
      push.stop();
    } finally {
      await remote.stop();
    }
  });
});
