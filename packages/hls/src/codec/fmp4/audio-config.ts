/**
 * What the fMP4 audio sample entry needs from the codec configuration.
 *
 * AAC: the AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1), kept whole in the esds (HE-AAC's SBR/PS
 * signalling and any program config element stay):
 *
 *   audioObjectType:5 [31 → 32 + :6] samplingFrequencyIndex:4 [15 → samplingFrequency:24] channelConfiguration:4
 *   [object type 5 (SBR) or 29 (PS): extensionSamplingFrequencyIndex:4 [15 → :24] audioObjectType:5 (the core's)]
 *   GASpecificConfig (core types 1-4, 6, 7, 17, 19-23): frameLengthFlag:1 (1 → 960 samples a frame) ...
 *
 * MP3: the first frame header (ISO/IEC 11172-3 2.4.1.3, 13818-3):
 *
 *   syncword:11 version:2 (00 2.5, 10 2, 11 1) layer:2 (01 III, 10 II, 11 I) protection:1 bitrate:4
 *   samplingFrequency:2 padding:1 private:1 mode:2 (11 mono) ...
 */
import { HlsError, HlsErrorCode } from "../../errors.js";
import { BitReader, BitstreamEnd } from "./bit-reader.js";

const SAMPLING_FREQUENCIES = [
  96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
] as const;
const EXPLICIT_FREQUENCY = 15;
const SBR = 5;
const PS = 29;
/** Object types whose specific config is a GASpecificConfig (it starts with frameLengthFlag). */
const GA_OBJECT_TYPES = new Set([1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22]);
/** Output channels of channelConfiguration 1..7. */
const CHANNELS = [0, 1, 2, 3, 4, 5, 6, 8] as const;

export interface AacConfig {
  /** The first audioObjectType (2 LC, 5 SBR, 29 PS, ...): the RFC 6381 "mp4a.40.N". */
  objectType: number;
  /** The rate of the decoded output: the SBR extension rate with explicit SBR/PS signalling, else the core rate. */
  sampleRate: number;
  /** Output samples per frame at `sampleRate`: 1024 or 960, twice that with explicit SBR at a doubled rate. */
  frameSamples: number;
  channels: number;
}

/** Reads an AudioSpecificConfig; throws `HlsError` (aacConfig) when it is truncated or names a reserved rate. */
export function readAacConfig(asc: Uint8Array): AacConfig {
  const reader = new BitReader(asc);
  const objectTypeOf = (): number => {
    const type = reader.bits(5);
    return type === 31 ? 32 + reader.bits(6) : type;
  };
  const rateOf = (): number => {
    const index = reader.bits(4);
    if (index === EXPLICIT_FREQUENCY) return reader.bits(24);
    const rate = SAMPLING_FREQUENCIES[index];
    if (rate === undefined) {
      throw new HlsError(HlsErrorCode.aacConfig, `reserved AAC sampling frequency index ${index}`);
    }
    return rate;
  };
  let objectType: number;
  let coreRate: number;
  let channelConfiguration: number;
  let extensionRate: number | undefined;
  let coreType: number;
  try {
    objectType = objectTypeOf();
    coreRate = rateOf();
    channelConfiguration = reader.bits(4);
    coreType = objectType;
    if (objectType === SBR || objectType === PS) {
      extensionRate = rateOf();
      coreType = objectTypeOf();
    }
  } catch (error) {
    if (!(error instanceof BitstreamEnd)) throw error;
    throw new HlsError(HlsErrorCode.aacConfig, `AudioSpecificConfig of ${asc.length} bytes is truncated`);
  }
  if (coreRate === 0) throw new HlsError(HlsErrorCode.aacConfig, "an AAC sampling frequency of 0");
  let coreFrame = 1024;
  if (GA_OBJECT_TYPES.has(coreType) && reader.remaining >= 1 && reader.bits(1) === 1) coreFrame = 960;
  const sampleRate = extensionRate !== undefined && extensionRate > 0 ? extensionRate : coreRate;
  const frameSamples = Math.round((coreFrame * sampleRate) / coreRate);
  let channels: number = CHANNELS[channelConfiguration] ?? 2;
  if (channels === 0) channels = 2; // a program config element: its count is not read here
  if (objectType === PS) channels = 2;
  return { objectType, sampleRate, frameSamples, channels };
}

/** MPEG-4 objectTypeIndication values (14496-1 table 5) for MP3. */
export const MP3_OBJECT_TYPE = { mpeg1Audio: 0x6b, mpeg2Audio: 0x69 } as const;

export interface Mp3Config {
  /** 0x6B for MPEG-1 rates (32, 44.1, 48 kHz), 0x69 for MPEG-2 and 2.5 rates. */
  objectTypeIndication: number;
  sampleRate: number;
  /** 1152 (layer II, and III at MPEG-1 rates), 576 (layer III at MPEG-2/2.5 rates) or 384 (layer I). */
  frameSamples: number;
  channels: number;
}

const MP3_RATES: Record<number, readonly number[]> = {
  3: [44100, 48000, 32000],
  2: [22050, 24000, 16000],
  0: [11025, 12000, 8000],
};

/**
 * The stream parameters from an MPEG audio frame header; undefined when `frame` does not start with
 * one (then the FLV header's rate and channels are used, with 1152 samples a frame).
 */
export function readMp3Config(frame: Uint8Array): Mp3Config | undefined {
  if (frame.length < 4 || frame[0] !== 0xff || (frame[1] & 0xe0) !== 0xe0) return undefined;
  const version = (frame[1] >> 3) & 0x03;
  const layer = (frame[1] >> 1) & 0x03;
  const rate = MP3_RATES[version]?.[(frame[2] >> 2) & 0x03];
  if (rate === undefined || layer === 0) return undefined;
  const frameSamples = layer === 3 ? 384 : layer === 1 && version !== 3 ? 576 : 1152;
  return {
    objectTypeIndication: version === 3 ? MP3_OBJECT_TYPE.mpeg1Audio : MP3_OBJECT_TYPE.mpeg2Audio,
    sampleRate: rate,
    frameSamples,
    channels: frame[3] >> 6 === 3 ? 1 : 2,
  };
}
