/**
 * onair's side of the remux benchmark, as a process of its own: read an FLV file, publish its
 * packets into a StreamHub as fast as they parse, let HlsStreams segment them (the live path: the
 * hub's writer, one segmenter per stream) and write the segments and playlist to OUT_DIR, as
 * `ffmpeg -i in.flv -c copy -f hls` does. Exits when the last file is written.
 *
 * Usage: node bench/hls-remux-process.ts FLV OUT_DIR VARIANT TARGET_MS
 * Prints one JSON line: { segments, bytes, cpuMs } (cpuMs: this process's CPU from the first byte
 * read to the last file written, i.e. without Node's start-up).
 */
import { readFileSync } from "node:fs";
import { nextStreamId, StreamHub, StreamSource } from "@onair/core";
import { createPacketFromTagBody, FlvDemuxer } from "@onair/flv";
import { HlsSegmenter, HlsStreams, type HlsVariant } from "@onair/hls";

const [flv, outDir, variant, targetMs] = process.argv.slice(2);
const cpuAtStart = process.cpuUsage();
const hub = new StreamHub({ republishGraceMs: 0, publisherIdleTimeoutMs: 0 });
const streams = new HlsStreams(hub, {
  variant: variant as HlsVariant,
  targetDurationMs: Number(targetMs),
  // Every segment stays listed and on disk, as ffmpeg's `-hls_list_size 0` keeps them.
  windowSegments: 100_000,
  maxBytesPerStream: 1024 * 1024 * 1024,
  maxTotalBytes: 1024 * 1024 * 1024,
  dir: outDir,
});
const source = new StreamSource({
  key: "live/remux",
  app: "live",
  name: "remux",
  url: flv,
  id: nextStreamId("r"),
});
hub.handleReader(source);
const segmenter = streams.get("live", "remux");
if (!(segmenter instanceof HlsSegmenter)) throw new Error("no segmenter for live/remux");
new FlvDemuxer().push(readFileSync(flv), (tag) => {
  source.push(createPacketFromTagBody(tag.kind, tag.timestamp, tag.body));
});
source.end();
segmenter.settled().then(() => {
  const cpu = process.cpuUsage(cpuAtStart);
  const stats = segmenter.stats() as unknown as Record<string, unknown>;
  process.stdout.write(
    `${JSON.stringify({ segments: stats.segments, bytes: stats.bytes, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`,
    () => process.exit(0),
  );
});
