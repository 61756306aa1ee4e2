/**
 * HlsStreams over a real StreamHub: one segmenter per published stream, republish within the
 * grace (one segmenter, a discontinuity) and after it (a new segmenter, new names, the old playlist
 * ended then dropped), the shared byte bound under 200 streams, directory output, close().
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MediaPacket, StreamHub, type StreamInfo, StreamSource } from "@onair/core";
import { HlsSegmenter, HlsStreams, type HlsStreamsOptions, TS_PID } from "@onair/hls";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  aacHeader,
  av1Frame,
  av1Header,
  extinfs,
  fileOf,
  frames,
  segmentUris,
  stream,
  tagValues,
} from "./segment-packets.js";
import { readPes, splitPackets } from "./ts-reader.js";

let sourceId = 0;
function publish(hub: StreamHub, key = "live/cam"): StreamSource {
  const [app, name] = key.split("/");
  sourceId += 1;
  const info: StreamInfo = {
    key,
    app,
    name,
    url: `rtmp://test/${key}`,
    id: `r${sourceId}`,
    remoteAddress: "10.0.0.1:5000",
  };
  const source = new StreamSource(info);
  hub.handleReader(source);
  return source;
}

function push(source: StreamSource, packets: MediaPacket[]): void {
  for (const packet of packets) source.push(packet);
}

function setup(options: HlsStreamsOptions = {}, hubOptions: ConstructorParameters<typeof StreamHub>[0] = {}) {
  const hub = new StreamHub({ batchWindowMs: 0, publisherIdleTimeoutMs: 0, ...hubOptions });
  const streams = new HlsStreams(hub, { variant: "ts", ...options });
  return { hub, streams };
}

const firstVideoDts = (bytes: Buffer): number | undefined =>
  readPes(splitPackets(bytes), TS_PID.video)[0]?.dts;

afterEach(() => {
  vi.useRealTimers();
});

describe("HlsStreams", () => {
  it("makes one segmenter per published stream, as a writer of the hub; get() finds it", () => {
    const { hub, streams } = setup();
    const a = publish(hub, "live/a");
    const b = publish(hub, "live/b");
    push(a, stream({ durationMs: 2500 }));
    push(b, stream({ durationMs: 3500 }));
    expect(extinfs(streams.get("live", "a")?.playlist() ?? "")).toEqual([1, 1]);
    expect(extinfs(streams.get("live", "b")?.playlist() ?? "")).toEqual([1, 1, 1]);
    expect(streams.get("live", "c")).toBeUndefined();
    expect(hub.get("live/a")?.writerCount).toBe(1);
    const writer = hub.get("live/a")?.writers[0];
    expect(writer).toBe(streams.segmenter("live/a"));
    expect(writer?.info.remoteAddress).toBeUndefined();
    expect(writer?.info.url).toBe("/live/a.m3u8");
    expect(streams.stats()).toMatchObject({ streams: 2, ended: 0, segments: 5 });
    streams.close();
    hub.close();
  });

  it("a publisher back within the grace: the same segmenter, one EXT-X-DISCONTINUITY, time going on", () => {
    vi.useFakeTimers();
    const { hub, streams } = setup({}, { republishGraceMs: 5000 });
    const first = publish(hub);
    push(first, stream({ durationMs: 2500 }));
    const segmenter = streams.segmenter("live/cam");
    first.end();
    // The tail of the stream is playable during the grace.
    expect(extinfs(segmenter?.playlist() ?? "")).toEqual([1, 1, 0.52]);
    vi.advanceTimersByTime(2000);
    const second = publish(hub);
    push(second, stream({ durationMs: 3500 })); // its own timestamps from 0: the hub rebases them
    expect(streams.segmenter("live/cam")).toBe(segmenter);
    expect(streams.stats().streams).toBe(1);
    expect(hub.get("live/cam")?.writerCount).toBe(1);
    const playlist = segmenter?.playlist() ?? "";
    expect(playlist.split("\n").filter((l) => l === "#EXT-X-DISCONTINUITY")).toHaveLength(1);
    expect(extinfs(playlist)).toEqual([1, 1, 0.52, 1, 1, 1]);
    const segments = segmentUris(playlist).map((uri) => segmenter?.resource(fileOf(uri))?.bytes as Buffer);
    // The first segment after the republish continues the timeline: the hub puts the new
    // publisher's first packet 40 ms after the last one sent (audio at 2485 ms).
    expect(firstVideoDts(segments[3])).toBe((2485 + 40) * 90);
    streams.close();
    hub.close();
  });

  it("after the grace: the old playlist ends and is dropped after keepAfterEndMs; a new publisher gets a new segmenter, new names", () => {
    vi.useFakeTimers();
    const { hub, streams } = setup({ keepAfterEndMs: 30_000 }, { republishGraceMs: 5000 });
    const first = publish(hub);
    push(first, stream({ durationMs: 2500 }));
    const old = streams.segmenter("live/cam") as HlsSegmenter;
    first.end();
    vi.advanceTimersByTime(5000);
    expect(old.ended).toBe(true);
    expect(old.playlist().endsWith("#EXT-X-ENDLIST\n")).toBe(true);
    expect(streams.get("live", "cam")).toBe(old);
    vi.advanceTimersByTime(29_999);
    expect(streams.get("live", "cam")).toBe(old);
    vi.advanceTimersByTime(1);
    expect(streams.get("live", "cam")).toBeUndefined();
    expect(streams.stats()).toMatchObject({ streams: 0, bytes: 0 });
    expect(old.resource(fileOf(segmentUris(old.playlist())[0] ?? "x"))).toBeUndefined();

    // A publisher that comes while an ended playlist is still kept: a new segmenter at once,
    // continuing the numbers, names unlike the old ones.
    const second = publish(hub);
    push(second, stream({ durationMs: 2500 }));
    const middle = streams.segmenter("live/cam") as HlsSegmenter;
    second.end();
    vi.advanceTimersByTime(5000);
    expect(middle.ended).toBe(true);
    const middleUris = segmentUris(middle.playlist());
    const third = publish(hub);
    push(third, stream({ durationMs: 2500 }));
    const fresh = streams.segmenter("live/cam") as HlsSegmenter;
    expect(fresh).not.toBe(middle);
    expect(streams.get("live", "cam")).toBe(fresh);
    expect(middle.resource(fileOf(middleUris[0]))).toBeUndefined(); // replaced: dropped at once
    const playlist = fresh.playlist();
    expect(tagValues(playlist, "#EXT-X-MEDIA-SEQUENCE:")).toEqual(["3"]);
    expect(playlist).toContain("#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-DISCONTINUITY\n");
    for (const uri of segmentUris(playlist)) expect(middleUris).not.toContain(uri);
    expect(fileOf(segmentUris(playlist)[0]).split("-")[0]).not.toBe(fileOf(middleUris[0]).split("-")[0]);
    expect(streams.stats().streams).toBe(1);
    streams.close();
    hub.close();
  });

  it("200 streams under one budget: the bytes held never pass maxTotalBytes", () => {
    const maxTotalBytes = 2 * 1024 * 1024;
    const { hub, streams } = setup({ maxTotalBytes }, { maxStreams: 500 });
    const sources: StreamSource[] = [];
    for (let i = 0; i < 200; i++) sources.push(publish(hub, `live/s${i}`));
    const packets = stream({ durationMs: 6000, videoBytes: 2000 });
    let most = 0;
    for (let p = 0; p < packets.length; p++) {
      for (const source of sources) source.push(packets[p]);
      most = Math.max(most, streams.stats().bytes);
    }
    expect(most).toBeLessThanOrEqual(maxTotalBytes);
    const stats = streams.stats();
    expect(stats.streams).toBe(200);
    expect(stats.evictedInWindow).toBeGreaterThan(0);
    // The budget's count is the sum of what the segmenters hold.
    let sum = 0;
    for (let i = 0; i < 200; i++) sum += streams.segmenter(`live/s${i}`)?.stats().bytes ?? 0;
    expect(sum).toBe(stats.bytes);
    // What is listed is served.
    for (let i = 0; i < 200; i += 37) {
      const segmenter = streams.get("live", `s${i}`);
      for (const uri of segmentUris(segmenter?.playlist() ?? ""))
        expect(segmenter?.resource(fileOf(uri))).toBeDefined();
    }
    streams.close();
    expect(streams.stats().bytes).toBe(0);
    hub.close();
  });

  it("writes segments and the playlist to DIR/APP/NAME, deletes what leaves the window, and all of it when dropped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "onair-hls-dir-"));
    try {
      const { hub, streams } = setup({ dir, variant: "fmp4", keepAfterEndMs: 0 }, { republishGraceMs: 0 });
      const source = publish(hub);
      push(source, stream({ durationMs: 12_500 }));
      const segmenter = streams.segmenter("live/cam") as HlsSegmenter;
      await segmenter.settled();
      expect(segmenter.directory).toBe(join(dir, "live", "cam"));
      const onDisk = readFileSync(join(dir, "live", "cam.m3u8"), "utf8");
      expect(onDisk).not.toContain("#EXT-X-PART");
      expect(segmentUris(onDisk)).toEqual(segmentUris(segmenter.playlist()));
      const files = readdirSync(join(dir, "live", "cam")).sort();
      expect(files.filter((f) => f.endsWith(".m4s"))).toHaveLength(9); // 6 listed + 3 kept
      expect(files.filter((f) => f.endsWith(".mp4"))).toHaveLength(1);
      for (const uri of segmentUris(onDisk)) {
        const file = fileOf(uri);
        expect(
          readFileSync(join(dir, "live", "cam", file)).equals(segmenter.resource(file)?.bytes as Buffer),
        ).toBe(true);
      }
      source.end(); // no grace: the hub ends the segmenter, dropped at once
      await segmenter.settled();
      expect(existsSync(join(dir, "live", "cam.m3u8"))).toBe(false);
      expect(existsSync(join(dir, "live", "cam"))).toBe(false);
      streams.close();
      hub.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("never writes outside DIR: an unsafe name gets no directory output, its memory output still works", async () => {
    const dir = mkdtempSync(join(tmpdir(), "onair-hls-dir-"));
    try {
      for (const name of ["..", ".", "a\\b"]) {
        const segmenter = new HlsSegmenter(
          { key: `live/${name}`, app: "live", name, url: "", id: "x" },
          { variant: "ts", dir },
        );
        for (const packet of stream({ durationMs: 2500 })) segmenter.write(packet);
        await segmenter.settled();
        expect(segmenter.directory).toBeUndefined();
        expect(extinfs(segmenter.playlist())).toEqual([1, 1]);
        segmenter.dispose();
      }
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("streams already live get a segmenter, starting at the cached keyframe", () => {
    const hub = new StreamHub({ batchWindowMs: 0, publisherIdleTimeoutMs: 0 });
    const source = publish(hub);
    push(source, stream({ durationMs: 1500 }));
    const streams = new HlsStreams(hub, { variant: "ts" });
    push(source, frames({ durationMs: 2000, start: 1520, keyframesAt: [2000, 3000] }));
    const segmenter = streams.get("live", "cam") as HlsSegmenter;
    const first = segmenter.resource(fileOf(segmentUris(segmenter.playlist())[0]))?.bytes as Buffer;
    expect(firstVideoDts(first)).toBe(1000 * 90);
    expect(extinfs(segmenter.playlist())).toEqual([1, 1]);
    streams.close();
    hub.close();
  });

  it("get() hides a stream none of whose codecs can be muxed; filter leaves streams out", () => {
    const { hub, streams } = setup({ filter: (info) => info.name !== "skip" });
    const av1 = publish(hub, "live/av1");
    av1.push(av1Header());
    for (let t = 0; t < 2000; t += 40) av1.push(av1Frame(t, t % 1000 === 0));
    expect(streams.get("live", "av1")).toBeUndefined();
    expect(streams.segmenter("live/av1")).toBeDefined();
    const skipped = publish(hub, "live/skip");
    push(skipped, stream({ durationMs: 1500 }));
    expect(streams.segmenter("live/skip")).toBeUndefined();
    // Before its first packet a stream is served (the HTTP layer waits for its first segment).
    const early = publish(hub, "live/early");
    early.push(aacHeader());
    expect(streams.get("live", "early")?.lastMsn).toBe(-1);
    streams.close();
    hub.close();
  });

  it("close(): ends and drops every segmenter, clears its timers, stops following the hub; idempotent", () => {
    vi.useFakeTimers();
    const hub = new StreamHub({ batchWindowMs: 0, publisherIdleTimeoutMs: 0, republishGraceMs: 0 });
    const publishListeners = hub.listenerCount("publish");
    const unpublishListeners = hub.listenerCount("unpublish");
    const streams = new HlsStreams(hub, { keepAfterEndMs: 60_000 });
    const ended = publish(hub, "live/ended");
    push(ended, stream({ durationMs: 1500 }));
    ended.end(); // ended: its drop timer runs
    const live = publish(hub, "live/on");
    push(live, stream({ durationMs: 1500 }));
    const segmenter = streams.segmenter("live/on") as HlsSegmenter;
    expect(vi.getTimerCount()).toBe(1);
    streams.close();
    streams.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(hub.listenerCount("publish")).toBe(publishListeners);
    expect(hub.listenerCount("unpublish")).toBe(unpublishListeners);
    expect(segmenter.ended).toBe(true);
    expect(hub.get("live/on")?.writerCount).toBe(0);
    expect(streams.get("live", "on")).toBeUndefined();
    expect(streams.stats()).toMatchObject({ streams: 0, bytes: 0 });
    // A publish after close makes nothing.
    publish(hub, "live/late");
    expect(streams.segmenter("live/late")).toBeUndefined();
    hub.close();
  });

  it("refuses bad options when made", () => {
    const hub = new StreamHub();
    expect(() => new HlsStreams(hub, { keepAfterEndMs: -1 })).toThrow(RangeError);
    expect(() => new HlsStreams(hub, { maxTotalBytes: 0 })).toThrow(RangeError);
    expect(() => new HlsStreams(hub, { windowSegments: 0 })).toThrow(RangeError);
    expect(hub.listenerCount("publish")).toBe(0);
    hub.close();
  });
});
