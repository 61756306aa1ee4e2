/**
 * Added-latency probe: how long a packet takes from our publisher to our players through onair,
 * for each batching window. The publisher (RtmpClient) sends a synthetic 2.6 Mbps stream whose
 * video payloads carry their send time; players (RtmpClient) read it back on arrival.
 *
 * `pnpm bench:latency [--windows 0,20,50,100] [--players 20] [--seconds 8]`
 *
 * The players share one process and stamp a packet once it is decoded, so each extra player adds
 * its decoding time to the others' samples: at a 100 ms window p99 is about 104.5 ms with 5
 * players, 105 ms with 20 and 111 ms with 50. 20 keeps that error to a few ms.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { createMediaPacket } from "@onair/core";
import { RtmpClient } from "@onair/rtmp";
import { freePort } from "../test-support/media-tools.js";
import { waitForListening } from "../test-support/nginx-rtmp.js";
import { onairCliArgs } from "./onair-cli.js";

const { values } = parseArgs({
  options: { windows: { type: "string" }, players: { type: "string" }, seconds: { type: "string" } },
});
const windows = (values.windows ?? "0,20,50,100").split(",").map(Number);
const playerCount = Number(values.players ?? 20);
const seconds = Number(values.seconds ?? 8);

/** Wall-clock milliseconds with a fraction. */
const now = (): number => performance.timeOrigin + performance.now();

async function probe(window: number): Promise<{ p50: number; p99: number; max: number; samples: number }> {
  const rtmpPort = await freePort();
  const server: ChildProcess = spawn(
    "node",
    onairCliArgs({ rtmp: rtmpPort, flv: await freePort() }, ["--batch-window", String(window)]),
    {
      stdio: "ignore",
    },
  );
  try {
    await waitForListening(rtmpPort, 20_000);
    const base = `rtmp://127.0.0.1:${rtmpPort}/live`;
    const publisherClient = await RtmpClient.connect(base);
    const publisher = await publisherClient.publish("latency");
    publisher.write(
      createMediaPacket("video", 0, Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f]), {
        sequenceHeader: true,
      }),
    );
    const samples: number[] = [];
    let measuring = false;
    const players: RtmpClient[] = [];
    for (let i = 0; i < playerCount; i++) {
      const client = await RtmpClient.connect(base);
      const reader = await client.play("latency");
      reader.attach({
        packet: (p) => {
          if (measuring && p.kind === "video" && !p.sequenceHeader && p.payload.length >= 13)
            samples.push(now() - p.payload.readDoubleBE(5));
        },
        end: () => {},
      });
      players.push(client);
    }
    const frame = Buffer.alloc(11_000, 0);
    let n = 0;
    const started = Date.now();
    const timer = setInterval(() => {
      const keyframe = n % 60 === 0;
      frame[0] = keyframe ? 0x17 : 0x27;
      frame[1] = 1;
      frame.writeDoubleBE(now(), 5);
      publisher.write(createMediaPacket("video", Date.now() - started, Buffer.from(frame), { keyframe }));
      n += 1;
    }, 33);
    await new Promise((r) => setTimeout(r, 1000));
    measuring = true;
    await new Promise((r) => setTimeout(r, seconds * 1000));
    measuring = false;
    clearInterval(timer);
    publisher.close();
    publisherClient.close();
    for (const p of players) p.close();
    samples.sort((a, b) => a - b);
    const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
    return { p50: at(0.5), p99: at(0.99), max: samples[samples.length - 1], samples: samples.length };
  } finally {
    server.kill("SIGTERM");
  }
}

console.log(`| batch window ms | players | samples | added latency p50 ms | p99 ms | max ms |`);
console.log(`| --- | --- | --- | --- | --- | --- |`);
for (const window of windows) {
  const r = await probe(window);
  console.log(
    `| ${window} | ${playerCount} | ${r.samples} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} |`,
  );
}
process.exit(0);
