/** The CLI's settings as a separate process: the sources' order, apps, and the configs it refuses. */
import { describe, expect, it } from "vitest";
import { freePort, hasFfmpeg, probeFrames, publishWithFfmpeg } from "../../../test-support/media-tools.js";
import { runCli, startCli } from "./cli-process.js";

describe("a config the CLI refuses: exit code 2, one message naming the setting, nothing opened", () => {
  it.each([
    [
      "an unknown key",
      "rtmp_port: 0\nhttpflv_adr: ':7001'\n",
      /onair\.yaml:2:1: unknown setting "httpflv_adr"/,
    ],
    [
      "a bad port",
      "rtmp_port: 0\napi_addr: '127.0.0.1:80800'\n",
      /onair\.yaml:2:11: api_addr must be .*got "127\.0\.0\.1:80800"/,
    ],
    [
      "YAML that does not parse",
      "rtmp_port: 0\nserver:\n  - appname: live\n   static_push: [\n",
      /onair\.yaml:\d+:\d+: not valid YAML: /,
    ],
    [
      "a bad app",
      "server:\n  - appname: live\n    static_push: [nope]\n",
      /onair\.yaml:2:3: server item 1: static_push item 1 must be an rtmp:\/\/HOST\/APP URL/,
    ],
    [
      "HLS settings that do not fit together",
      "rtmp_port: 0\nflv_port: 0\nhls_port: 0\napi_port: 0\nhls_target_duration: 1\nhls_part_target: 5\n",
      /HLS settings: .*partTargetMs \(5000\) must not exceed targetDurationMs \(1000\) \(hls_target_duration is/,
    ],
  ])("%s", async (_what, yaml, message) => {
    const result = await runCli({ config: yaml });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^onair: \\S*${message.source}`));
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).not.toContain("listening");
  });

  it("a bad environment variable or flag", async () => {
    const env = await runCli({ config: {}, env: { ONAIR_GOP_NUM: "many" } });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('onair: ONAIR_GOP_NUM (gop_num) must be a whole number, got "many"');
    const flag = await runCli({ config: {}, args: ["--hls-variant", "dash"] });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('onair: --hls-variant must be one of ts, fmp4, low-latency, got "dash"');
  });
});

describe("sources through the process", () => {
  it("flags win over ONAIR_* variables, which win over the file", async () => {
    const [fileOnly, envOverFile, fileUnder, flagOverEnv] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const cli = await startCli({
      config: {
        rtmp_port: fileOnly,
        flv_port: fileUnder,
        api_port: fileUnder,
        rtmp_noauth: true,
        enable_hls: false,
      },
      env: { ONAIR_FLV_PORT: String(envOverFile), ONAIR_API_PORT: String(fileUnder) },
      args: ["--api-port", String(flagOverEnv)],
    });
    try {
      expect(cli.ports).toEqual({ rtmp: fileOnly, flv: envOverFile, api: flagOverEnv });
      expect(cli.stdout()).toMatch(/API listening on http:\/\/127\.0\.0\.1:/);
    } finally {
      await cli.stop();
    }
  });
});

describe("binds", () => {
  it("media listeners on every address, the API on loopback only", async () => {
    const cli = await startCli({ config: { host: "0.0.0.0", rtmp_noauth: true, enable_rtmps: false } });
    try {
      for (const what of ["RTMP listening on rtmp", "HTTP-FLV listening on http", "HLS listening on http"]) {
        expect(cli.stdout()).toContain(`${what}://0.0.0.0:`);
      }
      expect(cli.stdout()).toContain("API listening on http://127.0.0.1:");
    } finally {
      await cli.stop();
    }
  });
});

describe.skipIf(!hasFfmpeg)("apps", () => {
  it("serves the apps listed and refuses a publish to any other", async () => {
    const cli = await startCli({
      config: {
        rtmp_noauth: true,
        enable_hls: false,
        enable_api: false,
        republish_grace: 0,
        server: [{ appname: "show" }],
      },
    });
    try {
      const refused = publishWithFfmpeg(cli.url("rtmp", "live/x"), { seconds: 2 });
      expect(await refused.exited).not.toBe(0);
      const publisher = publishWithFfmpeg(cli.url("rtmp", "show/x"), { seconds: 3 });
      await cli.waitForLog("publish show/x");
      const probe = await probeFrames(cli.url("flv", "show/x"));
      expect(await publisher.exited).toBe(0);
      expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
      expect(cli.stdout()).not.toContain("publish live/x");
    } finally {
      await cli.stop();
    }
  });
});
