/**
 * The init segment: ftyp + moov for up to two tracks (ISO/IEC 14496-12, -14, -15), the EXT-X-MAP of
 * an fMP4 HLS stream.
 *
 *   ftyp  major iso6, compatible iso6 iso5 mp41
 *   moov
 *     mvhd                        timescale 1000, duration 0 (live), next_track_ID
 *     trak (one per track)
 *       tkhd                      flags 3 (enabled, in movie), track_ID, width/height (video) or volume 1 (audio)
 *       mdia
 *         mdhd                    timescale (video 90000, audio its sample rate), language "und"
 *         hdlr                    vide / soun
 *         minf
 *           vmhd / smhd
 *           dinf > dref > url     (self-contained)
 *           stbl
 *             stsd > avc1 > avcC | hvc1 > hvcC | mp4a > esds
 *             stts stsc stsz stco (empty: samples are in the fragments)
 *     mvex
 *       trex (one per track)      default_sample_description_index 1, other defaults 0
 */
import { box, fourCc, fullBox, u8, u16, u24, u32, zeros } from "./boxes.js";
import type { VideoConfig } from "./video-config.js";

export interface Fmp4VideoTrack {
  kind: "video";
  id: number;
  timescale: number;
  config: VideoConfig;
}

export interface Fmp4AudioTrack {
  kind: "audio";
  id: number;
  /** The sample rate. */
  timescale: number;
  /** 0x40 (MPEG-4 audio: AAC), 0x6B (MPEG-1 audio: MP3) or 0x69 (MPEG-2 audio: MP3 at half rates). */
  objectTypeIndication: number;
  channels: number;
  sampleRate: number;
  /** The AudioSpecificConfig for AAC, kept whole; undefined for MP3. */
  decoderSpecificInfo: Buffer | undefined;
}

export type Fmp4Track = Fmp4VideoTrack | Fmp4AudioTrack;

export const MOVIE_TIMESCALE = 1000;
const FTYP = box("ftyp", fourCc("iso6"), u32(0), fourCc("iso6"), fourCc("iso5"), fourCc("mp41"));
const UNITY_MATRIX = Buffer.concat(
  [0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000].map((value) => u32(value)),
);
/** "und" as three 5-bit letters (ISO 639-2/T, each minus 0x60). */
const LANGUAGE_UND =
  (("u".charCodeAt(0) - 0x60) << 10) | (("n".charCodeAt(0) - 0x60) << 5) | ("d".charCodeAt(0) - 0x60);

/** The ftyp box every init segment starts with. */
export function encodeFtyp(): Buffer {
  return Buffer.from(FTYP);
}

/** ftyp + moov for `tracks` (at least one). */
export function encodeInitSegment(tracks: readonly Fmp4Track[]): Buffer {
  if (tracks.length === 0) throw new RangeError("an init segment needs at least one track");
  const nextTrackId = Math.max(...tracks.map((t) => t.id)) + 1;
  const moov = box(
    "moov",
    mvhd(nextTrackId),
    ...tracks.map(trak),
    box("mvex", ...tracks.map((t) => fullBox("trex", 0, 0, u32(t.id), u32(1), u32(0), u32(0), u32(0)))),
  );
  return Buffer.concat([FTYP, moov]);
}

function mvhd(nextTrackId: number): Buffer {
  return fullBox(
    "mvhd",
    0,
    0,
    u32(0), // creation_time
    u32(0), // modification_time
    u32(MOVIE_TIMESCALE),
    u32(0), // duration: unknown (live)
    u32(0x00010000), // rate 1.0
    u16(0x0100), // volume 1.0
    zeros(10), // reserved
    UNITY_MATRIX,
    zeros(24), // pre_defined
    u32(nextTrackId),
  );
}

function trak(track: Fmp4Track): Buffer {
  const video = track.kind === "video";
  const tkhd = fullBox(
    "tkhd",
    0,
    0x000003, // track_enabled | track_in_movie
    u32(0), // creation_time
    u32(0), // modification_time
    u32(track.id),
    u32(0), // reserved
    u32(0), // duration
    zeros(8), // reserved
    u16(0), // layer
    u16(0), // alternate_group
    u16(video ? 0 : 0x0100), // volume
    u16(0), // reserved
    UNITY_MATRIX,
    u32(video ? track.config.width * 0x10000 : 0), // width 16.16
    u32(video ? track.config.height * 0x10000 : 0), // height 16.16
  );
  const mdhd = fullBox(
    "mdhd",
    0,
    0,
    u32(0), // creation_time
    u32(0), // modification_time
    u32(track.timescale),
    u32(0), // duration
    u16(LANGUAGE_UND),
    u16(0), // pre_defined
  );
  const hdlr = fullBox(
    "hdlr",
    0,
    0,
    u32(0), // pre_defined
    fourCc(video ? "vide" : "soun"),
    zeros(12), // reserved
    Buffer.from(video ? "VideoHandler\0" : "SoundHandler\0", "latin1"),
  );
  const mediaHeader = video ? fullBox("vmhd", 0, 1, zeros(8)) : fullBox("smhd", 0, 0, zeros(4));
  const dinf = box("dinf", fullBox("dref", 0, 0, u32(1), fullBox("url ", 0, 1)));
  const stbl = box(
    "stbl",
    fullBox("stsd", 0, 0, u32(1), video ? visualSampleEntry(track.config) : audioSampleEntry(track)),
    fullBox("stts", 0, 0, u32(0)),
    fullBox("stsc", 0, 0, u32(0)),
    fullBox("stsz", 0, 0, u32(0), u32(0)),
    fullBox("stco", 0, 0, u32(0)),
  );
  return box("trak", tkhd, box("mdia", mdhd, hdlr, box("minf", mediaHeader, dinf, stbl)));
}

/** avc1 + avcC or hvc1 + hvcC (VisualSampleEntry, 14496-12 12.1.3). */
function visualSampleEntry(config: VideoConfig): Buffer {
  return box(
    config.codec,
    zeros(6), // reserved
    u16(1), // data_reference_index
    zeros(16), // pre_defined, reserved, pre_defined[3]
    u16(config.width),
    u16(config.height),
    u32(0x00480000), // horizresolution 72 dpi
    u32(0x00480000), // vertresolution 72 dpi
    u32(0), // reserved
    u16(1), // frame_count
    zeros(32), // compressorname
    u16(0x0018), // depth
    u16(0xffff), // pre_defined = -1
    box(config.codec === "avc1" ? "avcC" : "hvcC", config.record),
  );
}

/** mp4a + esds (AudioSampleEntry, 14496-12 12.2.3; MP4AudioSampleEntry, 14496-14 5.6). */
function audioSampleEntry(track: Fmp4AudioTrack): Buffer {
  return box(
    "mp4a",
    zeros(6), // reserved
    u16(1), // data_reference_index
    zeros(8), // reserved
    u16(track.channels),
    u16(16), // samplesize
    u16(0), // pre_defined
    u16(0), // reserved
    u32(track.sampleRate <= 0xffff ? track.sampleRate * 0x10000 : 0), // samplerate 16.16
    esds(track),
  );
}

/**
 * A descriptor (14496-1 8.3.3): tag, size, payload. The size takes one byte below 128 (as every
 * real AudioSpecificConfig needs, and as mux.js's parsers expect), else 7 bits a byte with the
 * high bit set on all but the last (up to 4 bytes).
 */
export function descriptor(tag: number, ...payload: readonly Uint8Array[]): Buffer {
  const body = Buffer.concat(payload);
  const size = body.length;
  if (size > 0x0fffffff) throw new RangeError(`descriptor ${tag} of ${size} bytes`);
  const sizeBytes =
    size < 0x80
      ? [size]
      : [0x80 | (size >>> 21), 0x80 | ((size >>> 14) & 0x7f), 0x80 | ((size >>> 7) & 0x7f), size & 0x7f];
  return Buffer.concat([u8(tag), Buffer.from(sizeBytes), body]);
}

/**
 * ES_Descriptor (tag 3): ES_ID 0, no flags; DecoderConfigDescriptor (tag 4): objectTypeIndication,
 * streamType 5 (audio) << 2 | reserved 1, buffer size and bitrates 0 (unknown); DecoderSpecificInfo
 * (tag 5): the whole AudioSpecificConfig; SLConfigDescriptor (tag 6): predefined 2 (MP4).
 */
function esds(track: Fmp4AudioTrack): Buffer {
  const specific = track.decoderSpecificInfo === undefined ? [] : [descriptor(5, track.decoderSpecificInfo)];
  const decoderConfig = descriptor(
    4,
    u8(track.objectTypeIndication),
    u8(0x15), // streamType 5 (AudioStream), upStream 0, reserved 1
    u24(0), // bufferSizeDB
    u32(0), // maxBitrate
    u32(0), // avgBitrate
    ...specific,
  );
  return fullBox("esds", 0, 0, descriptor(3, u16(0), u8(0), decoderConfig, descriptor(6, u8(2))));
}
