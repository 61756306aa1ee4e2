import { OnairError } from "@onair/core";

/** A media packet the MPEG-TS muxer cannot write: an unsupported codec, a bad codec configuration, a bad frame. */
export class HlsError extends OnairError {}

export const HlsErrorCode = {
  /** A video codec other than H.264 or HEVC, an audio codec other than AAC or MP3, or an Enhanced RTMP multitrack packet. */
  unsupportedCodec: "ERR_HLS_UNSUPPORTED_CODEC",
  /** A coded frame before the sequence header that configures it (AVCDecoderConfigurationRecord, AudioSpecificConfig). */
  missingConfig: "ERR_HLS_MISSING_CONFIG",
  /** An AVCDecoderConfigurationRecord that is truncated or malformed. */
  avcConfig: "ERR_HLS_AVC_CONFIG",
  /** An HEVCDecoderConfigurationRecord that is truncated, malformed, or lacks a VPS, SPS or PPS. */
  hevcConfig: "ERR_HLS_HEVC_CONFIG",
  /** An AudioSpecificConfig ADTS cannot carry: truncated, an object type other than AAC Main/LC/SSR/LTP (or SBR/PS over them), an explicit sampling frequency, or channel configuration 0. */
  aacConfig: "ERR_HLS_AAC_CONFIG",
  /** A tag body too short for its header, or a NAL unit length running past the end of the frame. */
  truncated: "ERR_HLS_TRUNCATED",
  /** An AAC frame longer than an ADTS frame can hold (8184 bytes of raw data). */
  frameTooLarge: "ERR_HLS_FRAME_TOO_LARGE",
} as const;

export type HlsErrorCode = (typeof HlsErrorCode)[keyof typeof HlsErrorCode];
