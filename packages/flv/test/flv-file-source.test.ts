import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type MediaPacket, StreamHub } from "@onair/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { hasFfmpeg, makeFlvFile, tempDir } from "../../../test-support/media-tools.js";
import { encodeFlvHeader, encodeFlvTag, FlvError, FlvFileSource } from "../src/index.js";

function writeClip(path: string, timestamps: number[]): void {
  const tags = timestamps.map((t, i) =>
    encodeFlvTag("video", t, Buffer.from([i % 3 === 0 ? 0x17 : 0x27, 1, 0, 0, 0, i])),
  );
  writeFileSync(path, Buffer.concat([encodeFlvHeader({ audio: false, video: true }), ...tags]));
}

describe("FlvFileSource", () => {
  // The pacing is setTimeout against Date.now(); fake timers (which fake both) make it exact and
  // instant. The ffmpeg test below runs on real timers.
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Taps a source to record each packet's timestamp and when (ms after `started`) it went out. */
  function tap(source: FlvFileSource, started: number): [number, number][] {
    const pushed: [number, number][] = [];
    const push = source.push.bind(source);
    source.push = (p: MediaPacket) => {
      pushed.push([p.timestamp, Date.now() - started]);
      push(p);
    };
    return pushed;
  }

  it("publishes in real time, paced by tag timestamps: each tag at its time, not a millisecond early", () => {
    vi.useFakeTimers();
    const dir = tempDir();
    const hub = new StreamHub();
    try {
      const path = join(dir.path, "clip.flv");
      writeClip(path, [0, 100, 250, 300, 400]);
      const source = new FlvFileSource(path, { app: "live", name: "clip" });
      hub.handleReader(source);
      let ended = false;
      hub.once("unpublish", () => {
        ended = true;
      });
      const started = Date.now();
      const pushed = tap(source, started);
      source.start();
      expect(pushed).toEqual([[0, 0]]);
      for (const t of [100, 250, 300, 400]) {
        vi.advanceTimersByTime(t - 1 - (Date.now() - started));
        expect(pushed.at(-1)?.[0]).toBeLessThan(t);
        vi.advanceTimersByTime(1);
        expect(pushed.at(-1)).toEqual([t, t]);
      }
      expect(pushed.map(([t]) => t)).toEqual([0, 100, 250, 300, 400]);
      // The last tag ends the stream at once.
      expect(ended).toBe(true);
      vi.advanceTimersByTime(1000);
      expect(pushed).toHaveLength(5);
    } finally {
      hub.close();
      dir.remove();
    }
  });

  it("loops with timestamps that keep growing, each pass one frame after the last", () => {
    vi.useFakeTimers();
    const dir = tempDir();
    const hub = new StreamHub();
    try {
      const path = join(dir.path, "clip.flv");
      writeClip(path, [0, 20, 40]);
      const source = new FlvFileSource(path, { app: "live", name: "loop", loop: true });
      hub.handleReader(source);
      const pushed = tap(source, Date.now());
      source.start();
      vi.advanceTimersByTime(200);
      // A pass lasts 40 ms plus one 25 fps frame: passes start at 0, 80 and 160.
      expect(pushed).toEqual([0, 20, 40, 80, 100, 120, 160, 180, 200].map((t) => [t, t]));
      source.stop();
      expect(hub.isLive("live/loop")).toBe(false);
      vi.advanceTimersByTime(1000);
      expect(pushed).toHaveLength(9);
    } finally {
      hub.close();
      dir.remove();
    }
  });

  it("refuses a file that is not FLV or is cut short before any tag", () => {
    const dir = tempDir();
    try {
      const bad = join(dir.path, "bad.flv");
      writeFileSync(bad, Buffer.from("not an flv file at all"));
      expect(() => new FlvFileSource(bad, { app: "live", name: "x" })).toThrow(FlvError);
      const cut = join(dir.path, "cut.flv");
      writeFileSync(
        cut,
        Buffer.concat([encodeFlvHeader({ audio: false, video: true }), Buffer.from([9, 0, 0])]),
      );
      expect(() => new FlvFileSource(cut, { app: "live", name: "x" })).toThrow(FlvError);
    } finally {
      dir.remove();
    }
  });

  it.skipIf(!hasFfmpeg)("publishes every tag of an ffmpeg file", async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, "real.flv");
      await makeFlvFile(path, { seconds: 1 });
      const hub = new StreamHub();
      const source = new FlvFileSource(path, { app: "live", name: "real" });
      hub.handleReader(source);
      const stream = hub.get("live/real");
      const ended = new Promise<void>((resolve) => hub.once("unpublish", () => resolve()));
      source.start();
      const packetsBefore = source.tagCount;
      await ended;
      expect(stream?.stats().packets).toBe(packetsBefore);
    } finally {
      dir.remove();
    }
  });
});
