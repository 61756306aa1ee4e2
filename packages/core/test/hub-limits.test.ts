import { afterEach, describe, expect, it, vi } from "vitest";
import { type StreamError, StreamErrorCode, StreamHub } from "../src/index.js";
import {
  LabelEncoder,
  PacketRecordingWriter,
  packets,
  RecordingOutput,
  settle,
  source,
  video,
} from "./helpers.js";

const player = (key = "live/a") => new PacketRecordingWriter(key, new RecordingOutput(), new LabelEncoder());

describe("hub limits", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("refuses a publisher past maxStreams and a player past maxPlayersPerStream, and counts them", () => {
    const hub = new StreamHub({
      batchWindowMs: 0,
      maxStreams: 2,
      maxPlayersPerStream: 2,
      republishGraceMs: 0,
    });
    const a = source("live/a");
    const b = source("live/b");
    const c = source("live/c");
    hub.handleReader(a.source);
    hub.handleReader(b.source);
    hub.handleReader(c.source);
    expect((c.closedWith() as StreamError).code).toBe(StreamErrorCode.streamLimit);
    expect(a.closedWith()).toBe("open");
    const busy = source("live/a");
    hub.handleReader(busy.source);
    expect((busy.closedWith() as StreamError).code).toBe(StreamErrorCode.busy);

    const players = [player(), player(), player()];
    for (const p of players) hub.handleWriter(p);
    expect(players.map((p) => p.endedWith === "open")).toEqual([true, true, false]);
    expect((players[2].endedWith as StreamError).code).toBe(StreamErrorCode.playerLimit);

    // A stream that ends frees its place.
    b.source.end();
    const again = source("live/c");
    hub.handleReader(again.source);
    expect(again.closedWith()).toBe("open");
    expect(hub.isLive("live/c")).toBe(true);
    expect(hub.counters().refused).toEqual({
      [StreamErrorCode.streamLimit]: 1,
      [StreamErrorCode.busy]: 1,
      [StreamErrorCode.playerLimit]: 1,
    });
    hub.close();
  });

  it("closes a publisher that sends nothing for publisherIdleTimeoutMs, with one timer per hub", async () => {
    vi.useFakeTimers();
    const hub = new StreamHub({ batchWindowMs: 0, publisherIdleTimeoutMs: 5000, republishGraceMs: 60_000 });
    expect(vi.getTimerCount()).toBe(0);
    const quiet = source("live/a");
    const busy = source("live/b");
    hub.handleReader(quiet.source);
    hub.handleReader(busy.source);
    expect(vi.getTimerCount()).toBe(1);
    const watcher = player();
    hub.handleWriter(watcher);
    for (let t = 0; t < 20_000; t += 500) {
      busy.source.push(packets.audio(t));
      if (t < 2000) quiet.source.push(packets.audio(t));
      vi.advanceTimersByTime(500);
      if (t === 6000) expect(quiet.closedWith()).toBe("open"); // idle 4.5 s so far
    }
    const error = quiet.closedWith() as StreamError;
    expect(error.code).toBe(StreamErrorCode.idle);
    expect(busy.closedWith()).toBe("open");
    expect(hub.counters().idlePublishersClosed).toBe(1);
    expect(watcher.endedWith).toBe("open"); // its players get the republish grace
    await settle();
    hub.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("closes an idle publisher no later than a second after the timeout", () => {
    vi.useFakeTimers();
    const hub = new StreamHub({ batchWindowMs: 0, publisherIdleTimeoutMs: 15_000 });
    const quiet = source("live/a");
    hub.handleReader(quiet.source);
    vi.advanceTimersByTime(14_999);
    expect(quiet.closedWith()).toBe("open");
    vi.advanceTimersByTime(1001);
    expect((quiet.closedWith() as StreamError).code).toBe(StreamErrorCode.idle);
    expect(vi.getTimerCount()).toBe(0); // no live stream left: the check stopped
    hub.close();
  });

  it("runs no idle check with publisherIdleTimeoutMs 0", () => {
    vi.useFakeTimers();
    const hub = new StreamHub({ batchWindowMs: 0, publisherIdleTimeoutMs: 0 });
    const quiet = source("live/a");
    hub.handleReader(quiet.source);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(3_600_000);
    expect(quiet.closedWith()).toBe("open");
    hub.close();
  });

  it("keeps the GOP cache of a stream under gopCacheMaxBytes and reports its size", () => {
    const hub = new StreamHub({ batchWindowMs: 0, gopCacheMaxBytes: 50_000 });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    reader.push(packets.videoHeader());
    reader.push(video(0, 10_000, true));
    let most = 0;
    for (let t = 1; t < 5_000; t++) {
      reader.push(video(t, 1_000));
      most = Math.max(most, hub.stats()[0].gopCacheBytes);
    }
    expect(most).toBeGreaterThan(40_000);
    expect(most).toBeLessThanOrEqual(50_000);
    expect(hub.stats()[0].gopCachePackets).toBe(0); // the only GOP outgrew the cap
    hub.close();
  });

  it("keeps serving a stream whose publish and play listeners throw", async () => {
    const hub = new StreamHub({ batchWindowMs: 0 });
    for (const event of ["publish", "play", "stop", "unpublish"] as const)
      hub.on(event, () => {
        throw new Error(`a broken ${event} listener`);
      });
    const { source: reader, closedWith } = source("live/a");
    expect(() => hub.handleReader(reader)).not.toThrow();
    const p = player();
    expect(() => hub.handleWriter(p)).not.toThrow();
    reader.push(packets.key(0));
    await settle();
    expect(p.labels()).toEqual(["vK:0"]);
    expect(closedWith()).toBe("open");
    expect(p.endedWith).toBe("open");
    p.close();
    hub.close();
  });
});
