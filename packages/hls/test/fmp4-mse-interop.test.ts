/**
 * Chromium's Media Source Extensions take what the fMP4 muxer writes: the CODECS string is
 * supported, the init segment and every fragment append without an error, the buffered ranges are
 * the stream's, and the video plays. (Debian's Chromium supports no MP3 in MP4 under MSE:
 * isTypeSupported is false for mp4a.6B, mp4a.69 and mp4a.40.34, so MP3 is checked by ffprobe only.)
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { MediaPacket } from "@onair/core";
import { createPacketFromTagBody, FlvDemuxer } from "@onair/flv";
import { Fmp4Muxer } from "@onair/hls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasChromium, launchChromium } from "../../../test-support/browser.js";
import { hasFfmpeg, makeFlvFile, tempDir } from "../../../test-support/media-tools.js";

const dir = tempDir("onair-hls-mse-");

function readPackets(path: string): MediaPacket[] {
  const packets: MediaPacket[] = [];
  new FlvDemuxer().push(readFileSync(path), (tag) => {
    packets.push(createPacketFromTagBody(tag.kind, tag.timestamp, Buffer.from(tag.body)));
  });
  return packets;
}

/** The init segment and one fragment per GOP, base64, with the CODECS string. */
function mux(packets: readonly MediaPacket[]): { codecs: string; segments: string[] } {
  const muxer = new Fmp4Muxer();
  const fragments: Buffer[] = [];
  for (const packet of packets) {
    if (packet.kind === "video" && packet.keyframe && muxer.pendingSamples > 0) {
      fragments.push(muxer.flush(packet.timestamp));
    }
    muxer.push(packet);
  }
  fragments.push(muxer.flush());
  const init = muxer.initSegment() as Buffer;
  return { codecs: muxer.codecs, segments: [init, ...fragments].map((b) => b.toString("base64")) };
}

interface MseResult {
  supported: boolean;
  error: string | undefined;
  buffered: [number, number][];
  currentTime: number;
  videoWidth: number;
  videoHeight: number;
}

/** Runs in the page: appends every segment to a SourceBuffer, then plays until `playUntil` s (0: no playback). */
async function appendAndPlay(args: {
  mime: string;
  segments: string[];
  playUntil: number;
}): Promise<MseResult> {
  const result: MseResult = {
    supported: false,
    error: undefined,
    buffered: [],
    currentTime: 0,
    videoWidth: 0,
    videoHeight: 0,
  };
  result.supported = MediaSource.isTypeSupported(args.mime);
  if (!result.supported) return result;
  const video = document.createElement("video");
  video.muted = true;
  document.body.appendChild(video);
  const source = new MediaSource();
  video.src = URL.createObjectURL(source);
  await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
  const buffer = source.addSourceBuffer(args.mime);
  try {
    for (const segment of args.segments) {
      const bytes = Uint8Array.from(atob(segment), (c) => c.charCodeAt(0));
      await new Promise<void>((resolve, reject) => {
        buffer.addEventListener("updateend", () => resolve(), { once: true });
        buffer.addEventListener("error", () => reject(new Error("SourceBuffer error")), { once: true });
        buffer.appendBuffer(bytes);
      });
    }
    for (let i = 0; i < buffer.buffered.length; i++)
      result.buffered.push([buffer.buffered.start(i), buffer.buffered.end(i)]);
    source.endOfStream();
    if (args.playUntil > 0) {
      video.currentTime = buffer.buffered.start(0);
      await video.play();
      const deadline = Date.now() + 10_000;
      while (
        video.currentTime < args.playUntil &&
        !video.ended &&
        video.error === null &&
        Date.now() < deadline
      ) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } catch (error) {
    result.error = String(error);
  }
  if (video.error !== null) result.error = `MediaError ${video.error.code}: ${video.error.message}`;
  result.currentTime = video.currentTime;
  result.videoWidth = video.videoWidth;
  result.videoHeight = video.videoHeight;
  return result;
}

describe.skipIf(!hasFfmpeg || !hasChromium)("fMP4 in Chromium's Media Source Extensions", () => {
  const av = join(dir.path, "av.flv");
  let browser: Awaited<ReturnType<typeof launchChromium>>;

  beforeAll(async () => {
    [browser] = await Promise.all([launchChromium(), makeFlvFile(av, { seconds: 3, fps: 25, gop: 25 })]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    dir.remove();
  });

  it("H.264 + AAC: supported, appended without error, buffered from 0 to 3 s, plays", async () => {
    const { codecs, segments } = mux(readPackets(av));
    const page = await browser.context.newPage();
    await page.setContent("<!doctype html><body></body>");
    const result = await page.evaluate(appendAndPlay, {
      mime: `video/mp4; codecs="${codecs}"`,
      segments,
      playUntil: 1.5,
    });
    await page.close();
    expect(result.supported).toBe(true);
    expect(result.error).toBeUndefined();
    expect(result.buffered).toHaveLength(1);
    expect(result.buffered[0][0]).toBeLessThan(0.05);
    expect(result.buffered[0][1]).toBeGreaterThan(2.9);
    expect(result.currentTime).toBeGreaterThanOrEqual(1.5);
    expect([result.videoWidth, result.videoHeight]).toEqual([320, 240]);
  });

  it("audio only (AAC): appended without error and buffered; HE-AAC CODECS strings are supported", async () => {
    const { codecs, segments } = mux(readPackets(av).filter((p) => p.kind === "audio"));
    expect(codecs).toBe("mp4a.40.2");
    const page = await browser.context.newPage();
    await page.setContent("<!doctype html><body></body>");
    const result = await page.evaluate(appendAndPlay, {
      mime: `audio/mp4; codecs="${codecs}"`,
      segments,
      playUntil: 0,
    });
    const heAac = await page.evaluate(() =>
      ["mp4a.40.5", "mp4a.40.29"].map((c) => MediaSource.isTypeSupported(`audio/mp4; codecs="${c}"`)),
    );
    await page.close();
    expect(result.supported).toBe(true);
    expect(result.error).toBeUndefined();
    expect(result.buffered).toHaveLength(1);
    expect(result.buffered[0][1] - result.buffered[0][0]).toBeGreaterThan(2.9);
    expect(heAac).toEqual([true, true]);
  });
});
