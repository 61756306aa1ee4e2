/**
 * Relays end to end through the `onair` CLI as a separate process, against nginx-rtmp, with the
 * README's curl commands (as fetch) and real ffmpeg/ffprobe, channel keys on (the default):
 * - `/control/pull` from nginx, played here over RTMP, HTTP-FLV and HLS;
 * - `/control/push` of a keyed stream to nginx, played there; nginx restarts and the push comes
 *   back by itself, played there again;
 * - static push from the YAML file (`server: [{ appname, static_push }]`) to nginx, played there.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  freePort,
  hasFfmpeg,
  type ProbeResult,
  probeFrames,
  publishWithFfmpeg,
  type RunningProcess,
} from "../../../test-support/media-tools.js";
import { hasNginxRtmp } from "../../../test-support/nginx-rtmp.js";
import { type NginxOnPort, startNginxOnPort } from "../../relay/test/nginx-on-port.js";
import { type CliProcess, startCli } from "./cli-process.js";

interface ApiAnswer {
  http: number;
  body: { status: number; data: unknown };
}

function expectPlayed(probe: ProbeResult, what: string): void {
  expect(probe.streams.map((s) => s.codec_name).sort(), `${what}: ${probe.stderr}`).toEqual(["aac", "h264"]);
  expect(probe.frames.filter((f) => f.mediaType === "video").length, what).toBeGreaterThan(10);
  expect(probe.frames.filter((f) => f.mediaType === "audio").length, what).toBeGreaterThan(10);
}

/** ffprobe reads `seconds` of a live URL. */
const probeLive = (url: string, seconds = 2) => probeFrames(url, ["-read_intervals", `%+${seconds}`], 15_000);

describe.runIf(hasFfmpeg && hasNginxRtmp)("relays through the onair CLI, with nginx-rtmp", () => {
  let nginxPort: number;
  let nginx: NginxOnPort;
  let cli: CliProcess;
  const processes: RunningProcess[] = [];
  const publish = (url: string, seconds: number): RunningProcess => {
    const p = publishWithFfmpeg(url, { seconds });
    processes.push(p);
    return p;
  };
  const api = async (path: string): Promise<ApiAnswer> => {
    const response = await fetch(cli.url("api", path));
    return { http: response.status, body: (await response.json()) as ApiAnswer["body"] };
  };
  const nginxUrl = (path: string) => `rtmp://127.0.0.1:${nginxPort}/${path}`;

  beforeAll(async () => {
    nginxPort = await freePort();
    nginx = await startNginxOnPort(nginxPort);
    cli = await startCli({
      config: {
        hls_variant: "ts",
        republish_grace: 0,
        server: [{ appname: "live" }, { appname: "tv", static_push: [nginxUrl("live")] }],
      },
    });
  });
  afterAll(async () => {
    for (const p of processes) p.kill();
    await cli?.stop();
    await nginx?.stop();
  });

  it("/control/pull from nginx: played here over RTMP, HTTP-FLV and HLS; stop ends it", async () => {
    publish(nginxUrl("live/src"), 12);
    // curl -s 'http://127.0.0.1:8090/control/pull?oper=start&app=live&name=pulled&url=rtmp://NGINX/live/src'
    const started = await api(
      `/control/pull?oper=start&app=live&name=pulled&url=${encodeURIComponent(nginxUrl("live/src"))}`,
    );
    expect(started.http).toBe(200);
    expect(started.body.status).toBe(200);
    await cli.waitForLog("publish live/pulled", 10_000);
    await cli.waitForLog("segment live/pulled", 5000);
    await new Promise((resolve) => setTimeout(resolve, 2500)); // two HLS segments
    const [rtmp, flv, hls] = await Promise.all([
      probeLive(cli.url("rtmp", "live/pulled")),
      probeLive(cli.url("flv", "live/pulled")),
      probeLive(cli.url("hls", "live/pulled")),
    ]);
    expectPlayed(rtmp, "RTMP");
    expectPlayed(flv, "HTTP-FLV");
    expectPlayed(hls, "HLS");

    const stopped = await api("/control/pull?oper=stop&app=live&name=pulled");
    expect(stopped.body).toEqual({ status: 200, data: "pull url stop live/pulled ok" });
    await cli.waitForLog("unpublish live/pulled", 5000);
    expect((await api("/control/pull?oper=stop&app=live&name=pulled")).http).toBe(404);
  }, 25_000);

  it("/control/push of a keyed stream to nginx and static push from the YAML file; the push survives an nginx restart", async () => {
    const camKey = (await api("/control/get?room=cam")).body.data as string;
    const showKey = (await api("/control/get?room=show")).body.data as string;
    publish(cli.url("rtmp", `live/${camKey}`), 20);
    publish(cli.url("rtmp", `tv/${showKey}`), 20);
    await cli.waitForLog("publish live/cam", 10_000);
    await cli.waitForLog("publish tv/show", 10_000);

    // curl -s 'http://127.0.0.1:8090/control/push?oper=start&app=live&name=cam&url=rtmp://NGINX/live/cam'
    const started = await api(
      `/control/push?oper=start&app=live&name=cam&url=${encodeURIComponent(nginxUrl("live/cam"))}`,
    );
    expect(started.http).toBe(200);
    // nginx plays the pushed stream and the statically pushed one (tv/show → nginx's live/show).
    const [pushed, statically] = await Promise.all([
      probeLive(nginxUrl("live/cam")),
      probeLive(nginxUrl("live/show")),
    ]);
    expectPlayed(pushed, "pushed to nginx");
    expectPlayed(statically, "static push to nginx");

    // nginx restarts on the same port: both relays come back by themselves (1 s first retry).
    await nginx.stop();
    nginx = await startNginxOnPort(nginxPort);
    const [again, staticAgain] = await Promise.all([
      probeLive(nginxUrl("live/cam")),
      probeLive(nginxUrl("live/show")),
    ]);
    expectPlayed(again, "pushed to nginx after its restart");
    expectPlayed(staticAgain, "static push after nginx's restart");

    const stopped = await api("/control/push?oper=stop&app=live&name=cam");
    expect(stopped.body).toEqual({ status: 200, data: "push url stop live/cam ok" });
    expect(cli.stdout() + cli.stderr()).not.toContain(camKey);
  }, 25_000);
});
