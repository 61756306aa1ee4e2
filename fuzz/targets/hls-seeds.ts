/**
 * Golden FLV tag bodies for the HLS targets (the bytes of packages/hls/test: ffmpeg 5.1 + libx264 /
 * libx265 parameter sets, AAC AudioSpecificConfigs, an MP3 frame), built into the bodies a
 * publisher sends: AVC and HEVC (legacy codec id 12 and Enhanced hvc1) sequence headers and coded
 * frames with length-prefixed and Annex B NAL units, avcC/hvcC without parameter sets (in-band),
 * AAC sequence headers and raw frames, MP3, and the codecs HLS refuses (AV1, Opus).
 */

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");
const ascii = (text: string): Buffer => Buffer.from(text, "latin1");

/** ffmpeg 5.1 + libx264 1920x1080 baseline avcC, and the same with another PPS. */
export const AVC_RECORD = hex(
  "0142c028ffe100196742c028da01e0089f97011000000300100000030320f1832a01000468ce0fc8",
);
const AVC_RECORD_2 = hex("0142c028ffe100196742c028da01e0089f97011000000300100000030320f1832a01000468ce3c80");
/** A High-profile avcC with the chroma/bit-depth extension after the PPS. */
const AVC_HIGH = hex("01 64 00 1f ff e1 000a 6764001facd9405005bb 01 0004 68ebe3cb fdf8f800");
/** An avcC with no SPS/PPS (ffmpeg -f tee): the parameter sets come in the keyframes. */
const AVC_EMPTY = hex("01 42 c0 0d ff e0 00");
const SPS = hex("67 42 c0 0d da 05 07 ec 04 40 00 00 03 00 40 00 00 0c a3 c5 0a a8");
const PPS = hex("68 ce 0f c8");
const SEI = hex("06 05 01 aa 80");
const IDR = hex("65 88 84 00 33 ff");
const SLICE = hex("41 9a 02 04");
/** libx265 1280x720 Main. */
const VPS = hex("40010c01ffff01600000030090000003000003005d959809");
const HSPS = hex("42010101600000030090000003000003005da00280802d165959a4932bc05a020000030002000003003210");
const HPPS = hex("4401c172b46240");
const IRAP = hex("26 01 af 09 40");
const TRAIL = hex("02 01 d0 09");

/** AAC-LC 44.1 kHz stereo, HE-AAC (implicit and explicit SBR), AAC-LC 48 kHz mono, 960-sample frames. */
export const AAC_ASC = hex("12 10");
const AAC_ASCS = [AAC_ASC, hex("13 10 56 e5 98"), hex("2b 11 88 00"), hex("11 88"), hex("12 14")];

function lengthPrefixed(size: number, units: Buffer[]): Buffer {
  return Buffer.concat(
    units.flatMap((unit) => {
      const length = Buffer.alloc(size);
      length.writeUIntBE(unit.length, 0, size);
      return [length, unit];
    }),
  );
}

const annexB = (units: Buffer[]): Buffer =>
  Buffer.concat(units.flatMap((unit, i) => [i === 0 ? hex("00 00 00 01") : hex("00 00 01"), unit]));

/** An hvcC with the given parameter sets (profile fields zero but for the version). */
function hvcC(sets: Buffer[], lengthSize: number): Buffer {
  const fixed = Buffer.alloc(23);
  fixed[0] = 1;
  fixed[21] = 0x0c | (lengthSize - 1);
  fixed[22] = sets.length;
  const arrays = sets.map((nal) =>
    Buffer.concat([
      Buffer.from([0x80 | ((nal[0] >> 1) & 0x3f), 0, 1, nal.length >> 8, nal.length & 0xff]),
      nal,
    ]),
  );
  return Buffer.concat([fixed, ...arrays]);
}

const HVCC = hvcC([VPS, HSPS, HPPS], 4);

/** A legacy AVC body: frameType:4 codecId:4 | packetType | cts:24 | data. */
function avc(frameType: number, packetType: number, data: Buffer, cts = 0): Buffer {
  const head = Buffer.from([(frameType << 4) | 7, packetType, 0, 0, 0]);
  head.writeIntBE(cts, 2, 3);
  return Buffer.concat([head, data]);
}

/** A legacy HEVC body (codec id 12, as some servers send). */
function hevcLegacy(frameType: number, packetType: number, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(frameType << 4) | 12, packetType, 0, 0, 0]), data]);
}

/** An Enhanced RTMP hvc1 body: 1 frameType:3 packetType:4 | "hvc1" | [cts:24 for coded frames] | data. */
function hvc1(frameType: number, packetType: number, data: Buffer, cts = 0): Buffer {
  const head = Buffer.concat([Buffer.from([0x80 | (frameType << 4) | packetType]), ascii("hvc1")]);
  if (packetType !== 1) return Buffer.concat([head, data]);
  const time = Buffer.alloc(3);
  time.writeIntBE(cts, 0, 3);
  return Buffer.concat([head, time, data]);
}

const MP3_FRAME = (() => {
  const frame = Buffer.alloc(417, 0);
  frame.set([0xff, 0xfb, 0x90, 0x64]);
  return frame;
})();

export interface HlsSeed {
  kind: "video" | "audio" | "script";
  body: Buffer;
}

/** Video sequence headers: what configures a track. */
export const videoHeaders: readonly Buffer[] = [
  avc(1, 0, AVC_RECORD),
  avc(1, 0, AVC_RECORD_2),
  avc(1, 0, AVC_HIGH),
  avc(1, 0, AVC_EMPTY),
  hvc1(1, 0, HVCC),
  hvc1(1, 0, hvcC([VPS, HSPS, HPPS], 2)),
  hvc1(1, 0, Buffer.alloc(0)),
  hevcLegacy(1, 0, HVCC),
];

/** Coded video frames: [body, keyframe] (length-prefixed with 4, 2 and 1 bytes, Annex B, in-band sets). */
export const videoFrames: readonly Buffer[] = [
  avc(1, 1, lengthPrefixed(4, [SEI, IDR])),
  avc(2, 1, lengthPrefixed(4, [SLICE]), 40),
  avc(2, 1, lengthPrefixed(4, [SLICE, SLICE]), -40),
  avc(1, 1, annexB([SPS, PPS, SEI, IDR])),
  avc(1, 1, lengthPrefixed(4, [SPS, PPS, IDR])),
  avc(2, 1, annexB([SLICE])),
  avc(1, 1, lengthPrefixed(2, [IDR])),
  avc(1, 1, lengthPrefixed(1, [IDR])),
  avc(2, 2, Buffer.alloc(0)), // end of sequence
  hvc1(1, 1, lengthPrefixed(4, [IRAP]), 0),
  hvc1(2, 1, lengthPrefixed(4, [TRAIL]), 33),
  hvc1(2, 3, lengthPrefixed(4, [TRAIL])), // CodedFramesX: no composition time
  hvc1(1, 1, annexB([VPS, HSPS, HPPS, IRAP])),
  hvc1(1, 1, lengthPrefixed(4, [VPS, HSPS, HPPS, IRAP])),
  hevcLegacy(1, 1, lengthPrefixed(4, [IRAP])),
  hevcLegacy(2, 1, lengthPrefixed(4, [TRAIL])),
  Buffer.from([0x57, 0x00]), // a command frame
];

export const audioHeaders: readonly Buffer[] = AAC_ASCS.map((asc) => Buffer.concat([hex("af 00"), asc]));

export const audioFrames: readonly Buffer[] = [
  Buffer.concat([hex("af 01"), Buffer.alloc(100, 0x21)]),
  Buffer.concat([hex("af 01"), hex("21 10 04 60 8c 1c")]),
  Buffer.concat([hex("af 01"), Buffer.alloc(1, 0)]),
  Buffer.concat([hex("2f"), MP3_FRAME]),
  Buffer.concat([hex("2e"), MP3_FRAME.subarray(0, 100)]), // MP3, 44 kHz mono, truncated
  Buffer.concat([hex("22"), hex("ff f3 48 c4"), Buffer.alloc(100, 0)]), // MPEG-2 Layer III, 5.5 kHz
  Buffer.concat([hex("2f"), Buffer.alloc(50, 0x55)]), // MP3 without a sync word
];

/** What HLS refuses: AV1, VP9, Opus, Speex, multitrack, script data. */
export const refusedBodies: readonly HlsSeed[] = [
  { kind: "video", body: Buffer.concat([hex("90"), ascii("av01"), hex("81 00 0c 00")]) },
  { kind: "video", body: Buffer.concat([hex("91"), ascii("av01"), Buffer.alloc(50, 1)]) },
  { kind: "video", body: Buffer.concat([hex("9611"), ascii("vp09"), hex("0000000482490000")]) },
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
  { kind: "audio", body: Buffer.concat([hex("90"), ascii("OpusOpusHead")]) },
  { kind: "audio", body: hex("b2 0102") },
  {
    kind: "script",
    body: hex("02000a6f6e4d65746144617461080000000100086475726174696f6e004000000000000000000009"),
  },
];

/** Every golden body, for mutation and splicing. */
export const hlsSeeds: readonly HlsSeed[] = [
  ...videoHeaders.map((body) => ({ kind: "video" as const, body })),
  ...videoFrames.map((body) => ({ kind: "video" as const, body })),
  ...audioHeaders.map((body) => ({ kind: "audio" as const, body })),
  ...audioFrames.map((body) => ({ kind: "audio" as const, body })),
  ...refusedBodies,
];

export const hlsSeedBodies: readonly Buffer[] = [...hlsSeeds.map((seed) => seed.body), AVC_RECORD, HVCC];

/** A valid configuration and frames to mux after garbage: the muxer must still take them. */
export const validAvcHeader = avc(1, 0, AVC_RECORD);
export const validAvcKeyframe = avc(1, 1, lengthPrefixed(4, [SEI, IDR]));
export const validAvcInterframe = avc(2, 1, lengthPrefixed(4, [SLICE]));
export const validHevcHeader = hvc1(1, 0, HVCC);
export const validHevcKeyframe = hvc1(1, 1, lengthPrefixed(4, [IRAP]));
export const validAacHeader = Buffer.concat([hex("af 00"), AAC_ASC]);
export const validAacFrame = Buffer.concat([hex("af 01"), Buffer.alloc(100, 0x21)]);
export const validMp3Frame = Buffer.concat([hex("2f"), MP3_FRAME]);
