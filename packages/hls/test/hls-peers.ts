/**
 * Helpers of the HLS interop tests: an in-process RTMP server and one HLS server per variant on one
 * StreamHub, a writer that records what the hub sent (the reference the segments are checked
 * against), playlist parsing, and frame counts by mux.js.
 */
import {
  type MediaPacket,
  nextStreamId,
  type StreamHub,
  type StreamInfo,
  type StreamWriter,
} from "@onair/core";
import { parseVideoTagHeader } from "@onair/flv";
import { createHlsServer, HlsStreams, type HlsStreamsOptions, TS_PACKET_SIZE, TS_PID } from "@onair/hls";
import { createRtmpServer } from "@onair/rtmp";
import muxjs from "mux.js";
import probe from "mux.js/cjs/m2ts/probe.js";

/** A hub writer that keeps the timestamp and flags of every coded frame the hub sent it. */
export class RecordingWriter implements StreamWriter {
  readonly info: StreamInfo;
  readonly frames: { kind: "video" | "audio"; dts: number; keyframe: boolean }[] = [];
  ended = false;
  #listeners: ((error?: Error) => void)[] = [];

  constructor(app: string, name: string) {
    this.info = { key: `${app}/${name}`, app, name, url: "test://recorder", id: nextStreamId("rec") };
  }

  start(): void {}

  write(packet: MediaPacket): void {
    if (packet.sequenceHeader || (packet.kind !== "video" && packet.kind !== "audio")) return;
    if (packet.kind === "video" && parseVideoTagHeader(packet.payload).endOfSequence) return;
    this.frames.push({ kind: packet.kind, dts: packet.timestamp, keyframe: packet.keyframe });
  }

  flush(): void {}

  get bufferedBytes(): number {
    return 0;
  }

  close(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    for (const listener of this.#listeners) listener(error);
  }

  onClose(listener: (error?: Error) => void): void {
    this.#listeners.push(listener);
  }

  /** Frames of `kind` with a DTS (ms) at or after `fromMs`. */
  count(kind: "video" | "audio", fromMs: number): number {
    return this.frames.filter((f) => f.kind === kind && f.dts >= fromMs).length;
  }
}

/** Records `app/name` from the hub (call before the publisher starts: the hub holds it until then). */
export function record(hub: StreamHub, app: string, name: string): RecordingWriter {
  const writer = new RecordingWriter(app, name);
  hub.handleWriter(writer);
  return writer;
}

export interface PlaylistEntry {
  uri: string;
  duration: number;
  parts: { uri: string; duration: number; independent: boolean }[];
}

export interface ParsedPlaylist {
  text: string;
  targetDuration: number;
  mediaSequence: number;
  map: string | undefined;
  segments: PlaylistEntry[];
  ended: boolean;
  partTarget: number;
  tags: string[];
}

function attribute(line: string, name: string): string | undefined {
  const match = new RegExp(`(?:^|[:,])${name}=("([^"]*)"|[^,]*)`).exec(line);
  return match === null ? undefined : (match[2] ?? match[1]);
}

export function parsePlaylist(text: string): ParsedPlaylist {
  const playlist: ParsedPlaylist = {
    text,
    targetDuration: 0,
    mediaSequence: 0,
    map: undefined,
    segments: [],
    ended: false,
    partTarget: 0,
    tags: [],
  };
  let duration = 0;
  let parts: PlaylistEntry["parts"] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    if (line.startsWith("#")) playlist.tags.push(line.split(":")[0]);
    if (line.startsWith("#EXT-X-TARGETDURATION:")) playlist.targetDuration = Number(line.slice(22));
    else if (line.startsWith("#EXT-X-MEDIA-SEQUENCE:")) playlist.mediaSequence = Number(line.slice(22));
    else if (line.startsWith("#EXT-X-MAP:")) playlist.map = attribute(line, "URI");
    else if (line.startsWith("#EXTINF:")) duration = Number.parseFloat(line.slice(8));
    else if (line.startsWith("#EXT-X-PART-INF:"))
      playlist.partTarget = Number(attribute(line, "PART-TARGET"));
    else if (line.startsWith("#EXT-X-PART:")) {
      parts.push({
        uri: attribute(line, "URI") ?? "",
        duration: Number(attribute(line, "DURATION")),
        independent: attribute(line, "INDEPENDENT") === "YES",
      });
    } else if (line === "#EXT-X-ENDLIST") playlist.ended = true;
    else if (!line.startsWith("#")) {
      playlist.segments.push({ uri: line, duration, parts });
      parts = [];
    }
  }
  return playlist;
}

export async function fetchBytes(url: string): Promise<Buffer> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return Buffer.from(await response.arrayBuffer());
}

export async function fetchPlaylist(url: string): Promise<ParsedPlaylist> {
  return parsePlaylist((await fetchBytes(url)).toString("utf8"));
}

type Box = {
  type: string;
  boxes?: Box[];
  samples?: unknown[];
  trackId?: number;
  baseMediaDecodeTime?: number;
};

/** Frames per track in an fMP4 segment or part, as mux.js's inspector reads its moof boxes. */
export function fmp4Frames(bytes: Buffer): { video: number; audio: number } {
  const frames = { video: 0, audio: 0 };
  for (const moof of (muxjs.mp4.tools.inspect(new Uint8Array(bytes)) as Box[]).filter(
    (b) => b.type === "moof",
  )) {
    for (const traf of (moof.boxes ?? []).filter((b) => b.type === "traf")) {
      const trackId = traf.boxes?.find((b) => b.type === "tfhd")?.trackId;
      const samples = traf.boxes?.find((b) => b.type === "trun")?.samples?.length ?? 0;
      if (trackId === 1) frames.video += samples;
      else if (trackId === 2) frames.audio += samples;
      else throw new Error(`unexpected track ${trackId}`);
    }
  }
  return frames;
}

/**
 * Frames per track in an MPEG-TS segment, as mux.js reads it: video from its transmuxer (access
 * units it found), audio as the PES packets its probe finds on the audio PID (the muxer writes one
 * AAC frame per PES; the transmuxer would trim audio before the first video frame). Also the first
 * video and audio DTS (90 kHz) the probe reads.
 */
export function tsFrames(bytes: Buffer): { video: number; audio: number; firstVideoDts?: number } {
  const frames: { video: number; audio: number; firstVideoDts?: number } = { video: 0, audio: 0 };
  const transmuxer = new muxjs.mp4.Transmuxer({ remux: false });
  transmuxer.on("data", (segment) => {
    if (segment.type !== "video") return;
    for (const moof of (muxjs.mp4.tools.inspect(segment.data) as Box[]).filter((b) => b.type === "moof")) {
      for (const traf of (moof.boxes ?? []).filter((b) => b.type === "traf")) {
        frames.video += traf.boxes?.find((b) => b.type === "trun")?.samples?.length ?? 0;
      }
    }
  });
  transmuxer.push(new Uint8Array(bytes));
  transmuxer.flush();
  for (let at = 0; at + TS_PACKET_SIZE <= bytes.length; at += TS_PACKET_SIZE) {
    const packet = new Uint8Array(bytes.subarray(at, at + TS_PACKET_SIZE));
    const pid = ((packet[1] & 0x1f) << 8) | packet[2];
    if (!probe.parsePayloadUnitStartIndicator(packet)) continue;
    if (pid === TS_PID.audio) frames.audio += 1;
    if (pid === TS_PID.video && frames.firstVideoDts === undefined) {
      frames.firstVideoDts = probe.parsePesTime(packet)?.dts;
    }
  }
  return frames;
}

/** The path of a segment URI relative to the playlist URL, resolved. */
export function resolve(uri: string, playlistUrl: string): string {
  return new URL(uri, playlistUrl).toString();
}

export type Variant = "ts" | "fmp4" | "low-latency";

export interface HlsStack {
  hub: StreamHub;
  /** rtmp://127.0.0.1:PORT/live */
  rtmpBase: string;
  /** http://127.0.0.1:PORT for each variant's HLS server. */
  httpBase: Record<Variant, string>;
  playlistUrl: (variant: Variant, name: string) => string;
  close: () => Promise<void>;
}

/** An RTMP server and one HLS server per variant, all on `hub`, on loopback ports. */
export async function startHlsStack(
  hub: StreamHub,
  variants: readonly Variant[],
  options: Partial<Record<Variant, HlsStreamsOptions>> = {},
): Promise<HlsStack> {
  const rtmp = createRtmpServer({ handler: hub, host: "127.0.0.1", port: 0 });
  const rtmpPort = (await rtmp.listen()).port;
  const servers: { close: () => Promise<void> | void }[] = [];
  const httpBase = {} as Record<Variant, string>;
  for (const variant of variants) {
    // The segmenters of one variant, and the server that serves them (the seam both sides share).
    const streams = new HlsStreams(hub, { ...options[variant], variant });
    const server = createHlsServer({ handler: hub, streams, host: "127.0.0.1", port: 0 });
    servers.push(server, streams);
    httpBase[variant] = `http://127.0.0.1:${(await server.listen()).port}`;
  }
  return {
    hub,
    rtmpBase: `rtmp://127.0.0.1:${rtmpPort}/live`,
    httpBase,
    playlistUrl: (variant, name) => `${httpBase[variant]}/live/${name}.m3u8`,
    close: async () => {
      hub.close();
      await Promise.all([rtmp.close(), ...servers.map((s) => s.close())]);
    },
  };
}
