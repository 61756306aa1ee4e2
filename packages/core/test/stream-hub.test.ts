import { afterEach, describe, expect, it, vi } from "vitest";
import { StreamError, StreamErrorCode, StreamHub } from "../src/index.js";
import { LabelEncoder, packets, RecordingOutput, settle, source, TestWriter } from "./helpers.js";

function publishHeadersAndGop(push: (p: ReturnType<typeof packets.key>) => void): void {
  push(packets.meta());
  push(packets.videoHeader());
  push(packets.audioHeader());
  push(packets.key(0));
  push(packets.audio(10));
  push(packets.inter(33));
  push(packets.key(66));
  push(packets.audio(70));
  push(packets.inter(100));
}

describe("StreamHub", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("gives a late player metadata, sequence headers and the GOP from the last keyframe first", async () => {
    const hub = new StreamHub({ batchWindowMs: 0 });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    publishHeadersAndGop((p) => reader.push(p));
    const writer = new TestWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(writer);
    expect(writer.started).toBe(1);
    expect(writer.text()).toBe("s:0;vH:0;aH:0;vK:66;a:70;v:100;");
    reader.push(packets.audio(110));
    await settle();
    expect(writer.text().endsWith("a:110;")).toBe(true);
    hub.close();
  });

  it("keeps as many GOPs as configured, and none with gopCache 0", () => {
    const two = new StreamHub({ batchWindowMs: 0, gopCache: 2 });
    const none = new StreamHub({ batchWindowMs: 0, gopCache: 0 });
    for (const hub of [two, none]) {
      const { source: reader } = source("live/a");
      hub.handleReader(reader);
      publishHeadersAndGop((p) => reader.push(p));
    }
    const a = new TestWriter("live/a", new RecordingOutput(), new LabelEncoder());
    const b = new TestWriter("live/a", new RecordingOutput(), new LabelEncoder());
    two.handleWriter(a);
    none.handleWriter(b);
    expect(a.text()).toBe("s:0;vH:0;aH:0;vK:0;a:10;v:33;vK:66;a:70;v:100;");
    expect(b.text()).toBe("s:0;vH:0;aH:0;");
    two.close();
    none.close();
  });

  it("refuses a second publisher on a live key while the first goes on", async () => {
    const hub = new StreamHub({ batchWindowMs: 0 });
    const first = source("live/a");
    const second = source("live/a");
    const published: string[] = [];
    hub.on("publish", (i) => published.push(i.id));
    hub.handleReader(first.source);
    hub.handleReader(second.source);
    const error = second.closedWith();
    expect(error).toBeInstanceOf(StreamError);
    expect((error as StreamError).code).toBe(StreamErrorCode.busy);
    expect(first.closedWith()).toBe("open");
    expect(published).toEqual([first.source.info.id]);
    const writer = new TestWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(writer);
    first.source.push(packets.key(0));
    await settle();
    expect(writer.text()).toBe("vK:0;");
    hub.close();
  });

  it("encodes each packet once and writes the same Buffer to every player", async () => {
    const hub = new StreamHub({ batchWindowMs: 0, gopCache: 0 });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    const encoder = new LabelEncoder();
    const writers = Array.from({ length: 5 }, () => new TestWriter("live/a", new RecordingOutput(), encoder));
    for (const w of writers) hub.handleWriter(w);
    reader.push(packets.key(0));
    reader.push(packets.inter(40));
    await settle();
    expect(encoder.calls).toBe(2);
    // Both packets went out in one write, and that joined Buffer is shared by every player.
    const [batch] = writers[0].output.chunks;
    expect(batch.toString()).toBe("vK:0;v:40;");
    for (const w of writers) expect(w.output.chunks).toEqual([batch]);
    for (const w of writers) expect(w.output.chunks[0]).toBe(batch);
    reader.push(packets.audio(50));
    await settle();
    for (const w of writers) expect(w.output.chunks[1]).toBe(writers[0].output.chunks[1]);
    hub.close();
  });

  it("holds a player that comes first until the publisher arrives", async () => {
    const hub = new StreamHub({ batchWindowMs: 0 });
    const writer = new TestWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(writer);
    expect(writer.started).toBe(0);
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    expect(writer.started).toBe(1);
    reader.push(packets.key(0));
    await settle();
    expect(writer.text()).toBe("vK:0;");
    hub.close();
  });

  it("ends a waiting player with ERR_STREAM_NOT_FOUND after the wait timeout", () => {
    vi.useFakeTimers();
    const hub = new StreamHub({ batchWindowMs: 0, playWaitTimeoutMs: 500 });
    const writer = new TestWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(writer);
    vi.advanceTimersByTime(499);
    expect(writer.endedWith).toBe("open");
    vi.advanceTimersByTime(1);
    expect((writer.endedWith as StreamError).code).toBe(StreamErrorCode.notFound);
    expect(hub.streams()).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("refuses at once when the wait timeout is 0", () => {
    const hub = new StreamHub({ batchWindowMs: 0, playWaitTimeoutMs: 0 });
    const writer = new TestWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(writer);
    expect((writer.endedWith as StreamError).code).toBe(StreamErrorCode.notFound);
  });

  it("ends the players when the publisher leaves with no republish grace, and emits every event", () => {
    const hub = new StreamHub({ batchWindowMs: 0, republishGraceMs: 0 });
    const events: string[] = [];
    for (const name of ["publish", "unpublish", "play", "stop"] as const)
      hub.on(name, (i) => events.push(`${name}:${i.id[0]}`));
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    const writer = new TestWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(writer);
    reader.end();
    expect(writer.endedWith).toBeUndefined();
    expect(events).toEqual(["publish:r", "play:w", "unpublish:r", "stop:w"]);
    expect(hub.streams()).toHaveLength(0);
  });

  it("keeps players through a republish within the grace period", async () => {
    vi.useFakeTimers();
    const hub = new StreamHub({ batchWindowMs: 0, republishGraceMs: 2000 });
    const first = source("live/a");
    hub.handleReader(first.source);
    const writer = new TestWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(writer);
    first.source.end();
    expect(writer.endedWith).toBe("open");
    vi.advanceTimersByTime(1000);
    const second = source("live/a");
    hub.handleReader(second.source);
    second.source.push(packets.key(5));
    await settle();
    expect(writer.text()).toBe("vK:5;");
    expect(writer.started).toBe(1);
    second.source.end();
    vi.advanceTimersByTime(1999);
    expect(writer.endedWith).toBe("open");
    vi.advanceTimersByTime(1);
    expect(writer.endedWith).toBeUndefined(); // a normal end
    expect(hub.streams()).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("forgets a player that leaves by itself", () => {
    const hub = new StreamHub({ batchWindowMs: 0 });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    const writer = new TestWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(writer);
    writer.close();
    expect(hub.get("live/a")?.writerCount).toBe(0);
    reader.push(packets.key(0));
    expect(writer.text()).toBe("");
  });

  it("batches writes within the window into one burst per player", () => {
    vi.useFakeTimers();
    const hub = new StreamHub({ batchWindowMs: 50, gopCache: 0 });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    const writer = new TestWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(writer);
    reader.push(packets.key(0));
    reader.push(packets.audio(10));
    reader.push(packets.inter(33));
    expect(writer.output.chunks).toHaveLength(0);
    vi.advanceTimersByTime(49);
    expect(writer.output.chunks).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(writer.text()).toBe("vK:0;a:10;v:33;");
    expect(writer.output.chunks).toHaveLength(1);
    hub.close();
  });

  it("flushes a window's batches in slices of players, so connections get in between", () => {
    vi.useFakeTimers();
    const hub = new StreamHub({ batchWindowMs: 50, gopCache: 0 });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    const encoder = new LabelEncoder();
    const writers = Array.from(
      { length: 300 },
      () => new TestWriter("live/a", new RecordingOutput(), encoder),
    );
    for (const w of writers) hub.handleWriter(w);
    reader.push(packets.key(0));
    reader.push(packets.audio(10));
    const flushed = () => writers.filter((w) => w.output.chunks.length > 0).length;
    vi.advanceTimersByTime(50);
    expect(flushed()).toBe(128);
    vi.advanceTimersToNextTimer();
    expect(flushed()).toBe(256);
    vi.advanceTimersToNextTimer();
    expect(flushed()).toBe(300);
    // Every player got the same joined Buffer, made once.
    const batch = writers[0].output.chunks[0];
    expect(batch.toString()).toBe("vK:0;a:10;");
    for (const w of writers) expect(w.output.chunks).toEqual([batch]);
    for (const w of writers) expect(w.output.chunks[0]).toBe(batch);
    hub.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("writes at the end of the turn that brought the packets with a window of 0", async () => {
    const hub = new StreamHub({ batchWindowMs: 0, gopCache: 0 });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    const writer = new TestWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(writer);
    reader.push(packets.key(0));
    reader.push(packets.audio(10));
    expect(writer.output.chunks).toHaveLength(0);
    await settle();
    expect(writer.text()).toBe("vK:0;a:10;");
    expect(writer.output.chunks).toHaveLength(1);
    reader.push(packets.inter(33));
    await settle();
    expect(writer.output.chunks.map(String)).toEqual(["vK:0;a:10;", "v:33;"]);
    hub.close();
  });

  it("skips a slow player to the next keyframe, then closes it past the close limit", async () => {
    const hub = new StreamHub({
      batchWindowMs: 0,
      gopCache: 0,
      slowPlayer: { skipBytes: 1000, closeBytes: 5000, closeAfterMs: 60_000 },
    });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    const slow = new TestWriter("live/a", new RecordingOutput(), new LabelEncoder());
    const healthy = new TestWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(slow);
    hub.handleWriter(healthy);
    // One packet per turn of the event loop, as a live publisher sends them.
    const push = async (packet: ReturnType<typeof packets.key>): Promise<void> => {
      reader.push(packet);
      await settle();
    };
    await push(packets.key(0));
    slow.output.writableLength = 2000; // the kernel buffer is full: this player is behind
    await push(packets.inter(33));
    await push(packets.audio(40));
    slow.output.writableLength = 0; // drained
    await push(packets.inter(66)); // still skipping: not a keyframe
    await push(packets.key(100)); // resumes here
    expect(slow.text()).toBe("vK:0;vK:100;");
    expect(healthy.text()).toBe("vK:0;v:33;a:40;v:66;vK:100;");
    slow.output.writableLength = 6000;
    await push(packets.inter(133));
    expect((slow.endedWith as StreamError).code).toBe(StreamErrorCode.slowPlayer);
    await push(packets.inter(166));
    expect(healthy.text().endsWith("v:133;v:166;")).toBe(true);
    expect(hub.get("live/a")?.writerCount).toBe(1);
    hub.close();
  });

  it("closes a player that has been skipping for longer than closeAfterMs", async () => {
    vi.useFakeTimers();
    const hub = new StreamHub({
      batchWindowMs: 0,
      gopCache: 0,
      slowPlayer: { skipBytes: 1000, closeBytes: 1e9, closeAfterMs: 1000 },
    });
    const { source: reader } = source("live/a");
    hub.handleReader(reader);
    const slow = new TestWriter("live/a", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(slow);
    slow.output.writableLength = 2000;
    reader.push(packets.inter(0));
    vi.advanceTimersByTime(1001);
    reader.push(packets.inter(1001));
    await Promise.resolve();
    expect((slow.endedWith as StreamError).code).toBe(StreamErrorCode.slowPlayer);
    hub.close();
  });

  it("close() ends publishers and players, clears timers and is idempotent", () => {
    vi.useFakeTimers();
    const hub = new StreamHub({ batchWindowMs: 0 });
    const { source: reader, closedWith } = source("live/a");
    hub.handleReader(reader);
    const writer = new TestWriter("live/a", new RecordingOutput(), new LabelEncoder());
    const waiting = new TestWriter("live/b", new RecordingOutput(), new LabelEncoder());
    hub.handleWriter(writer);
    hub.handleWriter(waiting);
    hub.close();
    hub.close();
    expect((closedWith() as StreamError).code).toBe(StreamErrorCode.closed);
    expect((writer.endedWith as StreamError).code).toBe(StreamErrorCode.closed);
    expect((waiting.endedWith as StreamError).code).toBe(StreamErrorCode.closed);
    expect(hub.streams()).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
    const late = source("live/c");
    hub.handleReader(late.source);
    expect((late.closedWith() as StreamError).code).toBe(StreamErrorCode.closed);
  });
});
