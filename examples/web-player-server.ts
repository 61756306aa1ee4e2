/**
 * RTMP in; HTTP-FLV, WebSocket-FLV and HLS out; and a web page to watch with.
 *
 *   pnpm example examples/web-player-server.ts
 *   open http://127.0.0.1:8080/   (plays http://127.0.0.1:7001/live/demo.flv; ?src=ws://127.0.0.1:7001/live/demo.flv for WS-FLV,
 *                                  ?src=http://127.0.0.1:8080/live/demo.m3u8 for low-latency HLS with hls.js)
 *   ffmpeg -re -f lavfi -i testsrc=size=1280x720:rate=30 -f lavfi -i sine -c:v libx264 -pix_fmt yuv420p -g 60 -c:a aac -f flv rtmp://127.0.0.1:1935/live/demo
 *
 * The page can be opened before the stream is live: it says how to publish to this server (the
 * ffmpeg line and the OBS settings, with this server's RTMP port), waits, and plays when the stream
 * starts; when the stream ends it says so and waits for the next one.
 *
 * HLS is served by the page's own server (the `hlsHandler` of @onair/hls mounted beside the page),
 * so it needs no port of its own. The players (mpegts.js, hls.js) come from node_modules: no CDN.
 *
 * Environment:
 *   RTMP_PORT (default 1935), FLV_PORT (default 7001), PAGE_PORT (default 8080)
 *   HLS_VARIANT         low-latency (default), fmp4 or ts
 *   REPUBLISH_GRACE_MS  how long players stay connected after the publisher leaves, in case it
 *                       comes back (default: the hub's, 10 000). 0 ends the players at once, so the
 *                       page shows "ended" as soon as the publisher stops.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { StreamHub } from "@onair/core";
import { createHttpFlvServer } from "@onair/flv";
import { HlsStreams, type HlsVariant, hlsHandler } from "@onair/hls";
import { createRtmpServer } from "@onair/rtmp";

const grace = process.env.REPUBLISH_GRACE_MS;
if (grace !== undefined && grace !== "" && !(Number(grace) >= 0)) {
  throw new Error(`REPUBLISH_GRACE_MS must be a number of ms (0 or more), not ${JSON.stringify(grace)}`);
}
const hub = new StreamHub(grace === undefined || grace === "" ? {} : { republishGraceMs: Number(grace) });
const rtmp = createRtmpServer({ handler: hub });
const flv = createHttpFlvServer({ handler: hub, cors: "*" });
const variant = (process.env.HLS_VARIANT || "low-latency") as HlsVariant;
if (!["ts", "fmp4", "low-latency"].includes(variant)) {
  throw new Error(`HLS_VARIANT must be ts, fmp4 or low-latency, not ${JSON.stringify(variant)}`);
}
// One segmenter per live stream, and the handler that serves their playlists and segments.
const hlsStreams = new HlsStreams(hub, { variant });
const hls = hlsHandler(hlsStreams, { cors: "*" });
const rtmpAddress = await rtmp.listen(Number(process.env.RTMP_PORT ?? 1935), "127.0.0.1");
const flvAddress = await flv.listen(Number(process.env.FLV_PORT ?? 7001), "127.0.0.1");

// The page learns this server's ports from a JSON block filled in here (no extra request).
const config = JSON.stringify({ rtmpPort: rtmpAddress.port, flvPort: flvAddress.port });
const page = readFileSync(new URL("./web-player.html", import.meta.url), "utf8").replace(
  '<script id="onair-config" type="application/json">{}</script>',
  `<script id="onair-config" type="application/json">${config}</script>`,
);
const require = createRequire(import.meta.url);
const mpegts = readFileSync(require.resolve("mpegts.js/dist/mpegts.js"));
const hlsJs = readFileSync(require.resolve("hls.js/dist/hls.min.js"));
const site = createServer((req, res) => {
  const path = (req.url ?? "/").split("?")[0];
  if (path === "/") {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" }).end(page);
  } else if (path === "/mpegts.js") {
    res.writeHead(200, { "Content-Type": "text/javascript" }).end(mpegts);
  } else if (path === "/hls.js") {
    res.writeHead(200, { "Content-Type": "text/javascript" }).end(hlsJs);
  } else if (hls.handle(req, res)) {
    // /APP/NAME.m3u8 and its segments and parts
  } else {
    res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
  }
});
await new Promise<void>((resolve) =>
  site.listen(Number(process.env.PAGE_PORT ?? 8080), "127.0.0.1", resolve),
);
const pagePort = (site.address() as { port: number }).port;

console.log(`publish to rtmp://127.0.0.1:${rtmpAddress.port}/live/demo`);
console.log(`watch at   http://127.0.0.1:${pagePort}/   (it says how to publish, and waits for the stream)`);
console.log(
  `HLS (${variant}) at http://127.0.0.1:${pagePort}/live/demo.m3u8: http://127.0.0.1:${pagePort}/?src=http://127.0.0.1:${pagePort}/live/demo.m3u8`,
);

const stop = (): void => {
  hls.close();
  hlsStreams.close();
  hub.close();
  site.close();
  site.closeAllConnections();
  void Promise.all([rtmp.close(), flv.close()]);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
