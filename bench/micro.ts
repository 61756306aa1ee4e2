/**
 * Micro-benchmarks of the codecs on the hot path: MB/s, and heap bytes allocated per operation
 * (measured with --expose-gc around a fixed number of runs). `pnpm bench:micro`.
 * The MPEG-TS muxer does not exist yet (HLS is a later issue).
 */
import { createMediaPacket } from "@onair/core";
import { flvTagEncoder } from "@onair/flv";
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
];

const bench = new Bench({ time: 500 });
for (const c of cases) bench.add(c.name, c.run);
await bench.run();

const gc = (globalThis as { gc?: () => void }).gc;
function allocatedPerOp(run: () => unknown): number {
  if (gc === undefined) return Number.NaN;
  const runs = 2000;
  gc();
  const before = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  for (let i = 0; i < runs; i++) run();
  const after = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  return (after - before) / runs;
}

console.log("| operation | ops/s | MB/s | bytes allocated per op |");
console.log("| --- | --- | --- | --- |");
for (const c of cases) {
  const task = bench.tasks.find((t) => t.name === c.name);
  const hz = task?.result && "throughput" in task.result ? task.result.throughput.mean : Number.NaN;
  const perOp = allocatedPerOp(c.run);
  console.log(
    `| ${c.name} | ${hz.toFixed(0)} | ${((hz * c.bytesPerOp) / 1e6).toFixed(0)} | ${Number.isFinite(perOp) ? perOp.toFixed(0) : "run with --expose-gc"} |`,
  );
}
