/** What a packet carries, as in FLV tag types 8 (audio), 9 (video) and 18 (script data). */
export type MediaKind = "audio" | "video" | "script";

/** FLV tag type byte for each kind. */
export const FLV_TAG_TYPE = { audio: 8, video: 9, script: 18 } as const;

/**
 * One media message, parsed once on ingest and then shared, read-only, by every writer.
 *
 * `payload` is the FLV tag body (the RTMP message body): for video it starts with the
 * frame-type/codec byte (or the Enhanced RTMP header), for audio with the sound-format byte,
 * for script data with the AMF0 name ("onMetaData").
 */
export interface MediaPacket {
  readonly kind: MediaKind;
  /** Decode timestamp in milliseconds (RTMP/FLV timestamps are 32-bit and may wrap). */
  readonly timestamp: number;
  readonly payload: Buffer;
  /** A video keyframe (a random access point). Always false for audio and script. */
  readonly keyframe: boolean;
  /** An AVC/HEVC/AV1 decoder configuration record or an AAC AudioSpecificConfig. */
  readonly sequenceHeader: boolean;
  /**
   * Wire forms of this packet already encoded, keyed by the encoder that made them, so that a
   * packet is encoded once per form and the same Buffer goes to every writer of that form.
   * Managed by {@link encodeOnce}; nothing else should touch it.
   */
  wireForms?: Map<WireEncoder, Buffer>;
}

/** Turns a packet into the bytes one kind of writer sends (RTMP chunks, an FLV tag, ...). */
export interface WireEncoder {
  encode(packet: MediaPacket): Buffer;
}

/**
 * The bytes of `packet` in the form `encoder` makes, encoded on first use and cached on the
 * packet. Writers sharing an encoder instance share the Buffer.
 */
export function encodeOnce(packet: MediaPacket, encoder: WireEncoder): Buffer {
  let forms = packet.wireForms;
  if (forms === undefined) {
    forms = new Map();
    packet.wireForms = forms;
  } else {
    const cached = forms.get(encoder);
    if (cached !== undefined) return cached;
  }
  const bytes = encoder.encode(packet);
  forms.set(encoder, bytes);
  return bytes;
}

/** Builds a packet. Flags are given by the caller, which parsed the payload header once. */
export function createMediaPacket(
  kind: MediaKind,
  timestamp: number,
  payload: Buffer,
  flags: { keyframe?: boolean; sequenceHeader?: boolean } = {},
): MediaPacket {
  return {
    kind,
    timestamp,
    payload,
    keyframe: flags.keyframe === true,
    sequenceHeader: flags.sequenceHeader === true,
    wireForms: undefined,
  };
}
