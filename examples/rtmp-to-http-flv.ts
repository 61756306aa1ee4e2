/**
 * RTMP in, HTTP-FLV out, in a few lines.
 *
 *   pnpm example examples/rtmp-to-http-flv.ts
 *   ffmpeg -re -f lavfi -i testsrc -f lavfi -i sine -c:v libx264 -c:a aac -f flv rtmp://127.0.0.1:1935/live/demo
 *   ffplay http://127.0.0.1:7001/live/demo.flv
 */
import { StreamHub } from "@onair/core";
import { createHttpFlvServer } from "@onair/flv";
import { createRtmpServer } from "@onair/rtmp";

const hub = new StreamHub({ gopCache: 1 });
hub.on("publish", (info) =>
  console.log(`live: http://127.0.0.1:${process.env.FLV_PORT ?? 7001}/${info.key}.flv`),
);

await createRtmpServer({ handler: hub }).listen(Number(process.env.RTMP_PORT ?? 1935), "127.0.0.1");
await createHttpFlvServer({ handler: hub, cors: "*" }).listen(
  Number(process.env.FLV_PORT ?? 7001),
  "127.0.0.1",
);
console.log("ready");
