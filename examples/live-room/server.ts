/**
 * A live platform's room in one small app: onair's hub, RTMP ingest, HTTP-FLV and HLS playback,
 * and a chat on `ws` (chat-hub.ts), all behind one web port.
 *
 *   pnpm example examples/live-room/server.ts
 *   open http://127.0.0.1:8080/room/demo   and publish as the startup lines say (OBS or ffmpeg)
 *
 * Only the room's key holder can publish: rtmp://HOST:1935/live/ROOM?key=KEY, where KEY is an HMAC
 * of the room name under ROOM_SECRET (printed at startup for each room of ROOMS). Anyone can watch.
 *
 * Environment: HOST (default 127.0.0.1; 0.0.0.0 to take OBS from another machine), HTTP_PORT
 * (8080), RTMP_PORT (1935), ROOM_SECRET (default: random per start), ROOMS (rooms whose keys are
 * printed, comma-separated; default "demo"), REPUBLISH_GRACE_MS (default 3000), HLS_VARIANT
 * ("ts", "fmp4" or "low-latency"; default "fmp4").
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { StreamHub, type StreamInfo } from "@onair/core";
import { flvHandler } from "@onair/flv";
import { HlsStreams, type HlsVariant, hlsHandler } from "@onair/hls";
import { createRtmpServer } from "@onair/rtmp";
import { ChatHub, type ChatHubOptions, isRoomName } from "./chat-hub.js";

/** The RTMP app rooms publish to: a room's stream is "live/ROOM". */
const APP = "live";

export interface LiveRoomOptions {
  host?: string;
  /** The web port: pages, chat, HTTP-FLV and HLS. 0 picks a free one. Default 8080. */
  httpPort?: number;
  /** Default 1935; 0 picks a free one. */
  rtmpPort?: number;
  /** What room keys are derived from. Default: random, so keys change at every start. */
  secret?: string;
  /** How long players wait for a publisher that left to come back, in ms. Default 3000. */
  republishGraceMs?: number;
  hlsVariant?: HlsVariant;
  chat?: ChatHubOptions;
}

export interface LiveRoomServer {
  /** "http://HOST:PORT": rooms are at /room/NAME. */
  readonly httpUrl: string;
  /** "rtmp://HOST:PORT/live": OBS's "Server". */
  readonly rtmpUrl: string;
  /** The key that lets a publisher into `room` (OBS's "Stream Key" is `ROOM?key=KEY`). */
  keyFor(room: string): string;
  readonly hub: StreamHub;
  readonly chat: ChatHub;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
const file = (path: string | URL, type: string) => ({ body: readFileSync(path), type });
const files = new Map([
  ["/static/room.js", file(new URL("./public/room.js", import.meta.url), "text/javascript")],
  ["/static/room.css", file(new URL("./public/room.css", import.meta.url), "text/css")],
  // Front-end packages from npm, served from node_modules: no CDN.
  ["/vendor/mpegts.js", file(require.resolve("mpegts.js/dist/mpegts.js"), "text/javascript")],
  ["/vendor/hls.js", file(require.resolve("hls.js/dist/hls.min.js"), "text/javascript")],
]);
const page = file(new URL("./public/index.html", import.meta.url), "text/html; charset=utf-8");

export async function startLiveRoom(options: LiveRoomOptions = {}): Promise<LiveRoomServer> {
  const host = options.host ?? "127.0.0.1";
  const secret = options.secret ?? randomBytes(32).toString("hex");
  const keyFor = (room: string): string =>
    createHmac("sha256", secret).update(room).digest("base64url").slice(0, 22);

  const hub = new StreamHub({ republishGraceMs: options.republishGraceMs ?? 3000 });
  const chat = new ChatHub((room) => hub.isLive(`${APP}/${room}`), options.chat);
  const onLive = (live: boolean) => (info: StreamInfo) => {
    if (info.app === APP) chat.setLive(info.name, live);
  };
  hub.on("publish", onLive(true)); // a republish within the grace emits publish too
  hub.on("unpublish", onLive(false));

  const rtmp = createRtmpServer({
    handler: hub,
    // Anyone may watch; only the holder of the room's key may publish into it.
    authorize: ({ action, app, name, query }) => {
      if (action === "play") return true;
      const given = Buffer.from(query.get("key") ?? "");
      const expected = Buffer.from(isRoomName(name) ? keyFor(name) : "");
      const ok = app === APP && given.length === expected.length && timingSafeEqual(given, expected);
      return ok || { allow: false, reason: "wrong room or key" };
    },
  });
  const flv = flvHandler(hub, { cors: false });
  const hlsStreams = new HlsStreams(hub, { variant: options.hlsVariant ?? "fmp4" });
  const hls = hlsHandler(hlsStreams, { cors: false });

  const roomPage = { ...page }; // with the RTMP address, once it is known
  const web = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "method not allowed\n");
    if (path.endsWith(".flv")) return flv(req, res); // /live/ROOM.flv
    if (hls.handle(req, res)) return; // /live/ROOM.m3u8 and its segments
    if (path === "/") {
      res.writeHead(302, { Location: "/room/demo" }).end();
      return;
    }
    const room = path.match(/^\/room\/([^/]+)$/)?.[1];
    const asset = room !== undefined && isRoomName(room) ? roomPage : files.get(path);
    if (asset === undefined) return send(res, 404, "not found\n");
    res.writeHead(200, {
      "Content-Type": asset.type,
      "Cache-Control": "no-cache",
      "X-Content-Type-Options": "nosniff",
      // The page runs our scripts only: an injected tag could not load or run anything.
      "Content-Security-Policy":
        "default-src 'self'; media-src 'self' blob:; worker-src 'self' blob:; img-src 'self' data:",
    });
    res.end(req.method === "HEAD" ? undefined : asset.body);
  });
  // The chat: ws://HOST:PORT/chat/ROOM?name=NICK
  web.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://x");
    const room = url.pathname.match(/^\/chat\/([^/]+)$/)?.[1];
    if (room === undefined) {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    chat.handleUpgrade(req, socket, head, room, url.searchParams.get("name") ?? "");
  });

  const rtmpAddress = await rtmp.listen(options.rtmpPort ?? 1935, host);
  await new Promise<void>((resolve, reject) => {
    web.once("error", reject);
    web.listen(options.httpPort ?? 8080, host, resolve);
  });
  const webPort = (web.address() as { port: number }).port;
  const shown = host === "0.0.0.0" || host === "::" ? "localhost" : host;
  const rtmpUrl = `rtmp://${shown}:${rtmpAddress.port}/${APP}`;
  roomPage.body = Buffer.from(
    page.body.toString().replace('name="onair-rtmp" content=""', `name="onair-rtmp" content="${rtmpUrl}"`),
  );

  let closing: Promise<void> | undefined;
  return {
    httpUrl: `http://${shown}:${webPort}`,
    rtmpUrl,
    keyFor,
    hub,
    chat,
    close() {
      closing ??= (async () => {
        chat.close();
        hls.close();
        hlsStreams.close();
        hub.close();
        web.closeAllConnections();
        await Promise.all([rtmp.close(), new Promise((resolve) => web.close(resolve))]);
      })();
      return closing;
    },
  };
}

function send(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "Content-Type": "text/plain" }).end(text);
}

async function main(): Promise<void> {
  const env = process.env;
  const variant = env.HLS_VARIANT;
  const room = await startLiveRoom({
    host: env.HOST,
    httpPort: env.HTTP_PORT ? Number(env.HTTP_PORT) : undefined,
    rtmpPort: env.RTMP_PORT ? Number(env.RTMP_PORT) : undefined,
    secret: env.ROOM_SECRET || undefined,
    republishGraceMs: env.REPUBLISH_GRACE_MS ? Number(env.REPUBLISH_GRACE_MS) : undefined,
    hlsVariant: variant === "ts" || variant === "fmp4" || variant === "low-latency" ? variant : undefined,
  });
  for (const name of (env.ROOMS || "demo").split(",").filter(isRoomName)) {
    console.log(`room ${name}: watch at ${room.httpUrl}/room/${name}`);
    console.log(`  OBS: Server ${room.rtmpUrl}   Stream Key ${name}?key=${room.keyFor(name)}`);
  }
  if (!env.ROOM_SECRET) console.log("(keys change at every start: set ROOM_SECRET to keep them)");
  const stop = (): void => void room.close();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
