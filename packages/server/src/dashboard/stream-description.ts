import type { MediaPacket, StreamHeaders } from "@onair/core";
import { parseAudioTagHeader, parseAvcDecoderConfig, parseVideoTagHeader } from "@onair/flv";
import { type AmfValue, decodeAmf0 } from "@onair/rtmp";

/** What a stream's video track is, from its sequence header and onMetaData. */
export interface VideoDescription {
  /** "h264", "hevc", "av1", "vp9", ... (the FLV codec name, with "avc" as "h264"). */
  codec: string;
  /** H.264 profile and level ("High", "3.1"), when the decoder configuration says. */
  profile?: string;
  level?: string;
  /** Picture size: from the SPS (H.264), else from onMetaData. */
  width?: number;
  height?: number;
  /** Frames per second as onMetaData announces it (`framerate`); the measured rate is in the stats. */
  fps?: number;
}

/** What a stream's audio track is. */
export interface AudioDescription {
  /** "aac", "mp3", "opus", ... */
  codec: string;
  /** Hz: from the AAC AudioSpecificConfig, else onMetaData, else the tag header. */
  sampleRate?: number;
  channels?: number;
}

/** The codecs of a stream as the dashboard shows them. */
export interface StreamDescription {
  video?: VideoDescription;
  audio?: AudioDescription;
  /** onMetaData's `encoder` (e.g. "Lavf59.27.100"), when given. */
  encoder?: string;
}

const AVC_PROFILES: Record<number, string> = {
  66: "Baseline",
  77: "Main",
  88: "Extended",
  100: "High",
  110: "High 10",
  122: "High 4:2:2",
  244: "High 4:4:4",
};

/** AAC sampling frequency index (ISO/IEC 14496-3, 1.6.3.4). */
const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** Longest onMetaData read (real ones are a few hundred bytes). */
const MAX_METADATA_BYTES = 64 * 1024;

/**
 * Sample rate and channels of an AudioSpecificConfig (ISO/IEC 14496-3, 1.6.2.1): objectType:5
 * (31: 6 more bits), frequencyIndex:4 (15: a 24-bit rate), channelConfiguration:4.
 */
export function parseAudioSpecificConfig(config: Buffer): { sampleRate?: number; channels?: number } {
  let bit = 0;
  const read = (count: number): number | undefined => {
    if (bit + count > config.length * 8) return undefined;
    let value = 0;
    for (let i = 0; i < count; i++, bit++) value = value * 2 + ((config[bit >> 3] >> (7 - (bit & 7))) & 1);
    return value;
  };
  const objectType = read(5);
  if (objectType === 31) read(6);
  const index = read(4);
  if (index === undefined) return {};
  const sampleRate = index === 15 ? read(24) : AAC_RATES[index];
  const channels = read(4);
  return {
    ...(sampleRate === undefined || sampleRate === 0 ? {} : { sampleRate }),
    ...(channels === undefined || channels === 0 ? {} : { channels }),
  };
}

/** The fields of an onMetaData script tag (`@setDataFrame` before it is skipped); {} if it does not parse. */
export function parseOnMetaData(payload: Buffer): Record<string, unknown> {
  if (payload.length > MAX_METADATA_BYTES) return {};
  let values: AmfValue[];
  try {
    values = decodeAmf0(payload, { maxDepth: 8 });
  } catch {
    return {};
  }
  const at = values.indexOf("onMetaData");
  const fields = at === -1 ? undefined : values[at + 1];
  if (fields === null || typeof fields !== "object" || Array.isArray(fields) || fields instanceof Date)
    return {};
  return fields as Record<string, unknown>;
}

const positive = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isFinite(value) && value > 0 ? value : undefined;

function describeVideo(
  packet: MediaPacket | undefined,
  meta: Record<string, unknown>,
): VideoDescription | undefined {
  let video: VideoDescription | undefined;
  if (packet !== undefined) {
    try {
      const header = parseVideoTagHeader(packet.payload);
      video = { codec: header.codec === "avc" ? "h264" : header.codec };
      if (header.codec === "avc" && header.packetType === 0) {
        const avc = parseAvcDecoderConfig(packet.payload.subarray(header.headerLength));
        video.profile = AVC_PROFILES[avc.profile] ?? String(avc.profile);
        video.level = (avc.level / 10).toFixed(1);
        if (avc.width !== undefined && avc.height !== undefined) {
          video.width = avc.width;
          video.height = avc.height;
        }
      }
    } catch {
      video = undefined;
    }
  }
  const width = positive(meta.width);
  const height = positive(meta.height);
  const fps = positive(meta.framerate) ?? positive(meta.videoframerate);
  if (video === undefined && (width !== undefined || meta.videocodecid !== undefined))
    video = { codec: "unknown" };
  if (video === undefined) return undefined;
  if (video.width === undefined && width !== undefined && height !== undefined) {
    video.width = Math.round(width);
    video.height = Math.round(height);
  }
  if (fps !== undefined) video.fps = Math.round(fps * 100) / 100;
  return video;
}

function describeAudio(
  packet: MediaPacket | undefined,
  meta: Record<string, unknown>,
): AudioDescription | undefined {
  if (packet === undefined) {
    return meta.audiocodecid === undefined ? undefined : { codec: "unknown" };
  }
  try {
    const header = parseAudioTagHeader(packet.payload);
    const audio: AudioDescription = { codec: header.fourCc === "Opus" ? "opus" : header.codec };
    if (header.codec === "aac" && header.packetType === 0) {
      Object.assign(audio, parseAudioSpecificConfig(packet.payload.subarray(header.headerLength)));
    }
    audio.sampleRate ??= positive(meta.audiosamplerate) ?? positive(header.sampleRate);
    if (audio.channels === undefined) {
      const stereo = meta.stereo;
      audio.channels = typeof stereo === "boolean" ? (stereo ? 2 : 1) : header.channels;
    }
    return audio;
  } catch {
    return undefined;
  }
}

/** Codecs, picture size and announced frame rate of a stream, from its cached headers. Never throws. */
export function describeStream(headers: StreamHeaders): StreamDescription {
  const meta = headers.metadata === undefined ? {} : parseOnMetaData(headers.metadata.payload);
  const description: StreamDescription = {};
  const video = describeVideo(headers.video, meta);
  const audio = describeAudio(headers.audio, meta);
  if (video !== undefined) description.video = video;
  if (audio !== undefined) description.audio = audio;
  if (typeof meta.encoder === "string") description.encoder = meta.encoder.slice(0, 100);
  return description;
}
