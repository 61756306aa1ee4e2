import { type ByteOutput, createMediaPacket, StreamHub, StreamSource } from "@onair/core";
import { describe, expect, it } from "vitest";
import { encodeFlvHeader, encodeFlvTag, FlvDemuxer, FlvWriter } from "../src/index.js";

class Output implements ByteOutput {
  chunks: Buffer[] = [];
  writableLength = 0;
  write(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return true;
  }
}

const info = (id: string) => ({ key: "live/a", app: "live", name: "a", url: "", id });
const meta = createMediaPacket(
  "script",
  0,
  Buffer.concat([Buffer.from([2, 0, 10]), Buffer.from("onMetaData"), Buffer.from([5])]),
);
const avc = createMediaPacket("video", 0, Buffer.from([0x17, 0, 0, 0, 0, 1, 2]), { sequenceHeader: true });
const key = (t: number) =>
  createMediaPacket("video", t, Buffer.from([0x17, 1, 0, 0, 0, 9]), { keyframe: true });
const inter = (t: number) => createMediaPacket("video", t, Buffer.from([0x27, 1, 0, 0, 0, 8]));

describe("FlvWriter", () => {
  it("writes the FLV header, then the cache from its keyframe, then live tags", async () => {
    // No republish grace: the player ends with the stream.
    const hub = new StreamHub({ batchWindowMs: 0, republishGraceMs: 0 });
    const source = new StreamSource(info("r"));
    hub.handleReader(source);
    for (const p of [meta, avc, key(0), inter(40), key(80), inter(120)]) source.push(p);
    const output = new Output();
    let ended: Error | undefined | "open" = "open";
    const writer = new FlvWriter(info("w"), output, (error) => {
      ended = error;
    });
    hub.handleWriter(writer);
    source.push(inter(160));
    await Promise.resolve(); // with a window of 0 the write happens once this turn ends
    const bytes = Buffer.concat(output.chunks);
    expect(bytes.subarray(0, 13)).toEqual(encodeFlvHeader({ audio: true, video: true }));
    const tags: [string, number][] = [];
    new FlvDemuxer().push(bytes, (tag) => tags.push([tag.kind, tag.timestamp]));
    expect(tags).toEqual([
      ["script", 0],
      ["video", 0],
      ["video", 80],
      ["video", 120],
      ["video", 160],
    ]);
    expect(bytes.subarray(bytes.length - (11 + 6 + 4))).toEqual(
      encodeFlvTag("video", 160, inter(160).payload),
    );
    source.end();
    expect(ended).toBeUndefined();
  });

  it("encodes each tag once: every FLV player gets the same Buffer", async () => {
    const hub = new StreamHub({ batchWindowMs: 0, gopCache: 0 });
    const source = new StreamSource(info("r"));
    hub.handleReader(source);
    const outputs = [new Output(), new Output(), new Output()];
    outputs.forEach((o, i) => {
      hub.handleWriter(new FlvWriter(info(`w${i}`), o, () => {}));
    });
    source.push(key(0));
    await Promise.resolve();
    const tag = outputs[0].chunks[1];
    expect(tag).toEqual(encodeFlvTag("video", 0, key(0).payload));
    for (const o of outputs) expect(o.chunks[1]).toBe(tag);
    hub.close();
  });

  it("a throwing onEnd or onClose listener is logged: the other listeners run and the stream drops the player", () => {
    const hub = new StreamHub({ batchWindowMs: 0 });
    const source = new StreamSource(info("r"));
    hub.handleReader(source);
    const writer = new FlvWriter(info("w"), new Output(), () => {
      throw new Error("user onEnd bug");
    });
    writer.onClose(() => {
      throw new Error("user onClose bug");
    });
    let laterListenerRan = false;
    writer.onClose(() => {
      laterListenerRan = true;
    });
    hub.handleWriter(writer);
    expect(hub.get("live/a")?.writerCount).toBe(1);
    // close() runs from socket callbacks: it must not throw into them.
    expect(() => writer.close()).not.toThrow();
    expect(laterListenerRan).toBe(true);
    expect(hub.get("live/a")?.writerCount).toBe(0);
    hub.close();
  });
});
