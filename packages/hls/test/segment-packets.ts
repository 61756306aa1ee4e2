/** Test helpers for the segmenter tests: media packets (H.264, AAC, MP3, AV1) and synthetic live streams. */
import { createMediaPacket, type MediaPacket, type StreamInfo } from "@onair/core";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

/** ffmpeg 5.1 + libx264 parameter sets (1920x1080). */
export const AVC_RECORD = hex(
  "0142c028ffe100196742c028da01e0089f97011000000300100000030320f1832a01000468ce0fc8",
);
/** The same with another PPS: a changed configuration. */
export const AVC_RECORD_2 = hex(
  "0142c028ffe100196742c028da01e0089f97011000000300100000030320f1832a01000468ce3c80",
);
/** AAC-LC 44.1 kHz stereo. */
export const AAC_ASC = hex("12 10");

export function info(key = "live/cam", id = "w1"): StreamInfo {
  const [app, name] = key.split("/");
  return { key, app, name, url: `test://${key}`, id };
}

function avcBody(frameType: 1 | 2, packetType: 0 | 1, data: Buffer, cts = 0): Buffer {
  const head = Buffer.from([(frameType << 4) | 7, packetType, 0, 0, 0]);
  head.writeIntBE(cts, 2, 3);
  return Buffer.concat([head, data]);
}

/** One NAL unit, 4-byte length prefixed: an IDR slice (type 5) or a non-IDR slice (type 1). */
function slice(keyframe: boolean, size: number): Buffer {
  const nal = Buffer.alloc(Math.max(2, size), keyframe ? 0x11 : 0x22);
  nal[0] = keyframe ? 0x65 : 0x41;
  nal[1] = 0x88;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(nal.length);
  return Buffer.concat([length, nal]);
}

export const avcHeader = (ts = 0, record = AVC_RECORD): MediaPacket =>
  createMediaPacket("video", ts, avcBody(1, 0, record), { sequenceHeader: true });

export const videoFrame = (ts: number, keyframe: boolean, size = 400): MediaPacket =>
  createMediaPacket("video", ts, avcBody(keyframe ? 1 : 2, 1, slice(keyframe, size)), { keyframe });

export const aacHeader = (ts = 0, asc = AAC_ASC): MediaPacket =>
  createMediaPacket("audio", ts, Buffer.concat([hex("af 00"), asc]), { sequenceHeader: true });

export const aacFrame = (ts: number, size = 100): MediaPacket =>
  createMediaPacket("audio", ts, Buffer.concat([hex("af 01"), Buffer.alloc(size, 0x21)]));

/** An MPEG-1 Layer III frame, 128 kb/s 44.1 kHz stereo (FLV sound format 2). */
export const mp3Frame = (ts: number): MediaPacket => {
  const frame = Buffer.alloc(417, 0);
  frame.set([0xff, 0xfb, 0x90, 0x64]);
  return createMediaPacket("audio", ts, Buffer.concat([hex("2f"), frame]));
};

/** Enhanced RTMP AV1: a sequence start and a coded frame (AV1 is not muxed to HLS here). */
export const av1Header = (ts = 0): MediaPacket =>
  createMediaPacket("video", ts, Buffer.concat([hex("90"), Buffer.from("av01"), hex("81 00 0c 00")]), {
    sequenceHeader: true,
  });
export const av1Frame = (ts: number, keyframe: boolean): MediaPacket =>
  createMediaPacket(
    "video",
    ts,
    Buffer.concat([Buffer.from([keyframe ? 0x91 : 0xa1]), Buffer.from("av01"), Buffer.alloc(50, 1)]),
    { keyframe },
  );

export interface SyntheticStream {
  /** First timestamp (ms). */
  start?: number;
  durationMs: number;
  /** Video frames per second; 0 for no video. Default 25. */
  fps?: number;
  /** Keyframe every this many ms. Default 1000. */
  gopMs?: number;
  /** AAC frames (1024 samples at 44.1 kHz: about 23.2 ms); false for no audio. Default true. */
  audio?: boolean;
  /** Keyframes at these timestamps only (overrides gopMs). */
  keyframesAt?: number[];
  videoBytes?: number;
}

/** The frames (no headers) of a synthetic stream, in timestamp order, audio before video at a tie. */
export function frames(options: SyntheticStream): MediaPacket[] {
  const start = options.start ?? 0;
  const end = start + options.durationMs;
  const fps = options.fps ?? 25;
  const gopMs = options.gopMs ?? 1000;
  const out: { ts: number; order: number; packet: MediaPacket }[] = [];
  if (fps > 0) {
    const keyframes = options.keyframesAt === undefined ? undefined : new Set(options.keyframesAt);
    for (let i = 0; ; i++) {
      const ts = start + Math.round((i * 1000) / fps);
      if (ts >= end) break;
      const keyframe =
        keyframes === undefined ? Math.round((i * 1000) / fps) % gopMs === 0 : keyframes.has(ts);
      out.push({ ts, order: 1, packet: videoFrame(ts, keyframe, options.videoBytes) });
    }
  }
  if (options.audio !== false) {
    for (let i = 0; ; i++) {
      const ts = start + Math.round((i * 1024 * 1000) / 44_100);
      if (ts >= end) break;
      out.push({ ts, order: 0, packet: aacFrame(ts) });
    }
  }
  out.sort((a, b) => a.ts - b.ts || a.order - b.order);
  return out.map((entry) => entry.packet);
}

/** Headers (video and audio as the stream has them) then its frames. */
export function stream(options: SyntheticStream): MediaPacket[] {
  const headers: MediaPacket[] = [];
  if ((options.fps ?? 25) > 0) headers.push(avcHeader(options.start ?? 0));
  if (options.audio !== false) headers.push(aacHeader(options.start ?? 0));
  return [...headers, ...frames(options)];
}

/** Media playlist lines that start with `tag`, without it. */
export function tagValues(playlist: string, tag: string): string[] {
  return playlist
    .split("\n")
    .filter((line) => line.startsWith(tag))
    .map((line) => line.slice(tag.length));
}

/** The EXTINF durations of a playlist, in seconds. */
export function extinfs(playlist: string): number[] {
  return tagValues(playlist, "#EXTINF:").map((v) => Number.parseFloat(v));
}

/** Segment URIs of a playlist (the lines after EXTINF). */
export function segmentUris(playlist: string): string[] {
  const lines = playlist.split("\n");
  const uris: string[] = [];
  for (let i = 0; i < lines.length; i++) if (lines[i].startsWith("#EXTINF:")) uris.push(lines[i + 1]);
  return uris;
}

/** The file name of a URI ("cam/abc-1.ts?x=1" → "abc-1.ts"). */
export function fileOf(uri: string): string {
  const path = uri.split("?")[0];
  return path.slice(path.lastIndexOf("/") + 1);
}

/** The attribute value of `name` in an attribute list (`URI="a",DURATION=1` → URI → a). */
export function attribute(list: string, name: string): string | undefined {
  const match = new RegExp(`(?:^|,)${name}=("[^"]*"|[^,]*)`).exec(list);
  if (match === null) return undefined;
  const value = match[1];
  return value.startsWith('"') ? value.slice(1, -1) : value;
}
