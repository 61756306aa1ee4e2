import type { MediaKind } from "@onair/core";
import { describe, expect, it } from "vitest";
import { seededRandom } from "../../../test-support/seeded-random.js";
import { FlvDemuxer, type FlvDemuxerOptions, type FlvTag } from "../src/codec/flv-demuxer.js";
import { encodeFlvHeader, encodeFlvTag } from "../src/codec/flv-muxer.js";
import { FlvError, FlvErrorCode } from "../src/errors.js";

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");

interface ExpectedTag {
  kind: MediaKind;
  timestamp: number;
  body: Buffer;
}

function buildFile(tags: ExpectedTag[]): Buffer {
  return Buffer.concat([
    encodeFlvHeader({ audio: true, video: true }),
    ...tags.map((t) => encodeFlvTag(t.kind, t.timestamp, t.body)),
  ]);
}

/** Feeds `chunks` in order; returns the tags as plain values (bodies copied, to compare). */
function demux(chunks: Buffer[], options?: FlvDemuxerOptions): { tags: ExpectedTag[]; demuxer: FlvDemuxer } {
  const demuxer = new FlvDemuxer(options);
  const tags: ExpectedTag[] = [];
  for (const chunk of chunks) {
    demuxer.push(chunk, (tag: FlvTag) => {
      expect(tag.streamId).toBe(0);
      tags.push({ kind: tag.kind, timestamp: tag.timestamp, body: Buffer.from(tag.body) });
    });
  }
  return { tags, demuxer };
}

const smallTags: ExpectedTag[] = [
  { kind: "script", timestamp: 0, body: hex("02000a6f6e4d6574614461746103000009") },
  { kind: "video", timestamp: 0, body: hex("1700000000 0164001fffe1") },
  { kind: "audio", timestamp: 0, body: hex("af00 1210") },
  { kind: "video", timestamp: 0, body: hex("1701000000 0000000165888") },
  { kind: "audio", timestamp: 23, body: hex("af01 2110") },
  { kind: "audio", timestamp: 46, body: Buffer.alloc(0) },
  { kind: "video", timestamp: 0x1234567, body: hex("2701000028 00000002419a") },
];
const smallFile = buildFile(smallTags);

describe("FlvDemuxer", () => {
  it("reads a whole file in one push", () => {
    const { tags, demuxer } = demux([smallFile], { checkPreviousTagSize: true });
    expect(tags).toEqual(smallTags);
    expect(demuxer.header).toEqual({ version: 1, audio: true, video: true });
    expect(demuxer.pending).toBe(false);
    expect(demuxer.bufferedBytes).toBe(0);
  });

  it("reads the same tags with the file split in two at every offset", () => {
    for (let split = 0; split <= smallFile.length; split++) {
      const { tags, demuxer } = demux([smallFile.subarray(0, split), smallFile.subarray(split)], {
        checkPreviousTagSize: true,
      });
      expect(tags, `split at ${split}`).toEqual(smallTags);
      expect(demuxer.pending).toBe(false);
    }
  });

  it("reads the same tags with the file split in three at every pair of offsets", () => {
    for (let a = 0; a <= smallFile.length; a += 3) {
      for (let b = a; b <= smallFile.length; b += 2) {
        const { tags } = demux([smallFile.subarray(0, a), smallFile.subarray(a, b), smallFile.subarray(b)]);
        expect(tags, `split at ${a}, ${b}`).toEqual(smallTags);
      }
    }
  });

  it("reads the same tags fed one byte at a time", () => {
    const chunks = [...smallFile].map((byte) => Buffer.from([byte]));
    expect(demux(chunks, { checkPreviousTagSize: true }).tags).toEqual(smallTags);
  });

  it("reads a larger file in random splits", () => {
    const random = seededRandom(42);
    const kinds: MediaKind[] = ["audio", "video", "script"];
    const tags: ExpectedTag[] = [];
    for (let i = 0; i < 300; i++) {
      const body = Buffer.alloc(Math.floor(random() ** 3 * 20_000));
      for (let j = 0; j < body.length; j++) body[j] = (i * 31 + j) & 0xff;
      tags.push({ kind: kinds[i % 3], timestamp: Math.floor(random() * 2 ** 32), body });
    }
    const file = buildFile(tags);
    for (let round = 0; round < 20; round++) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < file.length; ) {
        const size = Math.floor(random() ** 2 * 30_000);
        chunks.push(file.subarray(at, at + size));
        at += size;
      }
      const read = demux(chunks, { checkPreviousTagSize: true }).tags;
      // Buffer.equals: a deep toEqual over megabytes of bodies is slow.
      expect(read.map((t) => [t.kind, t.timestamp, t.body.length])).toEqual(
        tags.map((t) => [t.kind, t.timestamp, t.body.length]),
      );
      expect(read.every((t, i) => t.body.equals(tags[i].body))).toBe(true);
    }
  });

  it("hands out a body that lies in one chunk as a subarray of it (zero copy)", () => {
    const bodies: Buffer[] = [];
    new FlvDemuxer().push(smallFile, (tag) => bodies.push(tag.body));
    for (const body of bodies.filter((b) => b.length > 0)) expect(body.buffer).toBe(smallFile.buffer);
  });

  it("copies a body split across chunks into one Buffer of its size", () => {
    const demuxer = new FlvDemuxer();
    const bodies: Buffer[] = [];
    const cut = 13 + 11 + 5; // inside the first tag's body
    demuxer.push(smallFile.subarray(0, cut), (tag) => bodies.push(tag.body));
    expect(demuxer.pending).toBe(true);
    // A small body gets a Buffer of its size at once; large ones grow as they arrive (below).
    expect(demuxer.bufferedBytes).toBe(Math.min(smallTags[0].body.length, 4096));
    demuxer.push(smallFile.subarray(cut), (tag) => bodies.push(tag.body));
    expect(bodies[0]).toEqual(smallTags[0].body);
    expect(bodies[0].buffer).not.toBe(smallFile.buffer);
    expect(bodies[0].buffer.byteLength).toBeGreaterThanOrEqual(smallTags[0].body.length);
  });

  it("reports the header once seen and pending bytes of an unfinished tag", () => {
    const demuxer = new FlvDemuxer();
    const onTag = () => {};
    expect(demuxer.header).toBeUndefined();
    expect(demuxer.pending).toBe(false);
    demuxer.push(smallFile.subarray(0, 5), onTag);
    expect(demuxer.header).toBeUndefined();
    expect(demuxer.pending).toBe(true);
    demuxer.push(smallFile.subarray(5, 13), onTag);
    expect(demuxer.header).toEqual({ version: 1, audio: true, video: true });
    expect(demuxer.pending).toBe(false); // header and PreviousTagSize0 complete, no tag started
    demuxer.push(smallFile.subarray(13, 20), onTag);
    expect(demuxer.pending).toBe(true); // inside a tag header
    demuxer.push(smallFile.subarray(20, 24), onTag);
    expect(demuxer.pending).toBe(true); // tag header read, body due
    demuxer.push(smallFile.subarray(24), onTag);
    expect(demuxer.pending).toBe(false);
  });

  it("reads the header flags", () => {
    const demuxer = new FlvDemuxer();
    demuxer.push(encodeFlvHeader({ audio: false, video: true }), () => {});
    expect(demuxer.header).toEqual({ version: 1, audio: false, video: true });
  });

  it("skips bytes between a header with a data offset above 9 and PreviousTagSize0", () => {
    const header = hex("464c56 01 05 0000000d cafebabe 00000000");
    const file = Buffer.concat([header, encodeFlvTag("audio", 7, hex("af01"))]);
    for (let split = 0; split <= file.length; split++) {
      const { tags } = demux([file.subarray(0, split), file.subarray(split)], { checkPreviousTagSize: true });
      expect(tags).toEqual([{ kind: "audio", timestamp: 7, body: hex("af01") }]);
    }
  });

  it("ignores the Filter and reserved bits of the tag type byte", () => {
    const tag = encodeFlvTag("video", 0, hex("1701000000"));
    tag[0] |= 0xe0;
    const { tags } = demux([encodeFlvHeader({ audio: false, video: true }), tag]);
    expect(tags.map((t) => t.kind)).toEqual(["video"]);
  });

  it("reads a tag's stream id", () => {
    const tag = encodeFlvTag("audio", 0, hex("af01"));
    tag.writeUIntBE(0x010203, 8, 3);
    const ids: number[] = [];
    const demuxer = new FlvDemuxer();
    demuxer.push(Buffer.concat([encodeFlvHeader({ audio: true, video: false }), tag]), (t) =>
      ids.push(t.streamId),
    );
    expect(ids).toEqual([0x010203]);
  });

  describe("errors", () => {
    const expectFlvError = (fn: () => void, code: string) => {
      let thrown: unknown;
      try {
        fn();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(FlvError);
      expect((thrown as FlvError).code).toBe(code);
    };

    it.each([
      { name: "wrong signature", bytes: "464c58 01 05 00000009" },
      { name: "version 2", bytes: "464c56 02 05 00000009" },
      { name: "an HTTP response", bytes: "485454502f312e3120323030204f4b" },
      { name: "data offset below 9", bytes: "464c56 01 05 00000008" },
    ])("signature: $name", ({ bytes }) => {
      expectFlvError(() => new FlvDemuxer().push(hex(bytes), () => {}), FlvErrorCode.signature);
    });

    it("tagType: thrown on the tag header, before its body arrives", () => {
      const tag = encodeFlvTag("audio", 0, Buffer.alloc(100));
      tag[0] = 7;
      const tags: FlvTag[] = [];
      const demuxer = new FlvDemuxer();
      const onTag = (t: FlvTag) => tags.push(t);
      demuxer.push(encodeFlvHeader({ audio: true, video: true }), onTag);
      demuxer.push(encodeFlvTag("audio", 0, hex("af01")), onTag);
      expectFlvError(() => demuxer.push(tag.subarray(0, 11), onTag), FlvErrorCode.tagType);
      expect(tags).toHaveLength(1);
    });

    it("tagSize: a header announcing more than maxTagSize is refused at once", () => {
      const file = buildFile([{ kind: "video", timestamp: 0, body: Buffer.alloc(101) }]);
      expectFlvError(
        () => new FlvDemuxer({ maxTagSize: 100 }).push(file.subarray(0, 13 + 11), () => {}),
        FlvErrorCode.tagSize,
      );
      expect(demux([file], { maxTagSize: 101 }).tags).toHaveLength(1);
    });

    it("tagSize: the default limit is 16 MiB, which any 24-bit size satisfies", () => {
      const header = Buffer.concat([
        encodeFlvHeader({ audio: false, video: true }),
        hex("09 ffffff 000000 00 000000"),
      ]);
      const demuxer = new FlvDemuxer();
      demuxer.push(header, () => {});
      expect(demuxer.pending).toBe(true);
      expect(demuxer.bufferedBytes).toBe(0); // nothing allocated before the body's first byte
      // One body byte of the 16 MiB announced costs 4 KiB, not 16 MiB (found by pnpm fuzz).
      demuxer.push(hex("17"), () => {});
      expect(demuxer.bufferedBytes).toBe(4096);
    });

    it("a body trickled in grows with the bytes received, at most twice them, and ends at its size", () => {
      const size = 1_000_000;
      const body = Buffer.alloc(size, 0x27);
      body[0] = 0x17;
      const file = Buffer.concat([
        encodeFlvHeader({ audio: false, video: true }),
        encodeFlvTag("video", 0, body),
      ]);
      const demuxer = new FlvDemuxer();
      const bodies: Buffer[] = [];
      let received = 0;
      const headerLength = 13 + 11;
      for (let at = 0; at < file.length; at += 1000) {
        const piece = file.subarray(at, Math.min(file.length, at + 1000));
        demuxer.push(piece, (tag) => bodies.push(tag.body));
        received = Math.max(0, Math.min(size, at + piece.length - headerLength));
        if (bodies.length === 0)
          expect(demuxer.bufferedBytes).toBeLessThanOrEqual(Math.max(2 * received, 4096));
      }
      expect(bodies).toHaveLength(1);
      expect(bodies[0].length).toBe(size);
      expect(bodies[0].buffer.byteLength).toBeGreaterThanOrEqual(size);
      expect(bodies[0].equals(body)).toBe(true);
      expect(demuxer.bufferedBytes).toBe(0);
    });

    it("previousTagSize: checked only when asked", () => {
      const file = Buffer.from(smallFile);
      const firstTagEnd = 13 + 11 + smallTags[0].body.length;
      file.writeUInt32BE(999, firstTagEnd);
      expect(demux([file]).tags).toEqual(smallTags);
      expectFlvError(() => demux([file], { checkPreviousTagSize: true }), FlvErrorCode.previousTagSize);
    });

    it("previousTagSize: PreviousTagSize0 must be 0 when checked", () => {
      const file = Buffer.from(smallFile);
      file.writeUInt32BE(5, 9);
      expect(demux([file]).tags).toEqual(smallTags);
      expectFlvError(() => demux([file], { checkPreviousTagSize: true }), FlvErrorCode.previousTagSize);
    });

    it("after an error every push throws the same error", () => {
      const demuxer = new FlvDemuxer();
      let first: unknown;
      try {
        demuxer.push(hex("000000000000000000"), () => {});
      } catch (error) {
        first = error;
      }
      expect(first).toBeInstanceOf(FlvError);
      expect(() => demuxer.push(smallFile, () => {})).toThrow(first as Error);
    });

    it("an error thrown by onTag propagates and stops the demuxer", () => {
      const demuxer = new FlvDemuxer();
      const failure = new Error("listener failed");
      expect(() =>
        demuxer.push(smallFile, () => {
          throw failure;
        }),
      ).toThrow(failure);
      expect(() => demuxer.push(smallFile, () => {})).toThrow(failure);
    });
  });
});
