/**
 * AAC in MPEG-TS travels as ADTS (ISO/IEC 13818-7 6.2, 14496-3 1.A.2): each raw frame gets a
 * 7-byte header built from the stream's AudioSpecificConfig (14496-3 1.6.2.1):
 *
 *   AudioSpecificConfig: audioObjectType:5 [31 → 32 + ext:6] samplingFrequencyIndex:4 [15 → frequency:24]
 *                        channelConfiguration:4 | SBR/PS (object type 5 or 29): extensionSamplingFrequencyIndex:4
 *                        [15 → :24] audioObjectType:5 (the core's)
 *
 *   ADTS header (no CRC): syncword:12 = 0xFFF ID:1 = 0 (MPEG-4) layer:2 = 0 protection_absent:1 = 1
 *                         profile:2 (object type - 1) samplingFrequencyIndex:4 private:1 channelConfiguration:3
 *                         original:1 home:1 copyrightIdBit:1 copyrightIdStart:1 frameLength:13 (header included)
 *                         bufferFullness:11 = 0x7FF (VBR) rawDataBlocks:2 = 0 (one block)
 *
 * HE-AAC (SBR, PS) is signalled implicitly in ADTS: the header names the AAC-LC core at the core's
 * rate and decoders find the SBR data in the frames.
 */
import { HlsError, HlsErrorCode } from "../errors.js";

export const ADTS_HEADER_LENGTH = 7;
/** The 13-bit frame length counts the header. */
export const ADTS_MAX_FRAME_LENGTH = 0x1fff;

export interface AdtsConfig {
  /** ADTS profile: the AAC object type minus one (0 Main, 1 LC, 2 SSR, 3 LTP). */
  profile: number;
  samplingFrequencyIndex: number;
  channelConfiguration: number;
}

/** Reads bit fields from the front of a Buffer; throws `aacConfig` past the end. */
function bitReader(bytes: Uint8Array): (count: number) => number {
  let bit = 0;
  return (count) => {
    if (bit + count > bytes.length * 8) {
      throw new HlsError(HlsErrorCode.aacConfig, `AudioSpecificConfig of ${bytes.length} bytes is truncated`);
    }
    let value = 0;
    for (let i = 0; i < count; i++, bit++) value = value * 2 + ((bytes[bit >> 3] >> (7 - (bit & 7))) & 1);
    return value;
  };
}

const SBR = 5;
const PS = 29;
const EXPLICIT_FREQUENCY = 15;

/** What the ADTS header of every frame says, from an AudioSpecificConfig; throws `HlsError` (aacConfig) when ADTS cannot carry it. */
export function parseAudioSpecificConfig(config: Uint8Array): AdtsConfig {
  const read = bitReader(config);
  const readObjectType = (): number => {
    const type = read(5);
    return type === 31 ? 32 + read(6) : type;
  };
  let objectType = readObjectType();
  const samplingFrequencyIndex = read(4);
  if (samplingFrequencyIndex === EXPLICIT_FREQUENCY) {
    throw new HlsError(
      HlsErrorCode.aacConfig,
      "an explicit AAC sampling frequency cannot be written as ADTS",
    );
  }
  const channelConfiguration = read(4);
  if (objectType === SBR || objectType === PS) {
    if (read(4) === EXPLICIT_FREQUENCY) read(24); // extensionSamplingFrequency: the SBR rate, not in ADTS
    objectType = readObjectType();
  }
  if (objectType < 1 || objectType > 4) {
    throw new HlsError(HlsErrorCode.aacConfig, `AAC object type ${objectType} cannot be written as ADTS`);
  }
  if (samplingFrequencyIndex > 12) {
    throw new HlsError(
      HlsErrorCode.aacConfig,
      `reserved AAC sampling frequency index ${samplingFrequencyIndex}`,
    );
  }
  if (channelConfiguration === 0 || channelConfiguration > 7) {
    throw new HlsError(
      HlsErrorCode.aacConfig,
      `AAC channel configuration ${channelConfiguration} cannot be written as ADTS`,
    );
  }
  return { profile: objectType - 1, samplingFrequencyIndex, channelConfiguration };
}

/** Writes the 7-byte ADTS header of a frame with `rawLength` bytes of raw AAC data at `target[offset]`. */
export function writeAdtsHeader(
  target: Uint8Array,
  offset: number,
  config: AdtsConfig,
  rawLength: number,
): void {
  const frameLength = rawLength + ADTS_HEADER_LENGTH;
  if (frameLength > ADTS_MAX_FRAME_LENGTH) {
    throw new HlsError(HlsErrorCode.frameTooLarge, `an AAC frame of ${rawLength} bytes does not fit in ADTS`);
  }
  target[offset] = 0xff;
  target[offset + 1] = 0xf1;
  target[offset + 2] =
    (config.profile << 6) | (config.samplingFrequencyIndex << 2) | (config.channelConfiguration >> 2);
  target[offset + 3] = ((config.channelConfiguration & 0x03) << 6) | (frameLength >> 11);
  target[offset + 4] = (frameLength >> 3) & 0xff;
  target[offset + 5] = ((frameLength & 0x07) << 5) | 0x1f;
  target[offset + 6] = 0xfc;
}

/** One ADTS frame: header and raw data (a new Buffer). */
export function encodeAdtsFrame(config: AdtsConfig, raw: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(raw.length + ADTS_HEADER_LENGTH);
  writeAdtsHeader(frame, 0, config, raw.length);
  frame.set(raw, ADTS_HEADER_LENGTH);
  return frame;
}
