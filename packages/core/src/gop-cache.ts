import type { MediaPacket } from "./media-packet.js";

/**
 * What a player that joins late needs before live packets: the latest metadata, the latest
 * audio and video sequence headers, and the packets of the last `gops` groups of pictures,
 * each group starting at a video keyframe.
 */
export class GopCache {
  readonly #maxGops: number;
  #metadata: MediaPacket | undefined;
  #videoHeader: MediaPacket | undefined;
  #audioHeader: MediaPacket | undefined;
  /** Each entry starts with a keyframe. */
  #gops: MediaPacket[][] = [];

  constructor(gops: number) {
    this.#maxGops = Math.max(0, Math.floor(gops));
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
      this.#gops.push([packet]);
      if (this.#gops.length > this.#maxGops) this.#gops.shift();
      return;
    }
    const current = this.#gops[this.#gops.length - 1];
    // Audio before the first keyframe is dropped: a player must start on a keyframe.
    if (current !== undefined) current.push(packet);
  }

  /** Headers first (metadata, video, audio), then the cached GOPs in order. */
  forEach(visit: (packet: MediaPacket) => void): void {
    if (this.#metadata !== undefined) visit(this.#metadata);
    if (this.#videoHeader !== undefined) visit(this.#videoHeader);
    if (this.#audioHeader !== undefined) visit(this.#audioHeader);
    for (const gop of this.#gops) for (const packet of gop) visit(packet);
  }

  get metadata(): MediaPacket | undefined {
    return this.#metadata;
  }

  /** Number of media packets held in GOPs (headers excluded). */
  get size(): number {
    let count = 0;
    for (const gop of this.#gops) count += gop.length;
    return count;
  }

  clear(): void {
    this.#metadata = undefined;
    this.#videoHeader = undefined;
    this.#audioHeader = undefined;
    this.#gops = [];
  }
}

/** AMF0 string marker, length 10, "onMetaData": how every FLV metadata tag body starts. */
const ON_METADATA = Buffer.from([0x02, 0x00, 0x0a, ...Buffer.from("onMetaData")]);

export function isMetadata(payload: Buffer): boolean {
  return payload.length >= ON_METADATA.length && payload.subarray(0, ON_METADATA.length).equals(ON_METADATA);
}
