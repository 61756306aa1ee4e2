/**
 * A live RTMP server with publish auth, in a few lines.
 *
 *   pnpm example examples/rtmp-server.ts
 *   ffmpeg -re -f lavfi -i testsrc -f lavfi -i sine -c:v libx264 -c:a aac -f flv "rtmp://127.0.0.1:1935/live/demo?token=let-me-in"
 *   ffplay rtmp://127.0.0.1:1935/live/demo
 *
 * PORT and TOKEN may be set in the environment.
 */
import { StreamHub } from "@onair/core";
import { createRtmpServer } from "@onair/rtmp";

const token = process.env.TOKEN ?? "let-me-in";
const hub = new StreamHub({ gopCache: 1 });
hub.on("publish", (info) => console.log("live:", info.key));
hub.on("unpublish", (info) => console.log("ended:", info.key));

const server = createRtmpServer({
  handler: hub,
  authorize: async ({ action, query }) =>
    action === "play" || query.get("token") === token || { allow: false, reason: "wrong token" },
});
const address = await server.listen(Number(process.env.PORT ?? 1935), "127.0.0.1");
console.log(`listening on rtmp://127.0.0.1:${address.port}/live/NAME`);

process.once("SIGINT", () => {
  hub.close();
  void server.close();
});
process.once("SIGTERM", () => {
  hub.close();
  void server.close();
});
