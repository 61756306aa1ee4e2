/**
 * Golden FLV tag bodies and AVC decoder configurations for the FLV targets: legacy and Enhanced
 * RTMP video and audio, script data, and avcC records written by ffmpeg 5.1 / x264 (the same
 * bytes as packages/flv/test/tag-body.test.ts and flv-fuzz.test.ts).
 */
import type { MediaKind } from "@onair/core";

const hex = (text: string): Buffer => Buffer.from(text.replaceAll(" ", ""), "hex");
const ascii = (text: string): Buffer => Buffer.from(text, "latin1");

/** avcC records: high 4:4:4 320x240, baseline 352x288, high 1280x720, high 1920x1080, interlaced 720x576. */
export const avcDecoderConfigs: readonly Buffer[] = [
  "01f4000dffe1001967f4000d919b28283f6022000003000200000300641e28532c01000668ebe3c44844fff8f800",
  "01f40028ffe1001b67f40028919b280f0044fc4e0220000003002000000641e30632c001000668ebe3c44844fff8f800",
  "0142c00dffe100186742c00dd9016096c044000003000400000300c83c50a92001000568cb83cb20",
  "0164001fffe1001a6764001facd9405005bb011000000300100000030320f183196001000668ebe3cb22c0fdf8f800",
  "01640028ffe1001b67640028acd940780227e5c044000003000400000300c83c60c65801000668ebe3cb22c0fdf8f800",
  "0164001effe100186764001eacd940b424d8088000000300800000190f8a14cb01000668fba3cb22c0fdf8f800",
].map(hex);

export const seedBodies: readonly { kind: MediaKind; body: Buffer }[] = [
  {
    kind: "script",
    body: hex("02000a6f6e4d65746144617461080000000100086475726174696f6e004000000000000000000009"),
  },
  // AVC sequence header (keyframe, packet type 0, cts 0, then the 1280x720 avcC), a NALU, an inter frame.
  { kind: "video", body: Buffer.concat([hex("1700000000"), avcDecoderConfigs[3]]) },
  { kind: "video", body: hex("1701000028000000056588840021") },
  { kind: "video", body: hex("2701ffffd800000003419a21") },
  // Legacy HEVC (codec id 12), H.263, VP6 with its adjustment byte.
  { kind: "video", body: hex("1c000000000101") },
  { kind: "video", body: hex("120000") },
  { kind: "video", body: hex("2400aa") },
  // Enhanced: hvc1 coded frames with a CTS, av01 sequence start behind ModEx, vp09 keyframe, a command frame, multitrack.
  { kind: "video", body: Buffer.concat([hex("91"), ascii("hvc1"), hex("00002100000003260150")]) },
  { kind: "video", body: Buffer.concat([hex("97 02 010203 03"), ascii("av01"), hex("12000a")]) },
  { kind: "video", body: Buffer.concat([hex("9611"), ascii("vp09"), hex("0000000482490000")]) },
  { kind: "video", body: hex("d000") },
  {
    kind: "video",
    body: Buffer.concat([
      hex("96 01"),
      ascii("avc1"),
      hex("00 000004"),
      ascii("hvc1"),
      hex("01 000004 deadbeef"),
    ]),
  },
  { kind: "video", body: Buffer.concat([hex("96 21"), ascii("avc1"), hex("00 00000a 000000")]) },
  { kind: "video", body: Buffer.concat([hex("90"), ascii("avc1"), avcDecoderConfigs[2]]) },
  // AAC sequence header and raw frame, MP3, Enhanced Opus, fLaC behind ModEx, multitrack audio.
  { kind: "audio", body: hex("af001210") },
  { kind: "audio", body: hex("af0121100465") },
  { kind: "audio", body: hex("2fffe3") },
  { kind: "audio", body: Buffer.concat([hex("90"), ascii("OpusOpusHead")]) },
  { kind: "audio", body: Buffer.concat([hex("95 21"), ascii("fLaC"), hex("0100000201ff")]) },
  { kind: "audio", body: Buffer.concat([hex("95 01"), ascii("mp4a"), hex("00 000002 1210")]) },
  { kind: "audio", body: Buffer.concat([hex("95 20"), ascii("ac-3"), hex("00"), ascii("ec-3"), hex("01")]) },
];

export const seedBodiesOnly: readonly Buffer[] = [
  ...seedBodies.map((seed) => seed.body),
  ...avcDecoderConfigs,
];
