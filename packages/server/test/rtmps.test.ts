/**
 * RTMPS: the CLI with a certificate (self-signed, made by openssl here) takes ffmpeg publishing to
 * rtmps:// and serves it back over RTMPS (ffprobe, and onair's own RtmpClient) and plain RTMP; the
 * same certificate serves HLS over HTTPS.
 */
import { join } from "node:path";
import type { MediaPacket } from "@onair/core";
import { RtmpClient } from "@onair/rtmp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hasCommand,
  hasFfmpeg,
  probeFrames,
  publishWithFfmpeg,
  requireTool,
  run,
  tempDir,
} from "../../../test-support/media-tools.js";
import { type CliProcess, runCli, startCli } from "./cli-process.js";

const hasOpenssl = requireTool("openssl", hasCommand("openssl"));
const hasCurl = requireTool("curl", hasCommand("curl"));

async function selfSigned(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const openssl = run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "1",
    "-subj",
    "/CN=localhost",
  ]);
  if ((await openssl.exited) !== 0) throw new Error(`openssl failed: ${openssl.stderr()}`);
  return { cert, key };
}

describe.skipIf(!hasFfmpeg || !hasOpenssl || !hasCurl)("RTMPS", () => {
  const dir = tempDir("onair-rtmps-");
  let files: { cert: string; key: string };
  let cli: CliProcess;

  beforeAll(async () => {
    files = await selfSigned(dir.path);
    cli = await startCli({
      config: {
        rtmp_noauth: true,
        enable_rtmps: true,
        rtmps_cert: files.cert,
        rtmps_key: files.key,
        republish_grace: 0,
        // The same certificate for HLS: HTTPS (HTTP/2 and HTTP/1.1).
        hls_cert: files.cert,
        hls_key: files.key,
        enable_api: false,
      },
    });
  });
  afterAll(async () => {
    await cli?.stop();
    dir.remove();
  });

  it("ffmpeg publishes to rtmps://; ffprobe plays over RTMPS and RTMP; RtmpClient plays over RTMPS", async () => {
    expect(cli.stdout()).toMatch(/onair RTMPS listening on rtmps:\/\/127\.0\.0\.1:\d+\/APP\/NAME/);
    expect(cli.stdout()).toMatch(/onair HLS listening on https:\/\/127\.0\.0\.1:\d+\//);
    // 6 s: the players join after the HLS check (~2 s in) and start at the keyframe before that.
    const publisher = publishWithFfmpeg(cli.url("rtmps", "live/tls"), { seconds: 6 });
    await cli.waitForLog("publish live/tls");

    const client = await RtmpClient.connect(cli.url("rtmps", "live"), { tls: { rejectUnauthorized: false } });
    const packets: MediaPacket[] = [];
    const reader = await client.play("tls");
    reader.attach({ packet: (p) => packets.push(p), end: () => {} });

    // HLS over HTTPS with the same certificate (curl -k: it is self-signed), over HTTP/2.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const curl = run("curl", [
      "-sk",
      "--http2",
      "-w",
      "\n%{http_version}",
      `https://127.0.0.1:${cli.ports.hls}/live/tls.m3u8`,
    ]);
    expect(await curl.exited).toBe(0);
    expect(curl.stdout()).toMatch(/^#EXTM3U\n[\s\S]*\n2$/);

    const [overTls, plain] = await Promise.all([
      probeFrames(cli.url("rtmps", "live/tls")),
      probeFrames(cli.url("rtmp", "live/tls")),
    ]);
    expect(await publisher.exited).toBe(0);
    for (const probe of [overTls, plain]) {
      expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
      expect(probe.frames.filter((f) => f.mediaType === "video").length).toBeGreaterThan(50);
    }
    expect(packets.filter((p) => p.kind === "video").length).toBeGreaterThan(50);
    client.close();
    // The publisher came over TLS: the server saw it as an ordinary RTMP publish.
    expect(cli.stdout()).toMatch(/publish live\/tls from 127\.0\.0\.1:\d+/);
  });

  it("a client that does not speak TLS to the RTMPS port is dropped, and the server goes on", async () => {
    const plainToTls = run("ffprobe", [
      "-v",
      "error",
      "-rw_timeout",
      "3000000",
      `rtmp://127.0.0.1:${cli.ports.rtmps}/live/x`,
    ]);
    expect(await plainToTls.exited).not.toBe(0);
    const again = publishWithFfmpeg(cli.url("rtmps", "live/again"), { seconds: 1 });
    expect(await again.exited).toBe(0);
  });

  it("refuses to start when the certificate file is missing, naming the setting (exit code 2)", async () => {
    const result = await runCli({
      config: {
        enable_rtmps: true,
        rtmps_cert: files.key.replace("key.pem", "nope.pem"),
        rtmps_key: files.key,
      },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/rtmps_cert: cannot read .*nope\.pem: ENOENT/);
  });
});
