import { afterEach, describe, expect, it, vi } from "vitest";
import { createMediaPacket, StreamHub, type StreamInfo } from "../src/index.js";
import { LabelEncoder, PacketRecordingWriter, packets, RecordingOutput, settle, source } from "./helpers.js";

/** A first publisher: headers, then media from t=1000 to t=2000 (the last one sent). */
function publishFirst(push: (p: ReturnType<typeof packets.key>) => void): void {
  push(packets.meta(1000));
  push(packets.videoHeader(1000));
  push(packets.audioHeader(1000));
  push(packets.key(1000));
  push(packets.audio(1010));
  push(packets.inter(1500));
  push(packets.audio(2000));
}

describe("republish within the grace", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("continues the timeline: rebased timestamps, changed headers only, a fresh keyframe start", async () => {
    vi.useFakeTimers();
    const hub = new StreamHub({ batchWindowMs: 0, republishGraceMs: 3000 });
    const republished: StreamInfo[] = [];
    hub.on("republish", (info) => republished.push(info));
    const first = source("live/a");
    hub.handleReader(first.source);
    const player = new PacketRecordingWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(player);
    publishFirst((p) => first.source.push(p));
    await settle();
    first.source.end();
    vi.advanceTimersByTime(1000);
    expect(player.endedWith).toBe("open");

    const second = source("live/a");
    hub.handleReader(second.source);
    expect(player.discontinuities).toBe(1);
    expect(republished.map((i) => i.id)).toEqual([second.source.info.id]);
    const before = player.packets.length;
    // A restarted encoder: timestamps from 0, the same metadata and video header, a new audio header.
    second.source.push(packets.meta(0));
    second.source.push(packets.videoHeader(0));
    second.source.push(
      createMediaPacket("audio", 0, Buffer.from([0xaf, 0, 0x12, 0x10]), { sequenceHeader: true }),
    );
    second.source.push(packets.inter(0)); // not a place to start: skipped
    second.source.push(packets.key(20));
    second.source.push(packets.audio(30));
    second.source.push(packets.inter(53));
    await settle();
    expect(player.labels().slice(before)).toEqual(["aH:2040", "vK:2060", "a:2070", "v:2093"]);
    expect(player.started).toBe(1);
    expect(player.endedWith).toBe("open");
    expect(hub.counters().republishes).toBe(1);
    expect(hub.stats()[0].republishes).toBe(1);

    // A player that joins now gets the headers with the new timeline and the new GOP.
    const late = new PacketRecordingWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(late);
    expect(late.labels()).toEqual(["s:2040", "vH:2040", "aH:2040", "vK:2060", "a:2070", "v:2093"]);

    second.source.end();
    vi.advanceTimersByTime(2999);
    expect(player.endedWith).toBe("open");
    vi.advanceTimersByTime(1);
    expect(player.endedWith).toBeUndefined(); // a normal end after the grace
    expect(late.endedWith).toBeUndefined();
    expect(hub.streams()).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("makes one rebased packet per input packet, shared by every player and encoded once", async () => {
    const hub = new StreamHub({ batchWindowMs: 0, republishGraceMs: 3000 });
    const first = source("live/a");
    hub.handleReader(first.source);
    const encoder = new LabelEncoder();
    const players = [0, 1, 2].map(() => new PacketRecordingWriter("live/a", new RecordingOutput(), encoder));
    for (const p of players) hub.handleWriter(p);
    first.source.push(packets.key(5000));
    await settle();
    first.source.end();
    const second = source("live/a");
    hub.handleReader(second.source);
    const input = packets.key(0);
    second.source.push(input);
    second.source.push(packets.inter(33));
    await settle();
    const rebased = players[0].packets.at(-2);
    expect(rebased?.timestamp).toBe(5040);
    expect(rebased).not.toBe(input);
    expect(input.timestamp).toBe(0); // the publisher's packet is not changed
    for (const p of players) expect(p.packets.at(-2)).toBe(rebased);
    expect(encoder.calls).toBe(3); // key(5000), and the two rebased packets
    for (const p of players) expect(p.text()).toBe("vK:5000;vK:5040;v:5073;");
    hub.close();
  });

  it("continues from the last timestamp sent when the first publisher's timestamps wrapped at 2^32", async () => {
    const hub = new StreamHub({ batchWindowMs: 0, republishGraceMs: 3000 });
    const first = source("live/a");
    hub.handleReader(first.source);
    const player = new PacketRecordingWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(player);
    first.source.push(packets.key(2 ** 32 - 100));
    first.source.push(packets.inter(2 ** 32 - 50));
    first.source.push(packets.inter(10)); // wrapped: 60 ms after the one before
    first.source.push(packets.audio(60));
    first.source.push(packets.audio(55)); // a little behind: not the latest
    await settle();
    first.source.end();
    const second = source("live/a");
    hub.handleReader(second.source);
    second.source.push(packets.key(0));
    second.source.push(packets.inter(33));
    await settle();
    expect(player.labels().slice(-2)).toEqual(["vK:100", "v:133"]);
    hub.close();
  });

  it("does not give later players the headers of a track the new publisher does not have", async () => {
    const hub = new StreamHub({ batchWindowMs: 0, republishGraceMs: 3000 });
    const first = source("live/a");
    hub.handleReader(first.source);
    const stayed = new PacketRecordingWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(stayed);
    publishFirst((p) => first.source.push(p));
    await settle();
    first.source.end();
    const second = source("live/a");
    hub.handleReader(second.source);
    // A joiner before the new publisher's first frame has what the players that stayed have.
    const early = new PacketRecordingWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(early);
    expect(early.labels()).toEqual(["s:1000", "vH:1000", "aH:1000"]);
    // An audio-only fallback with the same audio configuration and no metadata.
    second.source.push(packets.audioHeader(0));
    second.source.push(packets.audio(0));
    second.source.push(packets.audio(20));
    await settle();
    expect(stayed.labels().slice(-2)).toEqual(["a:2040", "a:2060"]);
    const late = new PacketRecordingWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(late);
    second.source.push(packets.audio(40));
    await settle();
    expect(late.labels()).toEqual(["aH:2040", "a:2080"]);
    hub.close();
  });

  it("starts a player that joined during the grace with the new publisher", async () => {
    const hub = new StreamHub({ batchWindowMs: 0, republishGraceMs: 3000 });
    const first = source("live/a");
    hub.handleReader(first.source);
    const stayed = new PacketRecordingWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(stayed);
    first.source.push(packets.videoHeader(100));
    first.source.push(packets.key(100));
    await settle();
    first.source.end();
    const joined = new PacketRecordingWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(joined);
    expect(joined.started).toBe(0);
    const second = source("live/a");
    hub.handleReader(second.source);
    second.source.push(packets.videoHeader(0));
    second.source.push(packets.key(0));
    await settle();
    expect(joined.started).toBe(1);
    expect(joined.discontinuities).toBe(0);
    expect(joined.labels()).toEqual(["vH:100", "vK:140"]);
    expect(stayed.labels()).toEqual(["vH:100", "vK:100", "vK:140"]);
    hub.close();
  });

  it("starts a player that joined during the grace at the new publisher's first keyframe", async () => {
    const hub = new StreamHub({ batchWindowMs: 0, republishGraceMs: 3000 });
    const first = source("live/a");
    hub.handleReader(first.source);
    const stayed = new PacketRecordingWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(stayed);
    first.source.push(packets.videoHeader(100));
    first.source.push(packets.key(100));
    await settle();
    first.source.end();
    const joined = new PacketRecordingWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(joined);
    const second = source("live/a");
    hub.handleReader(second.source);
    second.source.push(packets.videoHeader(0));
    second.source.push(packets.inter(0)); // not a place to start
    second.source.push(packets.key(20));
    await settle();
    expect(stayed.labels()).toEqual(["vH:100", "vK:100", "vK:160"]);
    expect(joined.labels()).toEqual(["vH:100", "vK:160"]);
    hub.close();
  });

  it("ends players at once with a grace of 0, and keeps them 10 s by default", () => {
    vi.useFakeTimers();
    for (const [options, stays] of [
      [{ republishGraceMs: 0 }, 0],
      [{}, 10_000],
    ] as const) {
      const hub = new StreamHub({ batchWindowMs: 0, ...options });
      const { source: reader } = source("live/a");
      hub.handleReader(reader);
      const player = new PacketRecordingWriter("live/a", new RecordingOutput(), new LabelEncoder());
      hub.handleWriter(player);
      reader.end();
      if (stays > 0) {
        vi.advanceTimersByTime(stays - 1);
        expect(player.endedWith).toBe("open");
        vi.advanceTimersByTime(1);
      }
      expect(player.endedWith).toBeUndefined();
      hub.close();
    }
  });
});
