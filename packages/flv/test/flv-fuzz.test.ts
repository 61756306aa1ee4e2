/**
 * Seeded fuzzing of the demuxer and the tag-body parsers: random and mutated input must end in
 * normal progress or an FlvError (never RangeError, TypeError or a hang), and the demuxer must
 * never hold more than maxTagSize + 11 bytes between pushes.
 */
import type { MediaKind } from "@onair/core";
import { describe, expect, it } from "vitest";
import { seededRandom } from "../../../test-support/seeded-random.js";
import { FlvDemuxer } from "../src/codec/flv-demuxer.js";
import { encodeFlvHeader, encodeFlvTag } from "../src/codec/flv-muxer.js";
import { createPacketFromTagBody, parseAudioTagHeader, parseVideoTagHeader } from "../src/codec/tag-body.js";
import { FlvError } from "../src/errors.js";

const random = seededRandom(0x5eed);
const int = (below: number) => Math.floor(random() * below);

function randomBytes(length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = int(256);
  return bytes;
}

const MAX_TAG_SIZE = 4096;

/** Realistic tag bodies: legacy and Enhanced video and audio, script data. */
const seedBodies: { kind: MediaKind; body: Buffer }[] = [
  {
    kind: "script",
    body: Buffer.from(
      "02000a6f6e4d65746144617461080000000100086475726174696f6e004000000000000000000009",
      "hex",
    ),
  },
  { kind: "video", body: Buffer.from("17000000000164001fffe1001a6764001facd9405005bb0110", "hex") },
  { kind: "video", body: Buffer.from("1701000028000000056588840021", "hex") },
  { kind: "video", body: Buffer.from("2701ffffd800000003419a21", "hex") },
  {
    kind: "video",
    body: Buffer.concat([
      Buffer.from([0x91]),
      Buffer.from("hvc1"),
      Buffer.from("00002100000003260150", "hex"),
    ]),
  },
  {
    kind: "video",
    body: Buffer.concat([
      Buffer.from([0x97, 0x02, 1, 2, 3, 0x03]),
      Buffer.from("av01"),
      Buffer.from("12000a", "hex"),
    ]),
  },
  {
    kind: "video",
    body: Buffer.concat([
      Buffer.from([0x96, 0x11]),
      Buffer.from("vp09"),
      Buffer.from("0000000482490000", "hex"),
    ]),
  },
  { kind: "audio", body: Buffer.from("af001210", "hex") },
  { kind: "audio", body: Buffer.from("af0121100465", "hex") },
  { kind: "audio", body: Buffer.from("2fffe3", "hex") },
  { kind: "audio", body: Buffer.concat([Buffer.from([0x90]), Buffer.from("OpusOpusHead")]) },
  {
    kind: "audio",
    body: Buffer.concat([Buffer.from([0x95, 0x21]), Buffer.from("fLaC"), Buffer.from("0100000201ff", "hex")]),
  },
];

function validFile(tagCount: number): Buffer {
  const parts = [encodeFlvHeader({ audio: true, video: true })];
  for (let i = 0; i < tagCount; i++) {
    const seed = seedBodies[int(seedBodies.length)];
    const body = random() < 0.2 ? Buffer.concat([seed.body, randomBytes(int(300))]) : seed.body;
    parts.push(encodeFlvTag(seed.kind, i * 20, body));
  }
  return Buffer.concat(parts);
}

function mutate(source: Buffer): Buffer {
  let bytes = Buffer.from(source);
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds; r++) {
    const at = int(bytes.length + 1);
    switch (int(5)) {
      case 0: // flip a byte
        if (bytes.length > 0) bytes[Math.min(at, bytes.length - 1)] = int(256);
        break;
      case 1: // truncate
        bytes = bytes.subarray(0, at);
        break;
      case 2: // insert random bytes
        bytes = Buffer.concat([bytes.subarray(0, at), randomBytes(int(20)), bytes.subarray(at)]);
        break;
      case 3: // delete a range
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + int(30))]);
        break;
      case 4: // a size field to its maximum
        if (at + 3 <= bytes.length) bytes.writeUIntBE(0xffffff, at, 3);
        break;
    }
  }
  return bytes;
}

function randomSplits(bytes: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = 1 + int(random() < 0.5 ? 16 : 2000);
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

/** Checks what a parsed tag body gives: flags never throw, parsers throw only FlvError. */
function checkBody(kind: MediaKind, body: Buffer): void {
  const packet = createPacketFromTagBody(kind, 0, body);
  expect(packet.payload).toBe(body);
  if (kind === "script") return;
  try {
    const header = kind === "video" ? parseVideoTagHeader(body) : parseAudioTagHeader(body);
    expect(header.headerLength).toBeLessThanOrEqual(body.length);
    expect(packet.sequenceHeader).toBe(header.sequenceHeader);
  } catch (error) {
    if (!(error instanceof FlvError)) throw error;
    expect(packet.sequenceHeader).toBe(false);
    expect(packet.keyframe).toBe(false);
  }
}

/** Feeds `chunks`; returns the outcome. Anything thrown besides FlvError fails the test. */
function feed(
  chunks: Buffer[],
  checkPreviousTagSize: boolean,
): { tags: number; error: FlvError | undefined } {
  const demuxer = new FlvDemuxer({ maxTagSize: MAX_TAG_SIZE, checkPreviousTagSize });
  let tags = 0;
  for (const chunk of chunks) {
    try {
      demuxer.push(chunk, (tag) => {
        expect(tag.body.length).toBeLessThanOrEqual(MAX_TAG_SIZE);
        checkBody(tag.kind, tag.body);
        tags += 1;
      });
    } catch (error) {
      if (!(error instanceof FlvError)) throw error;
      expect(error.code).toMatch(/^ERR_FLV_/);
      return { tags, error };
    }
    expect(demuxer.bufferedBytes).toBeLessThanOrEqual(MAX_TAG_SIZE + 11);
  }
  return { tags, error: undefined };
}

describe("FLV fuzz (seeded)", () => {
  it("random bytes, with and without a valid header", () => {
    const header = encodeFlvHeader({ audio: true, video: true });
    let errors = 0;
    for (let i = 0; i < 3000; i++) {
      const noise = randomBytes(int(3000));
      const input = random() < 0.7 ? Buffer.concat([header, noise]) : noise;
      if (feed(randomSplits(input), random() < 0.5).error !== undefined) errors += 1;
    }
    expect(errors).toBeGreaterThan(0);
  });

  it("mutated valid files", () => {
    const outcomes = { clean: 0, failed: 0 };
    for (let i = 0; i < 1500; i++) {
      const file = validFile(1 + int(30));
      const result = feed(randomSplits(mutate(file)), random() < 0.5);
      if (result.error === undefined) outcomes.clean += 1;
      else outcomes.failed += 1;
    }
    // Both paths are exercised.
    expect(outcomes.clean).toBeGreaterThan(0);
    expect(outcomes.failed).toBeGreaterThan(0);
  });

  it("an unmutated file always reads back whole, whatever the splits", () => {
    for (let i = 0; i < 200; i++) {
      const count = 1 + int(20);
      const result = feed(randomSplits(validFile(count)), true);
      expect(result).toEqual({ tags: count, error: undefined });
    }
  });

  it("random and mutated tag bodies", () => {
    for (let i = 0; i < 15_000; i++) {
      const kind: MediaKind = random() < 0.5 ? "video" : "audio";
      const body =
        random() < 0.5
          ? randomBytes(int(24))
          : mutate(seedBodies[int(seedBodies.length)].body).subarray(0, 64);
      checkBody(kind, body);
      // Enhanced headers in particular: force the ExHeader bit / sound format 9.
      if (body.length > 0) {
        const enhanced = Buffer.from(body);
        enhanced[0] = kind === "video" ? enhanced[0] | 0x80 : 0x90 | (enhanced[0] & 0x0f);
        checkBody(kind, enhanced);
      }
    }
  });

  it("a hostile stream of maximum-size tag headers holds at most maxTagSize + 11 bytes", () => {
    const demuxer = new FlvDemuxer({ maxTagSize: MAX_TAG_SIZE });
    demuxer.push(encodeFlvHeader({ audio: true, video: true }), () => {});
    const tag = encodeFlvTag("video", 0, randomBytes(MAX_TAG_SIZE));
    let delivered = 0;
    for (let round = 0; round < 20; round++) {
      for (const chunk of randomSplits(tag)) {
        demuxer.push(chunk, () => {
          delivered += 1;
        });
        expect(demuxer.bufferedBytes).toBeLessThanOrEqual(MAX_TAG_SIZE + 11);
      }
    }
    expect(delivered).toBe(20);
  });
});
