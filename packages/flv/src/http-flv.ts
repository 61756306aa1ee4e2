import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type ByteOutput, type Handler, nextStreamId, type StreamHub, type StreamInfo } from "@onair/core";
import createDebug from "debug";
import { type WebSocket, WebSocketServer } from "ws";
import { FlvWriter } from "./flv-writer.js";
import { isSafePathPart } from "./safe-path.js";

const debug = createDebug("onair:flv:http");

/** What the HTTP-FLV handler needs from a hub: hand it writers, and tell which streams are live. */
export type FlvHub = Handler & Pick<StreamHub, "isLive" | "streams">;

export interface FlvHandlerOptions {
  /** Access-Control-Allow-Origin for every response; false sends no CORS headers. Default "*". */
  cors?: string | false;
  /**
   * When a stream is not live: false (default) answers 404 at once; true holds the request and
   * lets the hub's play wait timeout decide.
   */
  waitForPublisher?: boolean;
}

interface FlvTarget {
  app: string;
  name: string;
  query: URLSearchParams;
}

/** "/APP/NAME.flv?query" → its parts, or undefined when the path is not a safe stream path. */
export function parseFlvPath(url: string): FlvTarget | undefined {
  const queryAt = url.indexOf("?");
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const parts = path.split("/");
  if (parts.length !== 3 || parts[0] !== "" || !parts[2].endsWith(".flv")) return undefined;
  let app: string;
  let name: string;
  try {
    app = decodeURIComponent(parts[1]);
    name = decodeURIComponent(parts[2].slice(0, -4));
  } catch {
    return undefined;
  }
  if (!isSafePathPart(app) || !isSafePathPart(name)) return undefined;
  return { app, name, query: new URLSearchParams(queryAt === -1 ? "" : url.slice(queryAt + 1)) };
}

function corsHeaders(cors: string | false): Record<string, string> {
  if (cors === false) return {};
  return {
    "Access-Control-Allow-Origin": cors,
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Range, Content-Type",
    "Access-Control-Expose-Headers": "Content-Length",
  };
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  cors: string | false,
  head = false,
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...corsHeaders(cors),
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-cache",
  });
  res.end(head ? undefined : text);
}

function streamInfo(
  target: FlvTarget,
  scheme: "http" | "ws",
  host: string,
  remote: Socket | Duplex,
): StreamInfo {
  const socket = remote as Socket;
  return {
    key: `${target.app}/${target.name}`,
    app: target.app,
    name: target.name,
    url: `${scheme}://${host}/${target.app}/${target.name}.flv`,
    id: nextStreamId(scheme === "http" ? "http-flv-" : "ws-flv-"),
    query: target.query,
    remoteAddress: `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`,
  };
}

/**
 * A plain `(req, res)` handler for HTTP-FLV, to mount in any Node HTTP server (or express,
 * fastify, hono): `GET /APP/NAME.flv` streams the live FLV, `GET /streams` lists live streams.
 * Returns false (and answers nothing) for other paths only when `next` is wanted: see
 * {@link createHttpFlvServer} for a ready server.
 */
export function flvHandler(
  hub: FlvHub,
  options: FlvHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const cors = options.cors ?? "*";
  return (req, res) => {
    const url = req.url ?? "/";
    const method = req.method ?? "GET";
    if (method === "OPTIONS") {
      res.writeHead(204, { ...corsHeaders(cors), "Access-Control-Max-Age": "86400" });
      res.end();
      return;
    }
    if (method !== "GET" && method !== "HEAD") {
      sendJson(res, 405, { error: "method not allowed" }, cors);
      return;
    }
    const head = method === "HEAD";
    if (url === "/streams" || url.startsWith("/streams?")) {
      sendJson(res, 200, { streams: listStreams(hub) }, cors, head);
      return;
    }
    const target = parseFlvPath(url);
    if (target === undefined) {
      sendJson(
        res,
        404,
        { error: "not found", path: url.length > 200 ? `${url.slice(0, 200)}…` : url },
        cors,
        head,
      );
      return;
    }
    const key = `${target.app}/${target.name}`;
    if (!hub.isLive(key) && options.waitForPublisher !== true) {
      sendJson(res, 404, { error: "stream not live", stream: key }, cors, head);
      return;
    }
    // A live body has no length: it runs until the connection closes (RFC 9112 6.3). That spares
    // chunk framing, so each batch goes to the socket as one shared Buffer in one write.
    res.useChunkedEncodingByDefault = false;
    res.shouldKeepAlive = false;
    res.writeHead(200, {
      ...corsHeaders(cors),
      "Content-Type": "video/x-flv",
      "Cache-Control": "no-cache",
    });
    if (head) {
      res.end();
      return;
    }
    res.flushHeaders();
    const socket = res.socket;
    if (socket === null) return;
    const writer = new FlvWriter(
      streamInfo(target, "http", req.headers.host ?? "localhost", req.socket),
      socket,
      (error) => {
        if (error !== undefined) debug("%s ended: %s", writer.info.id, error.message);
        // A player closed by the hub (slow, hub closing) is cut off; a normal end finishes the response.
        if (error !== undefined && (error as { code?: string }).code !== "ERR_STREAM_NOT_FOUND")
          res.destroy();
        else res.end();
      },
    );
    res.once("close", () => writer.close());
    hub.handleWriter(writer);
  };
}

/** Live streams and their players, as `GET /streams` shows them. */
export function listStreams(hub: Pick<StreamHub, "streams">): unknown[] {
  return hub
    .streams()
    .filter((stream) => stream.live)
    .map((stream) => {
      const stats = stream.stats();
      return {
        key: stats.key,
        publisher: stats.publisher && {
          id: stats.publisher.id,
          url: stats.publisher.url,
          remoteAddress: stats.publisher.remoteAddress,
        },
        startedAt: stats.startedAt === undefined ? undefined : new Date(stats.startedAt).toISOString(),
        packets: stats.packets,
        bytes: stats.bytes,
        players: stats.players.map((p) => ({ id: p.id, url: p.url, remoteAddress: p.remoteAddress })),
      };
    });
}

/**
 * WS-FLV messages are pieces of one FLV byte stream (players feed them to their demuxer in
 * order), so a large write, like a joining player's cached GOP, goes out as messages of at most
 * this size: the player can start on the first one before the rest has arrived.
 */
const MAX_WS_MESSAGE = 64 * 1024;

/** A ws socket as a byte output. */
class WebSocketOutput implements ByteOutput {
  constructor(readonly socket: WebSocket) {}
  write(chunk: Buffer): boolean {
    for (let at = 0; at < chunk.length; at += MAX_WS_MESSAGE)
      this.socket.send(chunk.subarray(at, at + MAX_WS_MESSAGE), { binary: true });
    return true;
  }
  get writableLength(): number {
    return this.socket.bufferedAmount;
  }
}

export interface HttpFlvServerOptions extends FlvHandlerOptions {
  handler: FlvHub;
  host?: string;
  /** Default 7001. */
  port?: number;
  /** Close a request whose headers are not complete in this time, in ms. Default 10 000. */
  headersTimeoutMs?: number;
}

/** HTTP-FLV and WebSocket-FLV on one port. */
export class HttpFlvServer {
  readonly server: Server;
  readonly #wss: WebSocketServer;
  readonly #options: HttpFlvServerOptions;
  readonly #sockets = new Set<WebSocket>();
  #closing: Promise<void> | undefined;

  constructor(options: HttpFlvServerOptions) {
    this.#options = options;
    const handle = flvHandler(options.handler, options);
    const headersTimeout = options.headersTimeoutMs ?? 10_000;
    // Node reads these at creation and checks them every connectionsCheckingInterval (30 s by default).
    this.server = createServer(
      {
        headersTimeout,
        requestTimeout: headersTimeout + 5_000,
        connectionsCheckingInterval: Math.min(1000, headersTimeout),
      },
      handle,
    );
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
    this.server.on("upgrade", (req, socket, head) => this.#upgrade(req, socket, head));
  }

  address(): AddressInfo | undefined {
    const address = this.server.address();
    return typeof address === "object" && address !== null ? address : undefined;
  }

  listen(port = this.#options.port ?? 7001, host = this.#options.host ?? "0.0.0.0"): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve(this.address() as AddressInfo);
      });
    });
  }

  /** Stop listening, end every player and free the port. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise((resolve) => {
      for (const socket of this.#sockets) socket.terminate();
      this.#wss.close();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.#closing;
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const target = parseFlvPath(req.url ?? "/");
    const hub = this.#options.handler;
    if (
      target === undefined ||
      this.#closing !== undefined ||
      (!hub.isLive(`${target.app}/${target.name}`) && this.#options.waitForPublisher !== true)
    ) {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      this.#sockets.add(ws);
      const writer = new FlvWriter(
        streamInfo(target, "ws", req.headers.host ?? "localhost", socket),
        new WebSocketOutput(ws),
        (error) => {
          if (error !== undefined && (error as { code?: string }).code !== "ERR_STREAM_NOT_FOUND")
            ws.terminate();
          else ws.close(1000);
        },
      );
      ws.on("close", () => {
        this.#sockets.delete(ws);
        writer.close();
      });
      ws.on("error", () => ws.terminate());
      hub.handleWriter(writer);
    });
  }
}

/** Create the HTTP-FLV + WebSocket-FLV server; call `listen()` to start it. */
export function createHttpFlvServer(options: HttpFlvServerOptions): HttpFlvServer {
  return new HttpFlvServer(options);
}
