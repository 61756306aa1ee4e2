/**
 * Channel keys end to end in-process, with real ffmpeg and ffprobe: get a key from the API,
 * publish to live/KEY, play live/ROOM over RTMP and HTTP-FLV; unknown, reset and deleted keys
 * refused; /control/delete ends the channel; /stat/livestat counts what ffmpeg really sent.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { StreamHub } from "@onair/core";
import { createHttpFlvServer, type HttpFlvServer } from "@onair/flv";
import { createRtmpServer, type RtmpServer } from "@onair/rtmp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
import { channelKeyAuthorize } from "../src/keys/channel-key-authorize.js";
import { MemoryKeyStore } from "../src/keys/memory-key-store.js";
import { type ApiUnderTest, call, serveApi } from "./api-server.js";

/** Video and audio tag body bytes of an FLV byte stream (header skipped); a partial last tag is left out. */
function countFlvTags(bytes: Buffer): { video: number; audio: number } {
  let video = 0;
  let audio = 0;
  let offset = bytes.length >= 9 ? bytes.readUInt32BE(5) + 4 : bytes.length; // header + PreviousTagSize0
  while (offset + 11 <= bytes.length) {
    const type = bytes[offset] & 0x1f;
    const size = bytes.readUIntBE(offset + 1, 3);
    if (offset + 11 + size + 4 > bytes.length) break;
    if (type === 9) video += size;
    else if (type === 8) audio += size;
    offset += 11 + size + 4;
  }
  return { video, audio };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface StatEntry {
  key: string;
  url: string;
  stream_id: string;
  video_total_bytes: number;
  video_speed: number;
  audio_total_bytes: number;
  audio_speed: number;
}

function within5Percent(actual: number, expected: number, what: string): void {
  expect(expected, `${what}: something was sent`).toBeGreaterThan(0);
  expect(Math.abs(actual - expected) / expected, `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(
    0.05,
  );
}

describe.runIf(hasFfmpeg)("channel keys with ffmpeg", () => {
  const hub = new StreamHub({ republishGraceMs: 0, playWaitTimeoutMs: 10_000 });
  const keys = new MemoryKeyStore();
  let rtmp: RtmpServer;
  let flv: HttpFlvServer;
  let api: ApiUnderTest;
  let rtmpBase: string;
  let flvBase: string;
  const dir = tempDir("onair-keys-");
  const processes: RunningProcess[] = [];

  beforeAll(async () => {
    rtmp = createRtmpServer({ handler: hub, authorize: channelKeyAuthorize(keys) });
    flv = createHttpFlvServer({ handler: hub });
    const r = await rtmp.listen(0, "127.0.0.1");
    const f = await flv.listen(0, "127.0.0.1");
    rtmpBase = `rtmp://127.0.0.1:${r.port}`;
    flvBase = `http://127.0.0.1:${f.port}`;
    api = await serveApi({ hub, keys });
  });
  afterAll(async () => {
    for (const p of processes) p.kill();
    hub.close();
    await Promise.all([rtmp?.close(), flv?.close(), api?.close(), keys.close()]);
    dir.remove();
  });

  const publish = (name: string, seconds: number) => {
    const p = publishWithFfmpeg(`${rtmpBase}/live/${name}`, { seconds });
    processes.push(p);
    return p;
  };
  const getKey = async (room: string) =>
    (await call(`${api.base}/control/get?room=${room}`)).body.data as string;

  it("publishes with the key to live/KEY; players get live/ROOM over RTMP and HTTP-FLV; livestat counts what ffmpeg sent within 5%", async () => {
    const key = await getKey("movie");
    expect(key).toMatch(/^[A-Za-z0-9]{48}$/);

    // ffmpeg sends one encoding to onair and, packet for packet, to a file we count.
    const sentFile = join(dir.path, "sent.flv");
    const ffmpeg = run("ffmpeg", [
      ...testStreamArgs({ seconds: 12 }),
      "-map",
      "0:v",
      "-map",
      "1:a",
      "-f",
      "tee",
      `[f=flv]${rtmpBase}/live/${key}|[f=flv:flush_packets=1]${sentFile}`,
    ]);
    processes.push(ffmpeg);
    await waitFor(() => hub.isLive("live/movie"), 10_000, "live/movie to go live");
    expect(hub.streams().map((s) => s.key)).toEqual(["live/movie"]);
    // An HTTP-FLV player that counts the bytes it is given, tag by tag (HTTP-FLV answers 404 before live).
    let playerId: string | undefined;
    hub.once("play", (info) => {
      playerId = info.id;
    });
    const received: Buffer[] = [];
    const abort = new AbortController();
    const reading = fetch(`${flvBase}/live/movie.flv`, { signal: abort.signal }).then(async (response) => {
      expect(response.status).toBe(200);
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>)
        received.push(Buffer.from(chunk));
    });
    reading.catch(() => {});
    await waitFor(() => playerId !== undefined, 5000, "the HTTP-FLV player");

    // The key is in no stream key, URL or id the server shows.
    const stat0 = await call(`${api.base}/stat/livestat`);
    expect(stat0.text).not.toContain(key);

    await sleep(2500);
    // Freeze ffmpeg, let what it sent arrive, then compare.
    ffmpeg.child.kill("SIGSTOP");
    try {
      await sleep(700);
      const stat = (await call(`${api.base}/stat/livestat?room=movie`)).body.data as {
        publishers: StatEntry[];
        players: StatEntry[];
      };
      const sent = countFlvTags(readFileSync(sentFile));
      expect(stat.publishers).toHaveLength(1);
      const publisher = stat.publishers[0];
      expect(publisher.key).toBe("live/movie");
      expect(publisher.url).toMatch(/\/live\/movie$/);
      within5Percent(publisher.video_total_bytes, sent.video, "publisher video bytes");
      within5Percent(publisher.audio_total_bytes, sent.audio, "publisher audio bytes");
      // ~3 s of 320x240 x264 ultrafast and 64k AAC: speeds in kbit/s, not bytes.
      expect(publisher.video_speed).toBeGreaterThan(20);
      expect(publisher.video_speed).toBeLessThan(5000);
      expect(publisher.audio_speed).toBeGreaterThan(20);
      expect(publisher.audio_speed).toBeLessThan(200);

      const player = stat.players.find((p) => p.stream_id === playerId);
      expect(player?.url).toMatch(/\/live\/movie\.flv$/);
      const got = countFlvTags(Buffer.concat(received));
      within5Percent(player?.video_total_bytes ?? 0, got.video, "HTTP-FLV player video bytes");
      within5Percent(player?.audio_total_bytes ?? 0, got.audio, "HTTP-FLV player audio bytes");
    } finally {
      ffmpeg.child.kill("SIGCONT");
    }

    // Players by room, over RTMP and HTTP-FLV, decode H.264 and AAC.
    const [overRtmp, overFlv] = await Promise.all([
      probeFrames(`${rtmpBase}/live/movie`, ["-read_intervals", "%+2"], 20_000),
      probeFrames(`${flvBase}/live/movie.flv`, ["-read_intervals", "%+2"], 20_000),
    ]);
    for (const [what, probe] of [
      ["RTMP", overRtmp],
      ["HTTP-FLV", overFlv],
    ] as const) {
      expect(probe.streams.map((s) => s.codec_name).sort(), what).toEqual(["aac", "h264"]);
      expect(probe.frames.filter((f) => f.mediaType === "video").length, what).toBeGreaterThan(20);
      expect(probe.frames.filter((f) => f.mediaType === "audio").length, what).toBeGreaterThan(20);
    }
    abort.abort();
    ffmpeg.kill();
    await ffmpeg.exited;
    await waitFor(() => !hub.isLive("live/movie"), 5000, "live/movie to end");
  });

  it("refuses an unknown key, the old key after /control/reset at once, and takes the new one", async () => {
    const refusedBefore = rtmp.stats().refused.unauthorized;
    const wrong = publish("NotAKeyOfAnyRoom0000000000000000000000000000000", 5);
    expect(await wrong.exited).not.toBe(0);
    expect(hub.streams()).toEqual([]);

    const old = await getKey("movie");
    const reset = await call(`${api.base}/control/reset?room=movie`);
    const fresh = reset.body.data as string;
    expect(fresh).not.toBe(old);
    const withOld = publish(old, 5);
    expect(await withOld.exited).not.toBe(0);
    expect(hub.streams()).toEqual([]);
    expect(rtmp.stats().refused.unauthorized).toBe(refusedBefore + 2);

    const withNew = publish(fresh, 20);
    await waitFor(() => hub.isLive("live/movie"), 10_000, "live/movie with the new key");
    withNew.kill();
    await withNew.exited;
  });

  it("/control/delete ends the live channel and its players, says Ok once and 404 after; its key is refused", async () => {
    const key = await getKey("movie");
    const ffmpeg = publish(key, 30);
    await waitFor(() => hub.isLive("live/movie"), 10_000, "live/movie to go live");
    const started = Date.now();
    const player = probeFrames(`${rtmpBase}/live/movie`, [], 30_000);
    await waitFor(() => (hub.get("live/movie")?.writerCount ?? 0) > 0, 10_000, "the RTMP player");
    await sleep(1000);

    const deleted = await call(`${api.base}/control/delete?room=movie`);
    expect(deleted.body).toEqual({ status: 200, data: "Ok" });
    expect(hub.isLive("live/movie")).toBe(false);
    expect(await ffmpeg.exited).not.toBe(0);
    const probe = await player;
    expect(probe.frames.length).toBeGreaterThan(0);
    // Both ended by the delete, long before the 30 s stream would have.
    expect(Date.now() - started).toBeLessThan(15_000);

    const again = await call(`${api.base}/control/delete?room=movie`);
    expect(again.httpStatus).toBe(404);
    expect(again.body).toEqual({ status: 404, data: "room not found" });
    const withDeleted = publish(key, 5);
    expect(await withDeleted.exited).not.toBe(0);
    expect(hub.streams()).toEqual([]);
  });
});
