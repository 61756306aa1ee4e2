/** The ready server's settings: defaults, the three sources and their order, and what is refused. */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../../../test-support/media-tools.js";
import {
  ConfigError,
  loadConfig,
  type OnairConfig,
  parseCliOptions,
  settingNames,
  USAGE,
} from "../src/index.js";

const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.remove();
});

function yamlFile(text: string): string {
  const dir = tempDir("onair-config-");
  dirs.push(dir);
  const file = join(dir.path, "onair.yaml");
  writeFileSync(file, text);
  return file;
}

function config(options: Parameters<typeof loadConfig>[0]): OnairConfig {
  const loaded = loadConfig(options);
  if (loaded.help) throw new Error("help");
  return loaded.config;
}

function refusal(options: Parameters<typeof loadConfig>[0]): ConfigError {
  try {
    loadConfig(options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe("ERR_CONFIG");
    return error as ConfigError;
  }
  throw new Error("not refused");
}

describe("defaults", () => {
  it("RTMP 1935, HTTP-FLV 7001, HLS 7002 (low-latency) on 0.0.0.0; the API on 127.0.0.1:8090; channel keys on", () => {
    expect(config({})).toEqual({
      host: "0.0.0.0",
      rtmpHost: "0.0.0.0",
      rtmpPort: 1935,
      flvHost: "0.0.0.0",
      flvPort: 7001,
      hlsHost: "0.0.0.0",
      hlsPort: 7002,
      apiHost: "127.0.0.1",
      apiPort: 8090,
      rtmpNoAuth: false,
      api: true,
      cors: "*",
      hls: { variant: "low-latency" },
      hub: { gopCache: 1, batchWindowMs: 100 },
    });
  });

  it("--host moves the media listeners, never the API", () => {
    const c = config({ argv: ["--host", "127.0.0.1"] });
    expect([c.rtmpHost, c.flvHost, c.hlsHost, c.apiHost]).toEqual([
      "127.0.0.1",
      "127.0.0.1",
      "127.0.0.1",
      "127.0.0.1",
    ]);
    const open = config({ argv: ["--host", "::"] });
    expect([open.rtmpHost, open.flvHost, open.hlsHost, open.apiHost]).toEqual([
      "::",
      "::",
      "::",
      "127.0.0.1",
    ]);
  });
});

describe("sources", () => {
  it("flags win over the environment, which wins over the file", () => {
    const file = yamlFile("rtmp_port: 1001\nflv_port: 2001\nhls_port: 3001\ngop_num: 3\n");
    const env = { ONAIR_FLV_PORT: "2002", ONAIR_HLS_PORT: "3002", ONAIR_CONFIG: file };
    const c = config({ argv: ["--hls-port", "3003"], env });
    expect([c.rtmpPort, c.flvPort, c.hlsPort, c.hub?.gopCache]).toEqual([1001, 2002, 3003, 3]);
  });

  it("an address and a port for one listener: the stronger source wins, whichever key it uses", () => {
    const file = yamlFile('rtmp_addr: "10.1.2.3:1111"\nhttpflv_addr: ":2222"\napi_port: 3333\n');
    const c = config({
      argv: ["-c", file],
      env: { ONAIR_RTMP_PORT: "1112", ONAIR_API_ADDR: "0.0.0.0:3334" },
    });
    expect([c.rtmpHost, c.rtmpPort]).toEqual(["10.1.2.3", 1112]);
    expect([c.flvHost, c.flvPort]).toEqual(["0.0.0.0", 2222]);
    expect([c.apiHost, c.apiPort]).toEqual(["0.0.0.0", 3334]);
    // --host (a flag) overrides the file's RTMP host; in one source the address is the more specific.
    const flagged = config({ argv: ["-c", file, "--host", "127.0.0.1"] });
    expect(flagged.rtmpHost).toBe("127.0.0.1");
    const sameFile = config({ argv: ["-c", yamlFile('host: 127.0.0.1\nrtmp_addr: "[::1]:1111"\n')] });
    expect([sameFile.rtmpHost, sameFile.flvHost]).toEqual(["::1", "127.0.0.1"]);
  });

  it("reads livego-style keys: apps with static push, jwt, redis, timeouts, webhooks", () => {
    const file = yamlFile(`
rtmp_noauth: true
redis_addr: "127.0.0.1:6379"
redis_pwd: pw
jwt:
  secret: s3cret
read_timeout: 10
write_timeout: 2.5
flv_dir: /tmp/rec
hls_variant: ts
hls_target_duration: 2
hls_part_target: 500ms
hls_keep_after_end: true
webhooks:
  on_publish: http://127.0.0.1:9/pub
  on_error: allow
server:
  - appname: live
    static_push: ["rtmp://a.example/live", "rtmp://b.example/app?k=1"]
  - appname: vod
    live: false
    hls: false
`);
    const c = config({ argv: ["-c", file] });
    expect(c.rtmpNoAuth).toBe(true);
    expect(c.redis).toEqual({ addr: "127.0.0.1:6379", password: "pw" });
    expect(c.jwt).toEqual({ secret: "s3cret", algorithm: "HS256" });
    expect(c.hub).toMatchObject({ publisherIdleTimeoutMs: 10_000, slowPlayer: { closeAfterMs: 2500 } });
    expect(c.flvDir).toBe("/tmp/rec");
    expect(c.hls).toEqual({
      variant: "ts",
      targetDurationMs: 2000,
      partTargetMs: 500,
      keepAfterEndMs: 30_000,
    });
    expect(c.webhooks).toEqual({ onPublish: "http://127.0.0.1:9/pub", timeoutMs: 5000, onError: "allow" });
    expect(c.apps).toEqual([
      { name: "live", staticPush: ["rtmp://a.example/live", "rtmp://b.example/app?k=1"] },
      { name: "vod", live: false, hls: false },
    ]);
  });

  it("keeps the earlier flags: --gop-cache, limits for both servers, --expose-addresses, --flv-dir", () => {
    const c = config({
      argv: [
        "--gop-cache",
        "2",
        "--max-connections",
        "50",
        "--max-connections-per-ip",
        "4",
        "--expose-addresses",
        "--flv-dir",
        "/tmp/r",
        "--republish-grace",
        "0",
        "--max-streams",
        "9",
      ],
    });
    expect(c.hub).toEqual({ gopCache: 2, batchWindowMs: 100, republishGraceMs: 0, maxStreams: 9 });
    expect(c.rtmp).toEqual({ maxConnections: 50, maxConnectionsPerIp: 4 });
    expect(c.flv).toEqual({ maxConnections: 50, maxConnectionsPerIp: 4, exposeAddresses: true });
    expect(c.flvDir).toBe("/tmp/r");
  });

  it("--no-hls and --no-api turn listeners off; ONAIR_RTMP_NOAUTH=1 opens publishing", () => {
    const c = config({ argv: ["--no-hls", "--no-api"], env: { ONAIR_RTMP_NOAUTH: "1" } });
    expect([c.hls, c.api, c.rtmpNoAuth]).toEqual([false, false, true]);
  });

  it("parseCliOptions checks flags alone and reads no file", () => {
    expect(parseCliOptions(["-c", "/nonexistent.yaml", "--rtmp-port", "1"])).toMatchObject({
      help: false,
      options: { rtmpPort: 1 },
    });
    expect(parseCliOptions(["-h"])).toEqual({ help: true });
  });

  it("every setting has one YAML key, one ONAIR_ variable and one flag, all in the help", () => {
    for (const { key, env, flag } of settingNames()) {
      if (key === "server") continue;
      expect(env).toBe(`ONAIR_${key.replace(".", "_").toUpperCase()}`);
      if (flag !== null) expect(USAGE).toContain(flag);
    }
  });
});

describe("refusals name the setting", () => {
  it("an unknown key, with its file, line and column", () => {
    const file = yamlFile("rtmp_port: 1935\nrtmp_prot: 1936\n");
    const error = refusal({ argv: ["-c", file] });
    expect(error.message).toBe(`${file}:2:1: unknown setting "rtmp_prot" (did you mean rtmp_port?)`);
    expect(error.setting).toBe("rtmp_prot");
    expect(refusal({ argv: ["-c", yamlFile("jwt:\n  secrett: x\n")] }).message).toMatch(
      /:2:3: unknown setting "jwt.secrett"/,
    );
    expect(refusal({ argv: ["-c", yamlFile("rtmpaddr: ':1'\n")] }).message).toContain(
      "did you mean rtmp_addr?",
    );
    expect(refusal({ argv: ["-c", yamlFile("httpflv_adr: ':1'\n")] }).message).toContain(
      'unknown setting "httpflv_adr" (did you mean httpflv_addr?)',
    );
    expect(refusal({ argv: ["-c", yamlFile("colour: red\n")] }).message).toMatch(/unknown setting "colour"$/);
    expect(refusal({ argv: ["-c", yamlFile("level: info\n")] }).message).toMatch(
      /unknown setting "level" \(livego's; the CLI logs every publish and play; DEBUG=onair:\* adds debug logs\)$/,
    );
  });

  it("a bad value, with where it came from", () => {
    const file = yamlFile("# ports\nhls_port: 70020\n");
    expect(refusal({ argv: ["-c", file] }).message).toBe(
      `${file}:2:11: hls_port must be a port number (0 to 65535; 0 picks a free one), got 70020`,
    );
    expect(refusal({ env: { ONAIR_RTMP_ADDR: "localhost" } }).message).toBe(
      'ONAIR_RTMP_ADDR (rtmp_addr) must be "host:port" or ":port" (as ":1935"), got "localhost"',
    );
    expect(refusal({ argv: ["--rtmp-port", "99999"] }).message).toBe(
      '--rtmp-port must be a port number (0 to 65535; 0 picks a free one), got "99999"',
    );
    expect(refusal({ argv: ["--hls-variant", "dash"] }).message).toContain("ts, fmp4, low-latency");
    expect(refusal({ argv: ["--max-connections-per-ip", "0"] }).message).toContain(
      "--max-connections-per-ip",
    );
    expect(refusal({ argv: ["--webhooks-on-play", "ftp://x"] }).message).toContain("http:// or https://");
  });

  it("YAML that does not parse, and a file that is not a map", () => {
    const bad = yamlFile("rtmp_port: 1935\nserver: [\n");
    expect(refusal({ argv: ["-c", bad] }).message).toMatch(new RegExp(`^${bad}:\\d+:\\d+: not valid YAML: `));
    const list = yamlFile("- rtmp_port\n");
    expect(refusal({ argv: ["-c", list] }).message).toBe(`${list}: must be a map of settings (key: value)`);
    const dup = yamlFile("rtmp_port: 1\nrtmp_port: 2\n");
    expect(refusal({ argv: ["-c", dup] }).message).toMatch(/not valid YAML: .*[Uu]nique/);
  });

  it("apps: unknown fields, missing appname, bad push URLs", () => {
    expect(
      refusal({ argv: ["-c", yamlFile("server:\n  - appname: live\n    hsl: true\n")] }).message,
    ).toMatch(/:2:3: server item 1 has an unknown setting "hsl"/);
    expect(refusal({ argv: ["-c", yamlFile("server:\n  - live: true\n")] }).message).toContain(
      "needs an appname",
    );
    expect(
      refusal({ argv: ["-c", yamlFile("server:\n  - appname: a\n    static_push: [http://x/y]\n")] }).message,
    ).toContain("static_push item 1 must be an rtmp://HOST/APP URL");
    // Relays do not speak RTMPS, and a push needs an app: refused here, not when the server starts.
    for (const [url, message] of [
      [
        "rtmps://x/live",
        'static_push item 1 must be an rtmp://HOST/APP URL (relays do not speak RTMPS), got "rtmps://x/live"',
      ],
      ["rtmp://x", 'static_push item 1 must be an rtmp://HOST/APP URL, got "rtmp://x"'],
    ]) {
      expect(
        refusal({ argv: ["-c", yamlFile(`server:\n  - appname: a\n    static_push: [${url}]\n`)] }).message,
      ).toContain(message);
    }
  });

  it("unknown flags, a missing config file, RTMPS without its certificate", () => {
    expect(refusal({ argv: ["--nope"] }).message).toContain("--nope");
    expect(refusal({ argv: ["-c", "/nonexistent/onair.yaml"] }).message).toBe(
      "cannot read the config file /nonexistent/onair.yaml: ENOENT",
    );
    expect(refusal({ argv: ["--enable-rtmps"] }).message).toBe(
      "enable_rtmps needs rtmps_cert and rtmps_key; rtmps_cert is not set",
    );
    expect(
      refusal({ argv: ["--enable-rtmps", "--rtmps-cert", "/nonexistent.pem", "--rtmps-key", "/x.pem"] })
        .message,
    ).toBe("--rtmps-cert: rtmps_cert: cannot read /nonexistent.pem: ENOENT");
  });
});

describe("the README", () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

  it("its YAML example loads", () => {
    const example = /<!-- yaml example[^>]*-->\n```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const c = config({ argv: ["-c", yamlFile(example as string)] });
    expect(c.apps).toEqual([
      { name: "live", live: true, hls: true, flv: true, staticPush: ["rtmp://backup.example.com/live"] },
    ]);
    expect(c.jwt).toEqual({ secret: "change-me", algorithm: "HS256" });
    expect(c.hub?.publisherIdleTimeoutMs).toBe(10_000);
  });

  it("its table lists every setting with its flag", () => {
    for (const { key, flag } of settingNames()) {
      // Cells may be padded (Biome aligns markdown tables).
      const row = readme.split("\n").find((line) => new RegExp(`^\\| \`${key}\` +\\|`).test(line));
      expect(row, key).toBeDefined();
      if (flag !== null) expect(row).toMatch(new RegExp(`\\| ${flag}(,| +\\|)`));
    }
  });

  it("a default file that does not exist is no error; one named by -c is", () => {
    expect(config({ file: "/nonexistent/onair.yaml" }).rtmpPort).toBe(1935);
    expect(() => loadConfig({ env: { ONAIR_CONFIG: "/nonexistent/onair.yaml" } })).toThrow(ConfigError);
  });
});
