import { createMediaPacket, encodeOnce } from "@onair/core";
import { describe, expect, it } from "vitest";
import { FlvDemuxer, type FlvTag } from "../src/codec/flv-demuxer.js";
import { encodeFlvHeader, encodeFlvTag, FlvTagEncoder, flvTagEncoder } from "../src/codec/flv-muxer.js";
import { FlvErrorCode } from "../src/errors.js";

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");

describe("encodeFlvHeader", () => {
  it.each([
    // "FLV" | version 1 | flags 0000 0101 (audio, video) | data offset 9 | PreviousTagSize0 0
    { flags: { audio: true, video: true }, bytes: "464c56 01 05 00000009 00000000" },
    { flags: { audio: true, video: false }, bytes: "464c56 01 04 00000009 00000000" },
    { flags: { audio: false, video: true }, bytes: "464c56 01 01 00000009 00000000" },
    { flags: { audio: false, video: false }, bytes: "464c56 01 00 00000009 00000000" },
  ])("audio $flags.audio, video $flags.video", ({ flags, bytes }) => {
    expect(encodeFlvHeader(flags)).toEqual(hex(bytes));
  });
});

describe("encodeFlvTag", () => {
  it.each([
    {
      name: "video keyframe at 40 ms",
      kind: "video" as const,
      timestamp: 40,
      body: "17 01 000000 deadbeef",
      // type 9 | size 9 | timestamp 000028 | extended 00 | stream id 0 | body | PreviousTagSize 20
      bytes: "09 000009 000028 00 000000 1701000000deadbeef 00000014",
    },
    {
      name: "audio with a timestamp above 24 bits uses the extended byte",
      kind: "audio" as const,
      timestamp: 0x12345678,
      body: "af 01 21",
      // low 24 bits 345678, extended byte 12
      bytes: "08 000003 345678 12 000000 af0121 0000000e",
    },
    {
      name: "timestamp exactly 2^24",
      kind: "video" as const,
      timestamp: 0x1000000,
      body: "27 01 000000",
      bytes: "09 000005 000000 01 000000 2701000000 00000010",
    },
    {
      name: "script data with an empty body",
      kind: "script" as const,
      timestamp: 0,
      body: "",
      bytes: "12 000000 000000 00 000000 0000000b",
    },
    {
      name: "timestamp taken mod 2^32",
      kind: "audio" as const,
      timestamp: 2 ** 32 + 5,
      body: "2f",
      bytes: "08 000001 000005 00 000000 2f 0000000c",
    },
  ])("$name", ({ kind, timestamp, body, bytes }) => {
    expect(encodeFlvTag(kind, timestamp, hex(body))).toEqual(hex(bytes));
  });

  it("allocates exactly the tag (one Buffer of 11 + body + 4 bytes)", () => {
    const tag = encodeFlvTag("video", 1, Buffer.alloc(1000, 1));
    expect(tag.length).toBe(1015);
    expect(tag.readUInt32BE(1011)).toBe(1011);
  });

  it("refuses a body larger than the 24-bit DataSize", () => {
    const body = Buffer.alloc(0x1000000);
    expect(() => encodeFlvTag("video", 0, body)).toThrow(
      expect.objectContaining({ code: FlvErrorCode.tagSize }),
    );
    expect(encodeFlvTag("video", 0, body.subarray(1)).length).toBe(0xffffff + 15);
  });
});

describe("FlvTagEncoder", () => {
  it("encodes a packet as its FLV tag", () => {
    const payload = hex("af 00 1210");
    const packet = createMediaPacket("audio", 1000, payload, { sequenceHeader: true });
    expect(new FlvTagEncoder().encode(packet)).toEqual(encodeFlvTag("audio", 1000, payload));
  });

  it("the shared instance makes encodeOnce hand every writer the same Buffer", () => {
    expect(flvTagEncoder).toBeInstanceOf(FlvTagEncoder);
    const packet = createMediaPacket("video", 33, hex("17 01 000000 00000001 65"), { keyframe: true });
    const first = encodeOnce(packet, flvTagEncoder);
    const second = encodeOnce(packet, flvTagEncoder);
    expect(second).toBe(first);
  });

  it("a header and tags read back through the demuxer", () => {
    const packets = [
      createMediaPacket("script", 0, hex("02000a6f6e4d65746144617461 0800000000 000009")),
      createMediaPacket("video", 0, hex("17 00 000000 0164001f")),
      createMediaPacket("audio", 0, hex("af 00 1210")),
      createMediaPacket("video", 0x1fffffff, hex("17 01 000000 00000001 65")),
    ];
    const file = Buffer.concat([
      encodeFlvHeader({ audio: true, video: true }),
      ...packets.map((p) => encodeOnce(p, flvTagEncoder)),
    ]);
    const tags: FlvTag[] = [];
    const demuxer = new FlvDemuxer({ checkPreviousTagSize: true });
    demuxer.push(file, (tag) => tags.push(tag));
    expect(demuxer.header).toEqual({ version: 1, audio: true, video: true });
    expect(tags.map((t) => ({ kind: t.kind, timestamp: t.timestamp, body: t.body }))).toEqual(
      packets.map((p) => ({ kind: p.kind, timestamp: p.timestamp, body: p.payload })),
    );
  });
});
