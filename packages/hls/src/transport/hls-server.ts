import { createServer, type Server, STATUS_CODES } from "node:http";
import { createSecureServer, type Http2SecureServer } from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { ConnectionLimiter, type StreamHub } from "@onair/core";
import createDebug from "debug";
import type { HlsSourceDirectory } from "../hls-source.js";
import { HlsStreams, type HlsStreamsOptions, type HlsStreamsStats } from "../segment/hls-streams.js";
import {
  type HlsHandlerOptions,
  type HlsHandlerStats,
  type HlsRequestHandler,
  hlsHandler,
} from "./hls-handler.js";
import {
  corsHeaders,
  HLS_REFUSALS,
  type HlsRefusal,
  type HlsRequest,
  type HlsResponse,
  type Reply,
  sendRefusal,
} from "./hls-response.js";

const debug = createDebug("onair:hls:http");

export interface HlsServerOptions extends HlsStreamsOptions, HlsHandlerOptions {
  /** The hub whose streams are served: the server makes their segmenters (one per live stream). */
  handler: StreamHub;
  /**
   * Serve this directory instead of making one from `handler` (e.g. one `HlsStreams` shared by
   * two servers, or a custom segmenter). The server does not close it.
   */
  streams?: HlsSourceDirectory;
  host?: string;
  /** Default 7002. */
  port?: number;
  /**
   * A certificate and key (PEM): the server speaks HTTP/2 over TLS (node:http2, with HTTP/1.1 over
   * TLS for clients without h2), as Safari needs for Low-Latency HLS. Without it: HTTP/1.1, no TLS.
   */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Close a request whose headers are not complete in this time (408), in ms. Default 10 000. */
  headersTimeoutMs?: number;
  /**
   * Close an HTTP/1.1 keep-alive connection idle this long between requests, in ms. Default 5000.
   * HTTP/2 sessions are closed after max(this, 60 s) with no traffic.
   */
  keepAliveTimeoutMs?: number;
  /**
   * Open connections at once. One more is let in for 2 s to read its refusal: 503 JSON to each
   * request on it (HTTP/2: then GOAWAY). Default 5000; Infinity turns the limit off.
   */
  maxConnections?: number;
  /**
   * Open connections at once from one IP address; one more is refused with 429. Default 256.
   * Addresses in `perIpExemptAddresses` are not limited; Infinity turns the limit off.
   */
  maxConnectionsPerIp?: number;
  /** Default `LOOPBACK_ADDRESSES` from @onair/core: a local proxy makes every client look local. `[]` limits every address. */
  perIpExemptAddresses?: readonly string[];
  /** Bytes of request line and headers; past it, 431. Default 16 384. */
  maxHeaderSize?: number;
  /** Characters of the request target (path and query); past it, 414. Default 4096. */
  maxUrlLength?: number;
}

export interface HlsServerStats extends HlsHandlerStats {
  /** Open connections (HTTP/1.1 or HTTP/2), those being refused left out. */
  connections: number;
  refused: HlsHandlerStats["refused"] & {
    /** Connections refused because `maxConnections` were open. */
    maxConnections: number;
    /** Connections refused because `maxConnectionsPerIp` were open from that address. */
    perIp: number;
    /** Requests whose target was longer than `maxUrlLength`. */
    urlTooLong: number;
  };
  /** The segmenters' figures, when `streams` is an HlsStreams (the one the server made, or one given). */
  streams: HlsStreamsStats | undefined;
}

/** How long a refused connection may stay before it is destroyed, in ms. */
const REFUSED_LINGER_MS = 2000;
/** Refused connections let in at once to read their refusal (past it they are closed at once). */
const REFUSAL_BACKLOG = 64;
const HTTP2_IDLE_TIMEOUT_MS = 60_000;
/** Concurrent HTTP/2 streams a client may open on one connection (nginx's default is 128). */
const HTTP2_MAX_CONCURRENT_STREAMS = 100;

/** A whole HTTP/1.1 response with a JSON body, for a socket no response object is attached to. */
function rawJsonResponse(status: number, body: unknown, headers: Record<string, string>): string {
  const text = JSON.stringify(body);
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nConnection: close\r\n`;
  head += "Content-Type: application/json; charset=utf-8\r\nCache-Control: no-cache\r\n";
  head += `Content-Length: ${Buffer.byteLength(text)}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return `${head}\r\n${text}`;
}

/** The node:http (or, with `tls`, node:http2) server serving HLS, with connection limits. */
export class HlsServer {
  /** node:http's server, or with `tls` node:http2's secure server. */
  readonly server: Server | Http2SecureServer;
  /** The HLS output of the hub's streams this server serves. */
  readonly streams: HlsSourceDirectory;
  /** The request handler inside (its `stats()` are part of the server's). */
  readonly handler: HlsRequestHandler;
  readonly #options: HlsServerOptions;
  readonly #ownStreams: HlsStreams | undefined;
  readonly #limiter: ConnectionLimiter;
  readonly #maxUrlLength: number;
  readonly #sockets = new Set<Socket>();
  /**
   * Connections over a limit, let in to read their refusal, by "address|port" (HTTP/2 requests
   * show their connection only through a proxy object, so identity cannot be the key).
   */
  readonly #pendingRefusals = new Map<string, HlsRefusal>();
  #refusing = 0;
  readonly #refused = { maxConnections: 0, perIp: 0, urlTooLong: 0 };
  #closing: Promise<void> | undefined;

  constructor(options: HlsServerOptions) {
    this.#options = options;
    this.#limiter = new ConnectionLimiter({
      maxConnections: options.maxConnections ?? 5000,
      maxConnectionsPerIp: options.maxConnectionsPerIp ?? 256,
      ...(options.perIpExemptAddresses === undefined
        ? {}
        : { perIpExemptAddresses: options.perIpExemptAddresses }),
    });
    this.#maxUrlLength = options.maxUrlLength ?? 4096;
    if (options.streams !== undefined) {
      this.streams = options.streams;
    } else {
      // HlsStreams takes the segmenter options from the server options it is given.
      this.#ownStreams = new HlsStreams(options.handler, options);
      this.streams = this.#ownStreams;
    }
    this.handler = hlsHandler(this.streams, options);
    const headersTimeout = options.headersTimeoutMs ?? 10_000;
    const keepAliveTimeout = options.keepAliveTimeoutMs ?? 5000;
    const maxHeaderSize = options.maxHeaderSize ?? 16 * 1024;
    const listener = (req: HlsRequest, res: HlsResponse): void => this.#request(req, res);
    if (options.tls === undefined) {
      const server = createServer(
        {
          headersTimeout,
          requestTimeout: headersTimeout + 5_000,
          connectionsCheckingInterval: Math.min(1000, headersTimeout),
          maxHeaderSize,
        },
        listener,
      );
      server.keepAliveTimeout = keepAliveTimeout;
      server.on("connection", (socket: Socket) => this.#connection(socket));
      this.server = server;
    } else {
      const server = createSecureServer(
        {
          cert: options.tls.cert,
          key: options.tls.key,
          allowHTTP1: true,
          // Node allows 2^32 - 1 streams a session by default: one connection could then hold
          // every blocking request the handler allows (a player uses a few at a time).
          settings: { maxHeaderListSize: maxHeaderSize, maxConcurrentStreams: HTTP2_MAX_CONCURRENT_STREAMS },
          handshakeTimeout: headersTimeout,
        },
        listener,
      );
      // HTTP/1.1 over TLS goes through node:http's connection handling, which reads these.
      const http1 = server as unknown as { keepAliveTimeout: number; headersTimeout: number };
      http1.keepAliveTimeout = keepAliveTimeout;
      http1.headersTimeout = headersTimeout;
      server.setTimeout(Math.max(keepAliveTimeout, HTTP2_IDLE_TIMEOUT_MS));
      server.on("secureConnection", (socket: TLSSocket) => this.#connection(socket));
      this.server = server;
    }
    // Bad HTTP/1.1 bytes, headers too large or too slow: a one-line JSON answer, then the
    // connection ends. A client that reset costs its connection, never the process.
    this.server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
      debug("client error from %s: %s", socket.remoteAddress, error.code ?? error.message);
      if (error.code === "ECONNRESET" || !socket.writable) {
        socket.destroy();
        return;
      }
      const [status, text] =
        error.code === "HPE_HEADER_OVERFLOW"
          ? [431, "headers too large"]
          : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
            ? [408, "request timeout"]
            : [400, "bad request"];
      socket.end(rawJsonResponse(status, { error: text }, corsHeaders(this.#options.cors ?? "*")));
      const timer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
      timer.unref();
      socket.once("close", () => clearTimeout(timer));
    });
  }

  address(): AddressInfo | undefined {
    const address = this.server.address();
    return typeof address === "object" && address !== null ? address : undefined;
  }

  /** Open connections and held requests now; requests served and refused since start. */
  stats(): HlsServerStats {
    const handler = this.handler.stats();
    return {
      ...handler,
      connections: this.#limiter.count,
      refused: { ...handler.refused, ...this.#refused },
      streams: this.streams instanceof HlsStreams ? this.streams.stats() : undefined,
    };
  }

  listen(port = this.#options.port ?? 7002, host = this.#options.host ?? "0.0.0.0"): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve(this.address() as AddressInfo);
      });
    });
  }

  /**
   * Stop listening, answer held requests (503), close every connection, and close the
   * `HlsStreams` the server made (not one passed as `streams`). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.handler.close();
    this.#ownStreams?.close();
    const closed = this.server.listening
      ? new Promise<void>((resolve) => this.server.close(() => resolve()))
      : Promise.resolve();
    if ("closeAllConnections" in this.server) this.server.closeAllConnections();
    // Resolved once every socket has closed, so stats() count none after (a socket leaves
    // #sockets on its "close" event, so each one here has that event still to come).
    const sockets = [...this.#sockets].map(
      (socket) => new Promise((resolve) => socket.once("close", resolve)),
    );
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all([closed, ...sockets]);
  }

  #connection(socket: Socket | TLSSocket): void {
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
    const ip = socket.remoteAddress ?? "?";
    const limit = this.#limiter.admit(ip);
    if (limit === undefined) {
      socket.once("close", () => this.#limiter.release(ip));
      return;
    }
    const refusal = HLS_REFUSALS[limit];
    this.#refused[limit] += 1;
    debug("refusing a connection from %s: %s", ip, refusal.error);
    if (this.#refusing >= REFUSAL_BACKLOG) {
      socket.destroy();
      return;
    }
    // Let the client in to read its refusal as JSON (every request on it), for a while.
    this.#refusing += 1;
    const peer = `${socket.remoteAddress}|${socket.remotePort}`;
    this.#pendingRefusals.set(peer, refusal);
    const timer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
    timer.unref();
    socket.once("close", () => {
      this.#refusing -= 1;
      this.#pendingRefusals.delete(peer);
      clearTimeout(timer);
    });
  }

  #request(req: HlsRequest, res: HlsResponse): void {
    const pending =
      this.#refusing === 0
        ? undefined
        : this.#pendingRefusals.get(`${req.socket?.remoteAddress}|${req.socket?.remotePort}`);
    if (pending !== undefined) {
      const http2 = "stream" in res;
      sendRefusal(
        res as Reply,
        pending,
        pending.reason,
        this.#options.cors ?? "*",
        req.method === "HEAD",
        http2 ? {} : { Connection: "close" },
      );
      // HTTP/2: no new streams on this connection (GOAWAY); the ones open end with their refusal.
      if (http2) res.stream.session?.close();
      return;
    }
    if ((req.url ?? "/").length > this.#maxUrlLength) {
      this.#refused.urlTooLong += 1;
      sendRefusal(
        res as Reply,
        HLS_REFUSALS.urlTooLong,
        HLS_REFUSALS.urlTooLong.reason,
        this.#options.cors ?? "*",
        req.method === "HEAD",
      );
      return;
    }
    this.handler(req, res);
  }
}

/**
 * Create the HLS server: it makes the hub's segmenters (`HlsStreams`, one per live stream) unless
 * given `streams`, and serves them; call `listen()` to start it.
 */
export function createHlsServer(options: HlsServerOptions): HlsServer {
  return new HlsServer(options);
}
