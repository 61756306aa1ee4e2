import { afterEach, describe, expect, it, vi } from "vitest";
import { createMediaPacket, type StreamError, StreamErrorCode, StreamHub } from "../src/index.js";
import {
  PacketRecordingWriter,
  packets,
  payloadEncoder,
  RecordingOutput,
  StuckOutput,
  settle,
  source,
  video,
} from "./helpers.js";

describe("per-player bound", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("closes a player instead of queueing a packet that would take it past closeBytes", async () => {
    const hub = new StreamHub({
      batchWindowMs: 0,
      gopCache: 0,
      slowPlayer: { skipBytes: 10_000, closeBytes: 20_000, closeAfterMs: 60_000 },
    });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    const slow = new PacketRecordingWriter("live/a", new StuckOutput(), payloadEncoder);
    const healthy = new PacketRecordingWriter("live/a", new RecordingOutput(), payloadEncoder);
    hub.handleWriter(slow);
    hub.handleWriter(healthy);
    reader.push(video(0, 9_000, true));
    await settle();
    expect(slow.bufferedBytes).toBe(9_000); // under skipBytes: the next packet is not skipped...
    reader.push(video(33, 16_000, true)); // ...but it would take the player to 25 000 bytes
    await settle();
    expect((slow.endedWith as StreamError).code).toBe(StreamErrorCode.slowPlayer);
    expect(slow.mostBuffered).toBe(9_000);
    expect(healthy.labels()).toEqual(["vK:0", "vK:33"]);
    expect(hub.counters().slowPlayersClosed).toBe(1);
    hub.close();
  });

  it("never holds more than closeBytes for a player that never reads, and closes it", async () => {
    vi.useFakeTimers();
    const closeBytes = 50_000;
    const hub = new StreamHub({
      batchWindowMs: 0,
      gopCache: 1,
      slowPlayer: { skipBytes: 20_000, closeBytes, closeAfterMs: 2_000 },
    });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    reader.push(packets.videoHeader());
    const stuck = new PacketRecordingWriter("live/a", new StuckOutput(), payloadEncoder);
    hub.handleWriter(stuck);
    for (let i = 0; i < 300 && stuck.endedWith === "open"; i++) {
      reader.push(video(i * 33, i % 30 === 0 ? 12_000 : 3_000, i % 30 === 0));
      reader.push(packets.audio(i * 33 + 10));
      await settle();
      vi.advanceTimersByTime(33);
    }
    expect(stuck.mostBuffered).toBeGreaterThan(20_000);
    expect(stuck.mostBuffered).toBeLessThanOrEqual(closeBytes);
    expect((stuck.endedWith as StreamError).code).toBe(StreamErrorCode.slowPlayer);
    hub.close();
  });

  it("sends a joining player the newest GOPs that fit under closeBytes", () => {
    const hub = new StreamHub({
      batchWindowMs: 0,
      gopCache: 3,
      slowPlayer: { skipBytes: 5_000, closeBytes: 10_000, closeAfterMs: 60_000 },
    });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    reader.push(packets.videoHeader());
    reader.push(video(0, 4_000, true));
    reader.push(video(33, 4_000));
    reader.push(video(66, 3_000, true));
    reader.push(video(100, 3_000));
    const player = new PacketRecordingWriter("live/a", new StuckOutput(), payloadEncoder);
    hub.handleWriter(player);
    expect(player.labels()).toEqual(["vH:0", "vK:66", "v:100"]);
    expect(player.bufferedBytes).toBe(6_002);
    hub.close();
  });

  it("makes a joiner wait for the next keyframe when no cached GOP fits", async () => {
    const hub = new StreamHub({
      batchWindowMs: 0,
      gopCache: 1,
      slowPlayer: { skipBytes: 5_000, closeBytes: 10_000, closeAfterMs: 60_000 },
    });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    reader.push(packets.videoHeader());
    reader.push(video(0, 8_000, true));
    reader.push(video(33, 4_000)); // the GOP is 12 000 bytes now
    const player = new PacketRecordingWriter("live/a", new RecordingOutput(), payloadEncoder);
    hub.handleWriter(player);
    expect(player.labels()).toEqual(["vH:0"]);
    reader.push(video(66, 100));
    reader.push(packets.audio(70));
    reader.push(video(100, 1_000, true));
    reader.push(video(133, 100));
    await settle();
    expect(player.labels()).toEqual(["vH:0", "vK:100", "v:133"]);
    hub.close();
  });

  it("does not close a joiner for waiting long for its first keyframe (it is not behind)", async () => {
    vi.useFakeTimers();
    const hub = new StreamHub({
      batchWindowMs: 0,
      gopCache: 0,
      slowPlayer: { skipBytes: 5_000, closeBytes: 10_000, closeAfterMs: 1_000 },
    });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    reader.push(video(0, 100, true));
    const player = new PacketRecordingWriter("live/a", new RecordingOutput(), payloadEncoder);
    hub.handleWriter(player);
    for (let t = 33; t < 10_000; t += 33) {
      reader.push(video(t, 100));
      vi.advanceTimersByTime(33);
    }
    reader.push(video(10_000, 100, true));
    await settle();
    expect(player.endedWith).toBe("open");
    expect(player.labels()).toEqual(["vK:10000"]);
    hub.close();
  });

  it("still sends a header that arrives as the player falls behind", async () => {
    const hub = new StreamHub({
      batchWindowMs: 0,
      gopCache: 0,
      slowPlayer: { skipBytes: 5_000, closeBytes: 10_000, closeAfterMs: 60_000 },
    });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    reader.push(packets.videoHeader(0));
    reader.push(video(0, 100, true));
    const output = new RecordingOutput();
    const player = new PacketRecordingWriter("live/a", output, payloadEncoder);
    hub.handleWriter(player);
    reader.push(video(33, 100, true));
    await settle();
    output.writableLength = 6_000; // past skipBytes when the encoder changes its configuration
    reader.push(createMediaPacket("video", 66, Buffer.from([0x17, 0, 0x42]), { sequenceHeader: true }));
    reader.push(video(66, 100));
    await settle();
    output.writableLength = 0;
    reader.push(video(100, 100, true));
    await settle();
    expect(player.labels()).toEqual(["vH:0", "vK:33", "vH:66", "vK:100"]);
    expect(player.endedWith).toBe("open");
    hub.close();
  });

  it("closes a joiner whose headers alone do not fit", () => {
    const hub = new StreamHub({
      batchWindowMs: 0,
      slowPlayer: { skipBytes: 50, closeBytes: 100, closeAfterMs: 60_000 },
    });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    reader.push({ ...packets.videoHeader(), payload: Buffer.alloc(101) });
    const player = new PacketRecordingWriter("live/a", new RecordingOutput(), payloadEncoder);
    hub.handleWriter(player);
    expect(player.packets).toEqual([]);
    return settle().then(() => {
      expect((player.endedWith as StreamError).code).toBe(StreamErrorCode.slowPlayer);
      hub.close();
    });
  });
});
