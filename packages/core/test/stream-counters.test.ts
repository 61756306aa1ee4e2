import { describe, expect, it } from "vitest";
import { createMediaPacket, type MediaPacket, StreamHub } from "../src/index.js";
import {
  payloadEncoder,
  RecordingOutput,
  StuckOutput,
  settle,
  source,
  TestWriter,
  video,
} from "./helpers.js";

const audio = (t: number, bytes: number): MediaPacket =>
  createMediaPacket("audio", t, Buffer.alloc(bytes, 0xaf));
/** An AMF0 "onMetaData" script tag body of `bytes` bytes (padded), which the GOP cache keeps. */
const meta = (bytes: number): MediaPacket => {
  const payload = Buffer.alloc(bytes);
  Buffer.from("\x02\x00\x0aonMetaData\x03\x00\x00\x09", "latin1").copy(payload);
  return createMediaPacket("script", 0, payload);
};
const videoHeader = (bytes: number): MediaPacket =>
  createMediaPacket("video", 0, Buffer.alloc(bytes, 0x17), { sequenceHeader: true });
const audioHeader = (bytes: number): MediaPacket =>
  createMediaPacket("audio", 0, Buffer.alloc(bytes, 0xaf), { sequenceHeader: true });

describe("stream byte counters", () => {
  it("counts what the publisher sent, by kind, to the byte", () => {
    const hub = new StreamHub({ batchWindowMs: 0 });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    reader.push(meta(30));
    reader.push(videoHeader(40));
    reader.push(audioHeader(7));
    reader.push(video(0, 1000, true));
    reader.push(audio(10, 200));
    reader.push(video(33, 300));
    reader.push(audio(33, 201));
    const stats = hub.get("live/a")?.stats();
    expect(stats).toMatchObject({
      videoBytes: 40 + 1000 + 300,
      videoPackets: 3,
      audioBytes: 7 + 200 + 201,
      audioPackets: 3,
      bytes: 30 + 40 + 7 + 1000 + 200 + 300 + 201,
      packets: 7,
      bytesOut: 0,
      packetsOut: 0,
    });
    expect(stats?.publisherStats).toMatchObject({
      info: reader.info,
      videoBytes: 1340,
      audioBytes: 408,
      dataBytes: 30,
      dataPackets: 1,
    });
    expect(hub.counters()).toMatchObject({ bytesIn: 1778, packetsIn: 7, bytesOut: 0, packetsOut: 0 });
    hub.close();
  });

  it("counts per player what it was given: the join burst, then the live packets", async () => {
    const hub = new StreamHub({ batchWindowMs: 0 });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    reader.push(meta(30));
    reader.push(videoHeader(40));
    reader.push(audioHeader(7));
    reader.push(video(0, 1000, true));
    reader.push(audio(10, 200));
    const early = new TestWriter("live/a", new RecordingOutput(), payloadEncoder);
    hub.handleWriter(early);
    reader.push(video(33, 300));
    const late = new TestWriter("live/a", new RecordingOutput(), payloadEncoder);
    hub.handleWriter(late);
    reader.push(audio(33, 201));
    await settle();

    const stats = hub.get("live/a")?.stats();
    expect(stats?.players).toEqual([early.info, late.info]);
    const [a, b] = stats?.playerStats ?? [];
    // early: headers + keyframe + audio in its burst, then video 300 and audio 201 live.
    expect(a).toMatchObject({
      info: early.info,
      videoBytes: 40 + 1000 + 300,
      videoPackets: 3,
      audioBytes: 7 + 200 + 201,
      audioPackets: 3,
      dataBytes: 30,
      dataPackets: 1,
      bufferedBytes: 0,
    });
    // late: the same burst (it now holds video 300 too), then audio 201.
    expect(b).toMatchObject({ info: late.info, videoBytes: 1340, audioBytes: 408, dataBytes: 30 });
    // The counts are what the writer really queued (payloadEncoder writes payloads as they are).
    const written = (w: TestWriter) => w.output.chunks.reduce((n, c) => n + c.length, 0);
    expect(written(early)).toBe(1340 + 408 + 30);
    expect(written(late)).toBe(1340 + 408 + 30);
    expect(stats?.bytesOut).toBe(2 * 1778);
    expect(stats?.packetsOut).toBe(2 * 7);
    hub.close();
  });

  it("does not count packets a slow player skipped", async () => {
    const hub = new StreamHub({ batchWindowMs: 0, slowPlayer: { skipBytes: 500, closeBytes: 1_000_000 } });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    reader.push(videoHeader(40));
    reader.push(video(0, 100, true));
    const stuck = new StuckOutput();
    const player = new TestWriter("live/a", stuck, payloadEncoder);
    hub.handleWriter(player); // 140 bytes
    reader.push(video(33, 600)); // written: 740 buffered now
    await settle();
    reader.push(video(66, 50)); // skipped (740 > 500)
    reader.push(audio(70, 20)); // skipped
    await settle();
    const [stats] = hub.get("live/a")?.stats().playerStats ?? [];
    expect(stats).toMatchObject({ videoBytes: 740, videoPackets: 3, audioBytes: 0, audioPackets: 0 });
    expect(stats?.bufferedBytes).toBe(stuck.writableLength);
    expect(stuck.writableLength).toBe(740);
    expect(hub.get("live/a")?.stats().slowPlayerSkips).toBe(1);
    expect(hub.counters()).toMatchObject({ slowPlayerSkips: 1, slowPlayersClosed: 0 });
    hub.close();
    expect(hub.counters().slowPlayerSkips).toBe(1);
  });

  it("does not count what a player closed for being slow was not given", async () => {
    const hub = new StreamHub({ batchWindowMs: 0, slowPlayer: { skipBytes: 500, closeBytes: 1000 } });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    reader.push(videoHeader(40));
    reader.push(video(0, 100, true));
    const stuck = new StuckOutput();
    const player = new TestWriter("live/a", stuck, payloadEncoder);
    hub.handleWriter(player); // 140 bytes
    reader.push(video(33, 2000)); // would take it past closeBytes: closed instead
    expect(hub.get("live/a")?.stats().playerStats[0]).toMatchObject({ videoBytes: 140, videoPackets: 2 });
    reader.push(audio(40, 10)); // it is closing: not given
    expect(hub.get("live/a")?.stats().playerStats[0]).toMatchObject({ videoBytes: 140, audioBytes: 0 });
    await settle();
    expect(player.closed).toBe(true);
    expect(hub.counters()).toMatchObject({
      slowPlayersClosed: 1,
      bytesOut: 140,
      packetsOut: 2,
      bytesIn: 2150,
    });
    hub.close();
  });

  it("keeps hub totals when players leave and streams end", async () => {
    const hub = new StreamHub({ batchWindowMs: 0, republishGraceMs: 0 });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    reader.push(videoHeader(10));
    reader.push(video(0, 90, true));
    const player = new TestWriter("live/a", new RecordingOutput(), payloadEncoder);
    hub.handleWriter(player); // 100
    reader.push(audio(5, 50)); // 150 to the player
    await settle();
    player.close();
    reader.push(audio(10, 25)); // no player
    expect(hub.get("live/a")?.stats()).toMatchObject({ bytesOut: 150, packetsOut: 3, playerStats: [] });
    expect(hub.counters()).toMatchObject({ bytesIn: 175, packetsIn: 4, bytesOut: 150, packetsOut: 3 });
    reader.end();
    expect(hub.get("live/a")).toBeUndefined();
    expect(hub.counters()).toMatchObject({ bytesIn: 175, packetsIn: 4, bytesOut: 150, packetsOut: 3 });

    const { source: next } = source("live/b");
    hub.handleReader(next);
    next.push(audio(0, 11));
    hub.close();
    // Counted once, though close() ends the stream and forgets it.
    expect(hub.counters()).toMatchObject({ bytesIn: 186, packetsIn: 5, bytesOut: 150, packetsOut: 3 });
  });

  it("gives the publisher's own counts after a republish, and the stream's since it was made", async () => {
    const hub = new StreamHub({ batchWindowMs: 0, republishGraceMs: 5000 });
    const first = source("live/a");
    hub.handleReader(first.source);
    first.source.push(videoHeader(10));
    first.source.push(video(0, 90, true));
    const player = new TestWriter("live/a", new RecordingOutput(), payloadEncoder);
    hub.handleWriter(player);
    first.source.end();
    const second = source("live/a");
    hub.handleReader(second.source);
    // The same header again: received, but not sent to the player, who has it.
    second.source.push(videoHeader(10));
    second.source.push(video(40, 500, true));
    second.source.push(audio(40, 30));
    await settle();
    const stats = hub.get("live/a")?.stats();
    expect(stats).toMatchObject({ videoBytes: 610, audioBytes: 30, bytes: 640, republishes: 1 });
    expect(stats?.publisherStats).toMatchObject({
      info: second.source.info,
      videoBytes: 510,
      videoPackets: 2,
      audioBytes: 30,
      audioPackets: 1,
    });
    expect(stats?.playerStats[0]).toMatchObject({ videoBytes: 600, videoPackets: 3, audioBytes: 30 });
    expect(player.output.chunks.reduce((n, c) => n + c.length, 0)).toBe(630);
    hub.close();
  });
});
