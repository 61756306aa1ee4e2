import {
  BatchingWriter,
  type ByteOutput,
  createMediaPacket,
  type MediaPacket,
  nextStreamId,
  type StreamInfo,
  StreamSource,
  type WireEncoder,
} from "../src/index.js";

export function info(key: string, prefix = "x"): StreamInfo {
  const [app, name] = key.split("/");
  return { key, app, name, url: `test://${key}`, id: nextStreamId(prefix) };
}

/** Records every write. */
export class RecordingOutput implements ByteOutput {
  chunks: Buffer[] = [];
  /** Pretend the kernel holds this many bytes (for slow-player tests). */
  writableLength = 0;
  write(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return true;
  }
}

/** Lets queued microtasks run: with a window of 0 the hub writes once the current turn ends. */
export async function settle(): Promise<void> {
  await Promise.resolve();
}

/** Encodes a packet as "<kind>:<timestamp>" so tests can read what a writer got. */
export class LabelEncoder implements WireEncoder {
  calls = 0;
  encode(packet: MediaPacket): Buffer {
    this.calls += 1;
    return Buffer.from(
      `${packet.kind[0]}${packet.keyframe ? "K" : ""}${packet.sequenceHeader ? "H" : ""}:${packet.timestamp};`,
    );
  }
}

export class TestWriter extends BatchingWriter {
  started = 0;
  endedWith: Error | undefined | "open" = "open";
  constructor(
    key: string,
    readonly output: RecordingOutput,
    encoder: WireEncoder,
  ) {
    super(info(key, "w"), output, encoder);
  }
  start(): void {
    this.started += 1;
  }
  protected end(error?: Error): void {
    this.endedWith = error;
  }
  /** Everything written so far as one string. */
  text(): string {
    return Buffer.concat(this.output.chunks).toString();
  }
}

export function source(key: string): { source: StreamSource; closedWith: () => Error | undefined | "open" } {
  let closedWith: Error | undefined | "open" = "open";
  const s = new StreamSource(info(key, "r"), (error) => {
    closedWith = error;
  });
  return { source: s, closedWith: () => closedWith };
}

export const packets = {
  meta: (t = 0) =>
    createMediaPacket("script", t, Buffer.from("\x02\x00\x0aonMetaData\x03\x00\x00\x09", "latin1")),
  videoHeader: (t = 0) => createMediaPacket("video", t, Buffer.from([0x17, 0]), { sequenceHeader: true }),
  audioHeader: (t = 0) => createMediaPacket("audio", t, Buffer.from([0xaf, 0]), { sequenceHeader: true }),
  key: (t: number) => createMediaPacket("video", t, Buffer.from([0x17, 1]), { keyframe: true }),
  inter: (t: number) => createMediaPacket("video", t, Buffer.from([0x27, 1])),
  audio: (t: number) => createMediaPacket("audio", t, Buffer.from([0xaf, 1])),
};

/** Writes the payload as it is, so bytes queued equal payload bytes (for byte-bound tests). */
export const payloadEncoder: WireEncoder = { encode: (packet) => packet.payload };

/** An output whose peer never reads: everything written stays in its buffer. */
export class StuckOutput extends RecordingOutput {
  override write(chunk: Buffer): boolean {
    this.writableLength += chunk.length;
    return super.write(chunk);
  }
}

/** A TestWriter that also keeps the packets it was given, and the most it ever held. */
export class PacketRecordingWriter extends TestWriter {
  readonly packets: MediaPacket[] = [];
  mostBuffered = 0;
  discontinuities = 0;
  override write(packet: MediaPacket): void {
    if (!this.closed) this.packets.push(packet);
    super.write(packet);
    this.mostBuffered = Math.max(this.mostBuffered, this.bufferedBytes);
  }
  override flush(): void {
    super.flush();
    this.mostBuffered = Math.max(this.mostBuffered, this.bufferedBytes);
  }
  discontinuity(): void {
    this.discontinuities += 1;
  }
  /** "<kind><K|H>:<timestamp>" of each packet, like LabelEncoder. */
  labels(): string[] {
    return this.packets.map(
      (p) => `${p.kind[0]}${p.keyframe ? "K" : ""}${p.sequenceHeader ? "H" : ""}:${p.timestamp}`,
    );
  }
}

/** A video packet of `bytes` payload bytes. */
export function video(t: number, bytes: number, keyframe = false): MediaPacket {
  return createMediaPacket("video", t, Buffer.alloc(bytes, keyframe ? 0x17 : 0x27), { keyframe });
}
