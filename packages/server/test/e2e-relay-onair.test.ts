/**
 * Relays between two `onair` CLI processes, with channel keys on both (the default) and real
 * ffmpeg/ffprobe: the origin pushes a keyed stream to the edge with `/control/push`, publishing
 * with the edge's key, and the edge plays it by room; the edge pulls the origin's HTTP-FLV with
 * `/control/pull`; bad relay parameters get 400 with a message.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hasFfmpeg,
  type ProbeResult,
  probeFrames,
  publishWithFfmpeg,
  type RunningProcess,
} from "../../../test-support/media-tools.js";
import { type CliProcess, startCli } from "./cli-process.js";

interface ApiAnswer {
  http: number;
  body: { status: number; data: unknown };
}

async function api(cli: CliProcess, path: string): Promise<ApiAnswer> {
  const response = await fetch(cli.url("api", path));
  return { http: response.status, body: (await response.json()) as ApiAnswer["body"] };
}

function expectPlayed(probe: ProbeResult, what: string): void {
  expect(probe.streams.map((s) => s.codec_name).sort(), `${what}: ${probe.stderr}`).toEqual(["aac", "h264"]);
  expect(probe.frames.filter((f) => f.mediaType === "video").length, what).toBeGreaterThan(10);
}

const probeLive = (url: string, seconds = 2) => probeFrames(url, ["-read_intervals", `%+${seconds}`], 15_000);

describe.runIf(hasFfmpeg)("relays between two onair CLIs", () => {
  let origin: CliProcess;
  let edge: CliProcess;
  const processes: RunningProcess[] = [];

  beforeAll(async () => {
    const config = { enable_hls: false, republish_grace: 0 };
    [origin, edge] = await Promise.all([startCli({ config }), startCli({ config })]);
  });
  afterAll(async () => {
    for (const p of processes) p.kill();
    await Promise.all([origin?.stop(), edge?.stop()]);
  });

  it("/control/push publishes to the other onair with its channel key; /control/pull takes its HTTP-FLV", async () => {
    const originKey = (await api(origin, "/control/get?room=studio")).body.data as string;
    const edgeKey = (await api(edge, "/control/get?room=relayed")).body.data as string;
    const publisher = publishWithFfmpeg(origin.url("rtmp", `live/${originKey}`), { seconds: 15 });
    processes.push(publisher);
    await origin.waitForLog("publish live/studio", 10_000);

    // A push with a wrong key is refused by the edge: the relay keeps retrying, nothing goes live.
    const wrong = await api(
      origin,
      `/control/push?oper=start&app=live&name=studio&url=${encodeURIComponent(edge.url("rtmp", "live/NotTheKey"))}`,
    );
    expect(wrong.http).toBe(200);
    await edge.waitForLog(/refused RTMP 127\.0\.0\.1:\d+: unauthorized/, 5000);
    expect((await api(origin, "/control/push?oper=stop&app=live&name=studio")).http).toBe(200);

    const push = await api(
      origin,
      `/control/push?oper=start&app=live&name=studio&url=${encodeURIComponent(edge.url("rtmp", `live/${edgeKey}`))}`,
    );
    expect(push.body.status).toBe(200);
    await edge.waitForLog("publish live/relayed", 10_000);

    const pull = await api(
      edge,
      `/control/pull?oper=start&app=live&name=pulled&url=${encodeURIComponent(origin.url("flv", "live/studio"))}`,
    );
    expect(pull.body.status).toBe(200);
    await edge.waitForLog("publish live/pulled", 10_000);

    const [pushed, pulled] = await Promise.all([
      probeLive(edge.url("flv", "live/relayed")),
      probeLive(edge.url("rtmp", "live/pulled")),
    ]);
    expectPlayed(pushed, "pushed, played on the edge over HTTP-FLV");
    expectPlayed(pulled, "pulled, played on the edge over RTMP");

    // The origin lists the push and the edge's pull as players of live/studio.
    const stat = (await api(origin, "/stat/livestat?room=studio")).body.data as {
      players: { key: string; url: string; video_total_bytes: number }[];
    };
    expect(stat.players.map((p) => p.key)).toEqual(["live/studio", "live/studio"]);
    for (const player of stat.players) expect(player.video_total_bytes).toBeGreaterThan(10_000);
    // The push's URL carries the edge's key: livestat must not show it.
    expect(JSON.stringify(stat)).not.toContain(edgeKey);
    expect(stat.players.map((p) => p.url)).toContain(`rtmp://127.0.0.1:${edge.ports.rtmp}/live/…`);
    expect(origin.stdout()).toMatch(
      /play live\/studio by rtmp:\/\/127\.0\.0\.1:\d+\/live\/… \(relay-push-\d+\)/,
    );

    // Bad parameters: 400 and a message, never a stack trace.
    for (const path of [
      "/control/push?oper=go&app=live&name=studio&url=rtmp://x/live/y",
      "/control/push?oper=start&app=live&name=studio",
      "/control/pull?oper=start&app=live&name=x&url=ftp://nowhere/live/x",
      "/control/pull?oper=start&app=..&name=x&url=rtmp://127.0.0.1/live/x",
    ]) {
      const bad = await api(origin, path);
      expect(bad.http, path).toBe(400);
      expect(bad.body.status, path).toBe(400);
      expect(typeof bad.body.data, path).toBe("string");
      expect(bad.body.data as string, path).not.toMatch(/\n\s+at /);
    }

    expect((await api(edge, "/control/pull?oper=stop&app=live&name=pulled")).http).toBe(200);
    await edge.waitForLog("unpublish live/pulled", 5000);
    expect((await api(origin, "/control/push?oper=stop&app=live&name=studio")).http).toBe(200);
    await edge.waitForLog("unpublish live/relayed", 5000);
    for (const cli of [origin, edge]) {
      expect(cli.stdout() + cli.stderr()).not.toContain(originKey);
      expect(cli.stdout() + cli.stderr()).not.toContain(edgeKey);
    }
  }, 25_000);
});
