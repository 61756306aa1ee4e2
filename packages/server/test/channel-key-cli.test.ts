/**
 * Channel keys and the control API end to end through the `onair` CLI as a separate process, with
 * real ffmpeg/ffprobe and redis-server: get a key, publish with it, play by room over RTMP,
 * HTTP-FLV and HLS; unknown and reset keys refused; delete ends the channel; livestat counts what
 * ffmpeg sent; two servers share keys through Redis, and keys survive a restart; JWT.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SignJWT } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import {
  hasFfmpeg,
  probeFrames,
  publishWithFfmpeg,
  type RunningProcess,
  run,
  tempDir,
  testStreamArgs,
  waitFor,
} from "../../../test-support/media-tools.js";
import { hasRedis, startRedis } from "../../../test-support/redis.js";
import { type CliProcess, startCli } from "./cli-process.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Video and audio tag body bytes of an FLV file (a partial last tag left out). */
function countFlvTags(bytes: Buffer): { video: number; audio: number } {
  let video = 0;
  let audio = 0;
  let offset = bytes.length >= 9 ? bytes.readUInt32BE(5) + 4 : bytes.length;
  while (offset + 11 <= bytes.length) {
    const size = bytes.readUIntBE(offset + 1, 3);
    if (offset + 11 + size + 4 > bytes.length) break;
    if ((bytes[offset] & 0x1f) === 9) video += size;
    else if ((bytes[offset] & 0x1f) === 8) audio += size;
    offset += 11 + size + 4;
  }
  return { video, audio };
}

async function api(
  cli: CliProcess,
  path: string,
  init?: RequestInit,
): Promise<{ http: number; body: { status: number; data: unknown } }> {
  const response = await fetch(cli.url("api", path), init);
  return { http: response.status, body: (await response.json()) as { status: number; data: unknown } };
}

describe.runIf(hasFfmpeg && hasRedis)("channel keys through the onair CLI", () => {
  const processes: RunningProcess[] = [];
  const clis: CliProcess[] = [];
  const dir = tempDir("onair-keys-cli-");
  const publish = (url: string, seconds: number) => {
    const p = publishWithFfmpeg(url, { seconds });
    processes.push(p);
    return p;
  };
  afterAll(async () => {
    for (const p of processes) p.kill();
    await Promise.all(clis.map((cli) => cli.stop()));
    dir.remove();
  });

  it("get a key, publish with it, play by room over RTMP, HTTP-FLV and HLS; livestat within 5%; reset and delete", async () => {
    const cli = await startCli({ config: { hls_variant: "ts" } });
    clis.push(cli);
    const get = await api(cli, "/control/get?room=movie");
    expect(get.http).toBe(200);
    const key = get.body.data as string;
    expect(key).toMatch(/^[A-Za-z0-9]{48}$/);

    const sentFile = join(dir.path, "sent.flv");
    const ffmpeg = run("ffmpeg", [
      ...testStreamArgs({ seconds: 30 }),
      "-map",
      "0:v",
      "-map",
      "1:a",
      // tee has no global header of its own: without this, x264 sends an empty AVC sequence header
      // and its SPS/PPS in band, which FLV players take but the HLS segmenter does not.
      "-flags:v",
      "+global_header",
      "-f",
      "tee",
      `[f=flv]${cli.url("rtmp", `live/${key}`)}|[f=flv:flush_packets=1]${sentFile}`,
    ]);
    processes.push(ffmpeg);
    await cli.waitForLog("publish live/movie");

    // livestat against what ffmpeg sent, frozen at one instant.
    await sleep(2000);
    ffmpeg.child.kill("SIGSTOP");
    try {
      await sleep(700);
      const stat = (await api(cli, "/stat/livestat?room=movie")).body.data as {
        publishers: { key: string; video_total_bytes: number; audio_total_bytes: number }[];
      };
      const sent = countFlvTags(readFileSync(sentFile));
      expect(stat.publishers).toHaveLength(1);
      expect(stat.publishers[0].key).toBe("live/movie");
      for (const [got, want] of [
        [stat.publishers[0].video_total_bytes, sent.video],
        [stat.publishers[0].audio_total_bytes, sent.audio],
      ]) {
        expect(want).toBeGreaterThan(0);
        expect(Math.abs(got - want) / want).toBeLessThanOrEqual(0.05);
      }
    } finally {
      ffmpeg.child.kill("SIGCONT");
    }

    // Players by room over every protocol.
    await sleep(2500); // HLS needs a segment or two
    const probes = await Promise.all([
      probeFrames(cli.url("rtmp", "live/movie"), ["-read_intervals", "%+2"], 20_000),
      probeFrames(cli.url("flv", "live/movie"), ["-read_intervals", "%+2"], 20_000),
      probeFrames(cli.url("hls", "live/movie"), ["-read_intervals", "%+2"], 20_000),
    ]);
    for (const [i, what] of ["RTMP", "HTTP-FLV", "HLS"].entries()) {
      expect(probes[i].streams.map((s) => s.codec_name).sort(), what).toEqual(["aac", "h264"]);
      expect(probes[i].frames.filter((f) => f.mediaType === "video").length, what).toBeGreaterThan(10);
    }

    // An unknown key, and the old key after a reset, are refused (while the channel stays live).
    const unknown = publish(cli.url("rtmp", "live/NoSuchKeyNoSuchKeyNoSuchKeyNoSuchKeyNoSuchKey0"), 5);
    expect(await unknown.exited).not.toBe(0);
    const reset = await api(cli, "/control/reset?room=movie");
    expect(reset.body.status).toBe(200);
    const fresh = reset.body.data as string;
    expect(fresh).not.toBe(key);
    const withOld = publish(cli.url("rtmp", `live/${key}`), 5);
    expect(await withOld.exited).not.toBe(0);

    // Delete ends the channel: its publisher goes, its players end, the room and its key are gone.
    const plays = () => cli.stdout().split("play live/movie by").length;
    const playsBefore = plays();
    const player = probeFrames(cli.url("rtmp", "live/movie"), [], 30_000);
    await waitFor(() => plays() > playsBefore, 10_000, "the RTMP player");
    await sleep(500);
    const deletedAt = Date.now();
    const deleted = await api(cli, "/control/delete?room=movie");
    expect(deleted.body).toEqual({ status: 200, data: "Ok" });
    await cli.waitForLog("unpublish live/movie");
    const played = await player;
    expect(played.frames.length).toBeGreaterThan(0);
    expect(Date.now() - deletedAt).toBeLessThan(5000);
    // (ffmpeg's tee output does not stop on the server's refusal; the plain publisher does, see
    // channel-key-ffmpeg.test.ts.)
    ffmpeg.kill();
    expect((await api(cli, "/control/delete?room=movie")).body).toEqual({
      status: 404,
      data: "room not found",
    });
    const withDeleted = publish(cli.url("rtmp", `live/${fresh}`), 5);
    expect(await withDeleted.exited).not.toBe(0);

    // The key never reaches the log.
    expect(cli.stdout() + cli.stderr()).not.toContain(key);
    expect(cli.stdout() + cli.stderr()).not.toContain(fresh);
    const { code } = await cli.stop();
    expect(code).toBe(0);
  });

  it("two servers on one Redis accept the same key; keys survive a restart; JWT guards the API", async () => {
    const redis = await startRedis();
    try {
      const secret = "e2e secret for the onair API";
      const common = { redis_addr: redis.addr, enable_hls: false };
      const a = await startCli({ config: { ...common, jwt: { secret } } });
      const b = await startCli({ config: common });
      clis.push(a, b);

      const refused = await api(a, "/control/get?room=shared");
      expect(refused.http).toBe(403);
      expect(refused.body).toEqual({ status: 403, data: "Required authorization token not found" });
      const token = await new SignJWT({ sub: "e2e" })
        .setProtectedHeader({ alg: "HS256" })
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode(secret));
      const bad = await api(a, `/control/get?room=shared&jwt=${token.slice(0, -2)}xx`);
      expect(bad.http).toBe(403);
      const got = await api(a, "/control/get?room=shared", { headers: { authorization: `Bearer ${token}` } });
      expect(got.http).toBe(200);
      const key = got.body.data as string;

      // Server B never handed out this key, and accepts it.
      const ffmpeg = publish(b.url("rtmp", `live/${key}`), 20);
      await b.waitForLog("publish live/shared");
      ffmpeg.kill();
      expect((await api(b, "/control/get?room=shared")).body.data).toBe(key);

      // A restarts: the key is still the room's.
      await a.stop();
      const again = await startCli({ config: { ...common, jwt: { secret } } });
      clis.push(again);
      const after = await api(again, `/control/get?room=shared&jwt=${token}`);
      expect(after.body.data).toBe(key);
    } finally {
      await Promise.all(clis.map((cli) => cli.stop()));
      await redis.stop();
    }
  });
});
