/**
 * onair's HLS as a benchmark server process: an RTMP server and an HLS server on one StreamHub,
 * composed as an application (and the CLI) does, so its CPU and RSS are its own.
 *
 * Usage: node --conditions=source --import tsx bench/hls-server.ts RTMP_PORT HLS_PORT VARIANT [TARGET_MS] [PART_TARGET_MS]
 * (TARGET_MS and PART_TARGET_MS: the segmenter's defaults when left out or "-").
 * Prints "ready" once both listen; SIGTERM closes both and exits.
 */
import { StreamHub } from "@onair/core";
import { createHlsServer, HlsStreams, type HlsStreamsOptions, type HlsVariant } from "@onair/hls";
import { createRtmpServer } from "@onair/rtmp";

const [rtmpPort, hlsPort, variant, targetMs, partTargetMs] = process.argv.slice(2);
const option = (value: string | undefined): number | undefined =>
  value === undefined || value === "-" ? undefined : Number(value);

const hub = new StreamHub();
const options: HlsStreamsOptions = { variant: variant as HlsVariant };
if (option(targetMs) !== undefined) options.targetDurationMs = option(targetMs);
if (option(partTargetMs) !== undefined) options.partTargetMs = option(partTargetMs);
const streams = new HlsStreams(hub, options);
const rtmp = createRtmpServer({ handler: hub, host: "127.0.0.1", port: Number(rtmpPort) });
const hls = createHlsServer({ handler: hub, streams, host: "127.0.0.1", port: Number(hlsPort) });
await Promise.all([rtmp.listen(), hls.listen()]);
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  void Promise.all([rtmp.close(), hls.close()]).finally(() => {
    streams.close();
    hub.close();
    process.exit(0);
  });
});
