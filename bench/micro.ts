/**
 * Micro-benchmarks of the codecs on the hot path: MB/s, and heap bytes allocated per operation
 * (measured with --expose-gc around a fixed number of runs, with a young generation large enough
 * that no collection runs in between). `pnpm bench:micro`.
 * The HLS rows mux one second of the bench's 720p stream (30 H.264 frames of 11 KB, the first an
 * IDR, and 43 AAC frames) through the MPEG-TS and the fMP4 muxer.
 */

import { PerformanceObserver } from "node:perf_hooks";
import {
  BatchingWriter,
  type ByteOutput,
  createMediaPacket,
  type MediaPacket,
  nextStreamId,
  StreamHub,
  StreamSource,
} from "@onair/core";
import { flvTagEncoder } from "@onair/flv";
import { Fmp4Muxer, TsMuxer } from "@onair/hls";
import {
  ChunkDecoder,
  ChunkEncoder,
  decodeAmf0,
  encodeAmf0,
  encodeChunks,
  type RtmpMessage,
} from "@onair/rtmp";
import { Bench } from "tinybench";

const frame = Buffer.alloc(11_000, 7); // ~2.66 Mbps at 30 fps
const message: RtmpMessage = {
  chunkStreamId: 6,
  typeId: 9,
  messageStreamId: 1,
  timestamp: 1000,
  payload: frame,
};
// The decoder starts at chunk size 128: tell it 4096 first, as a real peer would.
const setChunk4096 = encodeChunks(
  { chunkStreamId: 2, typeId: 1, messageStreamId: 0, timestamp: 0, payload: Buffer.from([0, 0, 0x10, 0]) },
  128,
);
const stream = Buffer.concat(
  Array.from({ length: 100 }, (_, i) => encodeChunks({ ...message, timestamp: i * 33 }, 4096)),
);
const metadata: Parameters<typeof encodeAmf0>[0] = [
  "onMetaData",
  {
    duration: 0,
    width: 1280,
    height: 720,
    videodatarate: 2600,
    framerate: 30,
    videocodecid: 7,
    audiodatarate: 64,
    audiosamplerate: 44100,
    audiosamplesize: 16,
    stereo: true,
    audiocodecid: 10,
    encoder: "Lavf59.27.100",
    filesize: 0,
  },
];
const metadataBytes = encodeAmf0(metadata);

interface Case {
  name: string;
  bytesPerOp: number;
  run: () => unknown;
  /** Divide the allocation per run by this (e.g. packets × players) for the table. */
  allocationUnits?: number;
  allocationUnit?: string;
}

/** A writer whose output takes every write at once: the fan-out cost without sockets. */
class NullWriter extends BatchingWriter {
  start(): void {}
  protected end(): void {}
}
const nullOutput: ByteOutput = { write: () => true, writableLength: 0 };

/**
 * One 100 ms window of the live fan-out path: 3 packets (video, audio, audio) of a 2.66 Mbps
 * stream to 1000 FLV writers, then the flush that writes each writer's batch (the timer's job,
 * called by hand here so the work is synchronous).
 */
function fanOutWindow(): () => void {
  const players = 1000;
  const hub = new StreamHub({ batchWindowMs: 60_000, gopCache: 0 });
  const source = new StreamSource({ key: "live/b", app: "live", name: "b", url: "", id: nextStreamId("r") });
  hub.handleReader(source);
  const writers = Array.from(
    { length: players },
    () =>
      new NullWriter(
        { key: "live/b", app: "live", name: "b", url: "", id: nextStreamId("w") },
        nullOutput,
        flvTagEncoder,
      ),
  );
  for (const w of writers) hub.handleWriter(w);
  const audio = Buffer.alloc(190, 1);
  let t = 0;
  return () => {
    t += 33;
    source.push(createMediaPacket("video", t, frame));
    source.push(createMediaPacket("audio", t, audio));
    source.push(createMediaPacket("audio", t + 23, audio));
    for (const w of writers) w.flush();
  };
}

/** The sequence headers of the bench's 720p stream (libx264 High 3.1, AAC-LC 44.1 kHz stereo). */
const avcSequenceHeader = createMediaPacket(
  "video",
  0,
  Buffer.from(
    "17000000000164001fffe100256764001facd9405005bb0110000003001000000303c60400027ac40004f58e4a30078c18cb01000468efbcb0",
    "hex",
  ),
  { sequenceHeader: true },
);
const aacSequenceHeader = createMediaPacket("audio", 0, Buffer.from("af001210", "hex"), {
  sequenceHeader: true,
});

/** One second of media: 30 video frames of ~11 KB (an IDR first) and 43 AAC frames, in DTS order. */
function hlsSecond(): MediaPacket[] {
  const videoFrame = (keyframe: boolean): Buffer => {
    const nal = Buffer.alloc(frame.length - 9, 0x5a);
    nal[0] = keyframe ? 0x65 : 0x41;
    const head = Buffer.from([keyframe ? 0x17 : 0x27, 1, 0, 0, 0, 0, 0, 0, 0]);
    head.writeUInt32BE(nal.length, 5);
    return Buffer.concat([head, nal]);
  };
  const key = videoFrame(true);
  const delta = videoFrame(false);
  const aac = Buffer.concat([Buffer.from([0xaf, 0x01]), Buffer.alloc(188, 0x21)]);
  const packets: MediaPacket[] = [];
  for (let v = 0, a = 0; v < 30 || a < 43; ) {
    const vt = Math.round((v * 1000) / 30);
    const at = Math.round((a * 1024 * 1000) / 44_100);
    if (v < 30 && (a >= 43 || vt <= at)) {
      packets.push(createMediaPacket("video", vt, v === 0 ? key : delta, { keyframe: v === 0 }));
      v += 1;
    } else {
      packets.push(createMediaPacket("audio", at, aac));
      a += 1;
    }
  }
  return packets;
}
const second = hlsSecond();
const secondBytes = second.reduce((sum, p) => sum + p.payload.length, 0);

/** Muxes `second` again and again, timestamps running on. */
function tsMuxSecond(): () => void {
  const muxer = new TsMuxer();
  muxer.push(avcSequenceHeader);
  muxer.push(aacSequenceHeader);
  let offset = 0;
  return () => {
    muxer.startSegment();
    for (const p of second) muxer.push(createMediaPacket(p.kind, p.timestamp + offset, p.payload, p));
    offset += 1000;
  };
}

/** The same second through the fMP4 muxer, flushed as one fragment (a 1 s segment). */
function fmp4MuxSecond(): () => void {
  const muxer = new Fmp4Muxer();
  muxer.push(avcSequenceHeader);
  muxer.push(aacSequenceHeader);
  muxer.initSegment();
  let offset = 0;
  return () => {
    for (const p of second) muxer.push(createMediaPacket(p.kind, p.timestamp + offset, p.payload, p));
    offset += 1000;
    muxer.flush(offset);
  };
}

const cases: Case[] = [
  {
    name: "encodeChunks (11 KB video, chunk 4096)",
    bytesPerOp: frame.length,
    run: () => encodeChunks(message, 4096),
  },
  {
    name: "ChunkEncoder.encode (stateful, 11 KB)",
    bytesPerOp: frame.length,
    run: (() => {
      const encoder = new ChunkEncoder({ chunkSize: 4096 });
      return () => encoder.encode(message);
    })(),
  },
  {
    name: "ChunkDecoder.push (100 messages of 11 KB)",
    bytesPerOp: stream.length,
    run: (() => {
      let n = 0;
      const onMessage = () => void n++;
      return () => {
        const decoder = new ChunkDecoder();
        decoder.push(setChunk4096, () => {});
        decoder.push(stream, onMessage);
      };
    })(),
  },
  {
    name: "flvTagEncoder.encode (11 KB)",
    bytesPerOp: frame.length,
    run: () => flvTagEncoder.encode(createMediaPacket("video", 1000, frame)),
  },
  { name: "encodeAmf0 (onMetaData)", bytesPerOp: metadataBytes.length, run: () => encodeAmf0(metadata) },
  { name: "decodeAmf0 (onMetaData)", bytesPerOp: metadataBytes.length, run: () => decodeAmf0(metadataBytes) },
  {
    name: "fan-out: 3 packets to 1000 FLV players + flush",
    bytesPerOp: (frame.length + 380) * 1000,
    run: fanOutWindow(),
    allocationUnits: 3000,
    allocationUnit: "per packet per player",
  },
  {
    name: "TsMuxer: 1 s of 720p (30 video + 43 AAC frames) into TS",
    bytesPerOp: secondBytes,
    run: tsMuxSecond(),
  },
  {
    name: "Fmp4Muxer: the same second into one moof + mdat",
    bytesPerOp: secondBytes,
    run: fmp4MuxSecond(),
  },
];

const bench = new Bench({ time: Number(process.env.MICRO_TIME_MS ?? 500) });
for (const c of cases) bench.add(c.name, c.run);
await bench.run();

const gc = (globalThis as { gc?: () => void }).gc;
let collections = 0;
new PerformanceObserver((list) => {
  collections += list.getEntries().length;
}).observe({ entryTypes: ["gc"] });
/** gc entries reach the observer a little after the collection. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

/**
 * Heap + ArrayBuffer growth per run over a batch of runs after a forced collection. A collection
 * during the batch would hide allocations, so a batch that saw one is retried with fewer runs.
 */
async function allocatedPerOp(run: () => unknown): Promise<number> {
  if (gc === undefined) return Number.NaN;
  for (const runs of [2000, 500, 100, 20]) {
    gc();
    await settle();
    const seen = collections;
    const before = process.memoryUsage();
    for (let i = 0; i < runs; i++) run();
    const after = process.memoryUsage();
    await settle();
    if (collections === seen)
      return (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / runs;
  }
  return Number.NaN;
}

console.log("| operation | ops/s | MB/s | bytes allocated per op |");
console.log("| --- | --- | --- | --- |");
for (const c of cases) {
  const task = bench.tasks.find((t) => t.name === c.name);
  const hz = task?.result && "throughput" in task.result ? task.result.throughput.mean : Number.NaN;
  const perOp = (await allocatedPerOp(c.run)) / (c.allocationUnits ?? 1);
  const allocation = Number.isFinite(perOp)
    ? `${perOp.toFixed(c.allocationUnits === undefined ? 0 : 1)}${c.allocationUnit === undefined ? "" : ` ${c.allocationUnit}`}`
    : gc === undefined
      ? "run with --expose-gc"
      : "a collection ran during every try";
  console.log(`| ${c.name} | ${hz.toFixed(0)} | ${((hz * c.bytesPerOp) / 1e6).toFixed(0)} | ${allocation} |`);
}
