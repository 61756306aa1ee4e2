import type { MediaPacket } from "./media-packet.js";

/** Bounds of a {@link GopCache}, beside the number of GOPs. */
export interface GopCacheLimits {
  /** Payload bytes held in GOPs (headers not counted). */
  maxBytes: number;
  /** Packets held in GOPs (headers not counted). */
  maxPackets: number;
}

/** One group of pictures: a keyframe and what followed it, with its size kept as it grows. */
interface Gop {
  packets: MediaPacket[];
  bytes: number;
}

/**
 * What a player that joins late needs before live packets: the latest metadata, the latest
 * audio and video sequence headers, and the packets of the last `gops` groups of pictures,
 * each group starting at a video keyframe.
 *
 * The GOPs are bounded in bytes and packets: past either limit the oldest GOP is dropped, and a
 * single GOP past it is dropped too, so the cache holds only headers until the next keyframe (a
 * publisher sending one keyframe and then only inter frames cannot grow it without bound).
 */
export class GopCache {
  readonly #maxGops: number;
  readonly #maxBytes: number;
  readonly #maxPackets: number;
  #metadata: MediaPacket | undefined;
  #videoHeader: MediaPacket | undefined;
  #audioHeader: MediaPacket | undefined;
  /** Each entry starts with a keyframe. */
  #gops: Gop[] = [];
  /** The GOP packets are added to; undefined after an overflow until the next keyframe. */
  #current: Gop | undefined;
  #bytes = 0;
  #packets = 0;

  constructor(gops: number, limits: GopCacheLimits = { maxBytes: Infinity, maxPackets: Infinity }) {
    this.#maxGops = Math.max(0, Math.floor(gops));
    this.#maxBytes = limits.maxBytes;
    this.#maxPackets = limits.maxPackets;
  }

  add(packet: MediaPacket): void {
    if (packet.kind === "script") {
      // Only onMetaData describes the stream; other script data (cue points, text) is live-only.
      if (isMetadata(packet.payload)) this.#metadata = packet;
      return;
    }
    if (packet.sequenceHeader) {
      if (packet.kind === "video") this.#videoHeader = packet;
      else this.#audioHeader = packet;
      return;
    }
    if (this.#maxGops === 0) return;
    if (packet.keyframe) {
      const gop: Gop = { packets: [packet], bytes: packet.payload.length };
      this.#gops.push(gop);
      this.#current = gop;
      this.#bytes += gop.bytes;
      this.#packets += 1;
      if (this.#gops.length > this.#maxGops) this.#dropOldest();
    } else {
      const current = this.#current;
      // Audio before the first keyframe is dropped: a player must start on a keyframe.
      if (current === undefined) return;
      current.packets.push(packet);
      current.bytes += packet.payload.length;
      this.#bytes += packet.payload.length;
      this.#packets += 1;
    }
    while (this.#bytes > this.#maxBytes || this.#packets > this.#maxPackets) this.#dropOldest();
  }

  #dropOldest(): void {
    const oldest = this.#gops.shift();
    if (oldest === undefined) return;
    this.#bytes -= oldest.bytes;
    this.#packets -= oldest.packets.length;
    if (oldest === this.#current) this.#current = undefined;
  }

  /** Headers first (metadata, video, audio), then the cached GOPs in order. */
  forEach(visit: (packet: MediaPacket) => void): void {
    this.#forEachHeader(visit);
    for (const gop of this.#gops) for (const packet of gop.packets) visit(packet);
  }

  /**
   * Like {@link forEach}, but only the newest GOPs whose bytes, with the headers', add up to at
   * most `maxBytes`; the headers are always visited. Returns the number of GOPs visited.
   */
  forEachWithin(maxBytes: number, visit: (packet: MediaPacket) => void): number {
    let budget = maxBytes - this.headerBytes;
    let first = this.#gops.length;
    while (first > 0 && this.#gops[first - 1].bytes <= budget) {
      first -= 1;
      budget -= this.#gops[first].bytes;
    }
    this.#forEachHeader(visit);
    for (let i = first; i < this.#gops.length; i++) for (const packet of this.#gops[i].packets) visit(packet);
    return this.#gops.length - first;
  }

  #forEachHeader(visit: (packet: MediaPacket) => void): void {
    if (this.#metadata !== undefined) visit(this.#metadata);
    if (this.#videoHeader !== undefined) visit(this.#videoHeader);
    if (this.#audioHeader !== undefined) visit(this.#audioHeader);
  }

  get metadata(): MediaPacket | undefined {
    return this.#metadata;
  }

  get videoHeader(): MediaPacket | undefined {
    return this.#videoHeader;
  }

  get audioHeader(): MediaPacket | undefined {
    return this.#audioHeader;
  }

  /** Payload bytes of the metadata and sequence headers. */
  get headerBytes(): number {
    return (
      (this.#metadata?.payload.length ?? 0) +
      (this.#videoHeader?.payload.length ?? 0) +
      (this.#audioHeader?.payload.length ?? 0)
    );
  }

  /** Number of media packets held in GOPs (headers excluded). */
  get size(): number {
    return this.#packets;
  }

  /** Payload bytes held in GOPs (headers excluded). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Number of GOPs held. */
  get gopCount(): number {
    return this.#gops.length;
  }

  /** Forget the header of `kind` (the metadata for "script"). */
  forgetHeader(kind: MediaPacket["kind"]): void {
    if (kind === "script") this.#metadata = undefined;
    else if (kind === "video") this.#videoHeader = undefined;
    else this.#audioHeader = undefined;
  }

  /** Forget the GOPs, keep the headers (a republish compares its headers with them). */
  clearGops(): void {
    this.#gops = [];
    this.#current = undefined;
    this.#bytes = 0;
    this.#packets = 0;
  }

  clear(): void {
    this.#metadata = undefined;
    this.#videoHeader = undefined;
    this.#audioHeader = undefined;
    this.clearGops();
  }
}

/** AMF0 string marker, length 10, "onMetaData": how every FLV metadata tag body starts. */
const ON_METADATA = Buffer.from([0x02, 0x00, 0x0a, ...Buffer.from("onMetaData")]);

export function isMetadata(payload: Buffer): boolean {
  return payload.length >= ON_METADATA.length && payload.subarray(0, ON_METADATA.length).equals(ON_METADATA);
}
