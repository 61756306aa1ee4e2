/**
 * RTMP in, HTTP-FLV and WebSocket-FLV out, and a web page to watch with.
 *
 *   pnpm example examples/web-player-server.ts
 *   ffmpeg -re -f lavfi -i testsrc=size=1280x720:rate=30 -f lavfi -i sine -c:v libx264 -g 60 -c:a aac -f flv rtmp://127.0.0.1:1935/live/demo
 *   open http://127.0.0.1:8080/?src=http://127.0.0.1:7001/live/demo.flv   (or ?src=ws://127.0.0.1:7001/live/demo.flv)
 *
 * RTMP_PORT, FLV_PORT and PAGE_PORT may be set in the environment.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { StreamHub } from "@onair/core";
import { createHttpFlvServer } from "@onair/flv";
import { createRtmpServer } from "@onair/rtmp";

const hub = new StreamHub();
const rtmp = createRtmpServer({ handler: hub });
const flv = createHttpFlvServer({ handler: hub, cors: "*" });
const rtmpAddress = await rtmp.listen(Number(process.env.RTMP_PORT ?? 1935), "127.0.0.1");
const flvAddress = await flv.listen(Number(process.env.FLV_PORT ?? 7001), "127.0.0.1");

const page = readFileSync(new URL("./web-player.html", import.meta.url));
const mpegts = readFileSync(createRequire(import.meta.url).resolve("mpegts.js/dist/mpegts.js"));
const site = createServer((req, res) => {
  const path = (req.url ?? "/").split("?")[0];
  if (path === "/") {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(page);
  } else if (path === "/mpegts.js") {
    res.writeHead(200, { "Content-Type": "text/javascript" }).end(mpegts);
  } else {
    res.writeHead(404).end();
  }
});
await new Promise<void>((resolve) =>
  site.listen(Number(process.env.PAGE_PORT ?? 8080), "127.0.0.1", resolve),
);
const pagePort = (site.address() as { port: number }).port;

console.log(`publish to rtmp://127.0.0.1:${rtmpAddress.port}/live/demo`);
console.log(`watch at   http://127.0.0.1:${pagePort}/?src=http://127.0.0.1:${flvAddress.port}/live/demo.flv`);

const stop = (): void => {
  hub.close();
  site.close();
  void Promise.all([rtmp.close(), flv.close()]);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
