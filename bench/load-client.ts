/**
 * The bench's load client: N players of one stream over RTMP, HTTP-FLV or WS-FLV, in a process of
 * its own. Per player it records time to first byte and to first keyframe, and bytes received in
 * the measuring window. Cheap on purpose: after the first keyframe it only counts bytes.
 *
 * Usage: node --conditions=source --import tsx bench/load-client.ts PROTOCOL URL PLAYERS JOIN_PER_SEC WARMUP_MS WINDOW_MS
 * Prints one JSON line: { players: [{ ttfb, ttfk, windowBytes }], windowMs }.
 */
import { connect } from "node:net";
import { FlvDemuxer, parseVideoTagHeader } from "@onair/flv";
import {
  acknowledgementMessage,
  ChunkDecoder,
  ChunkEncoder,
  commandMessage,
  decodeCommand,
  HandshakeClient,
  MessageType,
  setChunkSizeMessage,
} from "@onair/rtmp";
import { WebSocket } from "ws";

const [protocol, url, playersArg, rateArg, warmupArg, windowArg] = process.argv.slice(2);
const players = Number(playersArg);
const joinPerSecond = Number(rateArg);
const warmupMs = Number(warmupArg);
const windowMs = Number(windowArg);

interface Player {
  /** performance.now() at connect; first byte and first keyframe are ms after it, -1 until seen. */
  startedAt: number;
  ttfb: number;
  ttfk: number;
  bytes: number;
  windowStartBytes: number;
  windowEndBytes: number;
  error: string;
}

const results: Player[] = [];

function rtmpPlayer(player: Player): void {
  const target = new URL(url);
  const app = target.pathname.split("/")[1];
  const name = target.pathname.split("/").slice(2).join("/");
  const socket = connect(Number(target.port || 1935), target.hostname);
  socket.setNoDelay(true);
  const handshake = new HandshakeClient({ digest: false });
  let shaking = true;
  let decoder: ChunkDecoder | undefined = new ChunkDecoder({ maxMessageSize: 32 * 1024 * 1024 });
  const encoder = new ChunkEncoder();
  let acked = 0;
  let streamId = 0;
  const send = (m: Parameters<ChunkEncoder["encode"]>[0]) => socket.write(encoder.encode(m));
  const onMessage = (m: {
    typeId: number;
    payload: Buffer;
    messageStreamId: number;
    chunkStreamId: number;
    timestamp: number;
  }) => {
    if (m.typeId === MessageType.commandAmf0) {
      const c = decodeCommand(m as Parameters<typeof decodeCommand>[0]);
      if (c.name === "_result" && c.transactionId === 1) {
        send(commandMessage({ name: "createStream", transactionId: 2, commandObject: null, args: [] }));
      } else if (c.name === "_result" && c.transactionId === 2) {
        streamId = Number(c.args[0]);
        send(
          commandMessage(
            { name: "play", transactionId: 0, commandObject: null, args: [name, -2000] },
            streamId,
            8,
          ),
        );
      }
    } else if (m.typeId === MessageType.video && player.ttfk < 0 && m.payload.length > 1) {
      const header = parseVideoTagHeader(m.payload);
      if (header.keyframe) {
        player.ttfk = performance.now() - player.startedAt;
        decoder = undefined; // from here on only count bytes
      }
    }
  };
  socket.on("connect", () => socket.write(handshake.start()));
  socket.on("data", (chunk: Buffer) => {
    if (player.ttfb < 0 && !shaking) player.ttfb = performance.now() - player.startedAt;
    player.bytes += chunk.length;
    if (player.bytes - acked > 2_000_000) {
      acked = player.bytes;
      send(acknowledgementMessage(acked % 0x100000000));
    }
    if (shaking) {
      const step = handshake.push(chunk);
      if (step.output) socket.write(step.output);
      if (!step.done) return;
      shaking = false;
      send(setChunkSizeMessage(4096));
      encoder.chunkSize = 4096;
      send(
        commandMessage({
          name: "connect",
          transactionId: 1,
          commandObject: {
            app,
            tcUrl: `rtmp://${target.host}/${app}`,
            flashVer: "LNX 9,0,124,2",
            fpad: false,
            capabilities: 15,
            audioCodecs: 4071,
            videoCodecs: 252,
            videoFunction: 1,
          },
          args: [],
        }),
      );
      chunk = step.remainder;
      if (chunk.length === 0) return;
    }
    decoder?.push(chunk, onMessage);
  });
  socket.on("error", (e) => {
    player.error = e.message;
  });
}

function flvPlayer(player: Player): void {
  const demuxer = new FlvDemuxer();
  let scanning = true;
  const onBytes = (chunk: Buffer): void => {
    if (player.ttfb < 0) player.ttfb = performance.now() - player.startedAt;
    player.bytes += chunk.length;
    if (!scanning) return;
    demuxer.push(chunk, (tag) => {
      if (scanning && tag.kind === "video" && tag.body.length > 1 && parseVideoTagHeader(tag.body).keyframe) {
        player.ttfk = performance.now() - player.startedAt;
        scanning = false;
      }
    });
  };
  if (protocol === "ws-flv") {
    const ws = new WebSocket(url);
    ws.on("message", (data: Buffer) => onBytes(data));
    ws.on("error", (e) => {
      player.error = e.message;
    });
    return;
  }
  httpGet(url, onBytes, (message) => {
    player.error = message;
  });
}

/**
 * A bare HTTP/1.1 GET on a socket: cheaper per byte than node:http, so the client's own lag
 * stays out of the first-byte times. Hands on the body, de-chunked when the server chunks it.
 */
function httpGet(target: string, onBody: (bytes: Buffer) => void, onError: (message: string) => void): void {
  const { hostname, port, pathname } = new URL(target);
  const socket = connect(Number(port || 80), hostname);
  socket.on("connect", () =>
    socket.write(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n\r\n`),
  );
  let head = Buffer.alloc(0);
  let chunked: boolean | undefined;
  /** Bytes left in the current chunk; -1 while reading a chunk-size line. */
  let chunkLeft = -1;
  let sizeLine = "";
  const dechunk = (bytes: Buffer): void => {
    let at = 0;
    while (at < bytes.length) {
      if (chunkLeft > 0) {
        const n = Math.min(chunkLeft, bytes.length - at);
        onBody(bytes.subarray(at, at + n));
        chunkLeft -= n;
        at += n;
        continue;
      }
      // Between chunks: "\r\n" after the data, then "<hex>\r\n".
      const c = bytes[at++];
      if (c === 0x0a) {
        if (sizeLine.trim() !== "") chunkLeft = Number.parseInt(sizeLine, 16);
        sizeLine = "";
      } else if (c !== 0x0d) sizeLine += String.fromCharCode(c);
    }
  };
  socket.on("data", (chunk: Buffer) => {
    if (chunked === undefined) {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      const headers = head.subarray(0, end).toString("latin1");
      if (!headers.startsWith("HTTP/1.1 200")) {
        onError(headers.split("\r\n")[0]);
        socket.destroy();
        return;
      }
      chunked = /\r\ntransfer-encoding:\s*chunked/i.test(headers);
      chunk = head.subarray(end + 4);
      if (chunk.length === 0) return;
    }
    if (chunked) dechunk(chunk);
    else onBody(chunk);
  });
  socket.on("error", (e) => onError(e.message));
}

const interval = 1000 / joinPerSecond;
const startedAll = Date.now();
for (let i = 0; i < players; i++) {
  const player: Player = {
    startedAt: 0,
    ttfb: -1,
    ttfk: -1,
    bytes: 0,
    windowStartBytes: 0,
    windowEndBytes: 0,
    error: "",
  };
  results.push(player);
  const due = startedAll + i * interval;
  setTimeout(
    () => {
      player.startedAt = performance.now();
      if (protocol === "rtmp") rtmpPlayer(player);
      else flvPlayer(player);
    },
    Math.max(0, due - Date.now()),
  );
}
const joinedAt = startedAll + players * interval;
setTimeout(
  () => {
    for (const p of results) p.windowStartBytes = p.bytes;
    process.stderr.write("window start\n");
    setTimeout(() => {
      for (const p of results) p.windowEndBytes = p.bytes;
      process.stdout.write(
        `${JSON.stringify({
          windowMs,
          players: results.map((p) => ({
            ttfb: Math.round(p.ttfb * 10) / 10,
            ttfk: Math.round(p.ttfk * 10) / 10,
            windowBytes: p.windowEndBytes - p.windowStartBytes,
            error: p.error,
          })),
        })}\n`,
        // A pipe takes stdout asynchronously: exit once all of the report is out.
        () => process.exit(0),
      );
    }, windowMs);
  },
  joinedAt - Date.now() + warmupMs,
);
