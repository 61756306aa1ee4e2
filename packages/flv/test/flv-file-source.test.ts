import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type MediaPacket, StreamHub } from "@onair/core";
import { describe, expect, it } from "vitest";
import { hasFfmpeg, makeFlvFile, tempDir } from "../../../test-support/media-tools.js";
import { encodeFlvHeader, encodeFlvTag, FlvError, FlvFileSource } from "../src/index.js";

function writeClip(path: string, timestamps: number[]): void {
  const tags = timestamps.map((t, i) =>
    encodeFlvTag("video", t, Buffer.from([i % 3 === 0 ? 0x17 : 0x27, 1, 0, 0, 0, i])),
  );
  writeFileSync(path, Buffer.concat([encodeFlvHeader({ audio: false, video: true }), ...tags]));
}

describe("FlvFileSource", () => {
  it("publishes in real time, paced by tag timestamps", async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, "clip.flv");
      writeClip(path, [0, 100, 200, 300, 400]);
      const hub = new StreamHub();
      const source = new FlvFileSource(path, { app: "live", name: "clip" });
      const arrivals: [number, number][] = [];
      hub.handleReader(source);
      const started = Date.now();
      const ended = new Promise<void>((resolve) => hub.once("unpublish", () => resolve()));
      // Tap the source to see when each packet goes out.
      const push = source.push.bind(source);
      source.push = (p: MediaPacket) => {
        arrivals.push([p.timestamp, Date.now() - started]);
        push(p);
      };
      source.start();
      await ended;
      expect(arrivals.map(([t]) => t)).toEqual([0, 100, 200, 300, 400]);
      for (const [t, at] of arrivals) {
        expect(at).toBeGreaterThanOrEqual(t - 5);
        expect(at).toBeLessThan(t + 150);
      }
    } finally {
      dir.remove();
    }
  });

  it("loops with timestamps that keep growing", async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, "clip.flv");
      writeClip(path, [0, 20, 40]);
      const hub = new StreamHub();
      const source = new FlvFileSource(path, { app: "live", name: "loop", loop: true });
      const seen: number[] = [];
      const push = source.push.bind(source);
      source.push = (p: MediaPacket) => {
        seen.push(p.timestamp);
        push(p);
      };
      hub.handleReader(source);
      source.start();
      await new Promise((r) => setTimeout(r, 300));
      source.stop();
      expect(seen.slice(0, 7)).toEqual([0, 20, 40, 80, 100, 120, 160]);
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]);
      expect(hub.isLive("live/loop")).toBe(false);
    } finally {
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
