import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { ConnectionLimiter, StreamErrorCode } from "@onair/core";
import createDebug from "debug";
import { type WebSocket, WebSocketServer } from "ws";
import { FlvWriter } from "../stream/flv-writer.js";
import { ALLOWED, authorizePlayer } from "./authorize-player.js";
import { createRequestHandler, type FlvHandlerOptions, type FlvHub } from "./flv-handler.js";
import { type FlvTarget, parseFlvPath, peerAddress, streamInfo } from "./flv-path.js";
import { corsHeaders, errorCode, rawJsonResponse } from "./json-response.js";
import {
  FlvCloseCode,
  type HttpFlvRefusalCounts,
  REFUSALS,
  type Refusal,
  refusalHeaders,
  sendRefusal,
} from "./refusals.js";
import { MAX_CLOSE_REASON, truncateUtf8, WebSocketOutput } from "./websocket-output.js";

const debug = createDebug("onair:flv:http");

export interface HttpFlvServerStats {
  /** Open connections (HTTP and WebSocket, playing or not), those being refused left out. */
  connections: number;
  /** HTTP-FLV and WS-FLV players receiving a stream now. */
  players: number;
  refused: HttpFlvRefusalCounts;
}

export interface HttpFlvServerOptions extends FlvHandlerOptions {
  handler: FlvHub;
  host?: string;
  /** Default 7001. */
  port?: number;
  /** Close a request whose headers are not complete in this time (408), in ms. Default 10 000. */
  headersTimeoutMs?: number;
  /** Close a keep-alive connection idle this long between requests, in ms. Default 5000. */
  keepAliveTimeoutMs?: number;
  /**
   * Open connections at once, HTTP and WebSocket, players or not. One more is refused with 503
   * (WebSocket: close 1013). Default 5000; Infinity turns the limit off.
   */
  maxConnections?: number;
  /**
   * Open connections at once from one IP address, so one host cannot take every slot. One more is
   * refused with 429 (WebSocket: close 4429). Default 256, as for RTMP: room for viewers behind one
   * NAT or an edge pulling many streams. Addresses in `perIpExemptAddresses` are not limited;
   * Infinity turns the limit off.
   */
  maxConnectionsPerIp?: number;
  /**
   * Peer addresses `maxConnectionsPerIp` does not apply to. Default `LOOPBACK_ADDRESSES` from
   * @onair/core ("127.0.0.1", "::1", "::ffff:127.0.0.1"), as for RTMP: a local reverse proxy or TLS
   * terminator makes every client look like this machine. `[]` limits every address.
   */
  perIpExemptAddresses?: readonly string[];
  /** Bytes of request line and headers (Node's `maxHeaderSize`); past it, 431. Default 16 384. */
  maxHeaderSize?: number;
  /** Characters of the request target (path and query); past it, 414. Default 4096. */
  maxUrlLength?: number;
  /**
   * Connections over a connection limit that are let in, at most this many at once, until their
   * request arrives, so the refusal takes their protocol's form (JSON, or a WebSocket close code a
   * browser can read). Past this many, a refused connection gets a one-line HTTP response at once.
   * Default 64.
   */
  refusalBacklog?: number;
}

/** How long a connection that was answered and ended may stay before it is destroyed, in ms. */
const REFUSED_LINGER_MS = 2000;

/** HTTP-FLV and WebSocket-FLV on one port, with connection limits and refusal counts. */
export class HttpFlvServer {
  readonly server: Server;
  readonly #wss: WebSocketServer;
  readonly #options: HttpFlvServerOptions;
  readonly #cors: string | false;
  readonly #limiter: ConnectionLimiter;
  readonly #maxUrlLength: number;
  readonly #refusalBacklog: number;
  readonly #handle: (req: IncomingMessage, res: ServerResponse) => void;
  /** Every socket accepted, refused or not, so close() can end them all. */
  readonly #sockets = new Set<Socket>();
  readonly #webSockets = new Set<WebSocket>();
  /** Connections over a limit, let in until their request shows which form of refusal to give. */
  readonly #pendingRefusals = new WeakMap<Duplex, Refusal>();
  /** Connections already answered and ended: whatever else they send is ignored. */
  readonly #answered = new WeakSet<Duplex>();
  #refusing = 0;
  #players = 0;
  readonly #refused: HttpFlvRefusalCounts = {
    maxConnections: 0,
    perIp: 0,
    urlTooLong: 0,
    headersTooLarge: 0,
    headersTimeout: 0,
    badRequest: 0,
    unauthorized: 0,
    authorizeTimeout: 0,
  };
  #closing: Promise<void> | undefined;

  constructor(options: HttpFlvServerOptions) {
    this.#options = options;
    this.#cors = options.cors ?? "*";
    this.#limiter = new ConnectionLimiter({
      maxConnections: options.maxConnections ?? 5000,
      maxConnectionsPerIp: options.maxConnectionsPerIp ?? 256,
      ...(options.perIpExemptAddresses === undefined
        ? {}
        : { perIpExemptAddresses: options.perIpExemptAddresses }),
    });
    this.#maxUrlLength = options.maxUrlLength ?? 4096;
    this.#refusalBacklog = options.refusalBacklog ?? 64;
    this.#handle = createRequestHandler(options.handler, options, {
      onRefused: (refusal) => {
        this.#refused[refusal.counter] += 1;
      },
      onPlayer: (writer) => this.#countPlayer(writer),
    });
    const headersTimeout = options.headersTimeoutMs ?? 10_000;
    // Node reads these at creation and checks them every connectionsCheckingInterval (30 s by default).
    this.server = createServer(
      {
        headersTimeout,
        requestTimeout: headersTimeout + 5_000,
        connectionsCheckingInterval: Math.min(1000, headersTimeout),
        maxHeaderSize: options.maxHeaderSize ?? 16 * 1024,
      },
      (req, res) => this.#request(req, res),
    );
    this.server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 5000;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
    this.server.on("connection", (socket: Socket) => this.#connection(socket));
    this.server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) =>
      this.#clientError(error, socket),
    );
    this.server.on("upgrade", (req, socket, head) => this.#upgrade(req, socket, head));
  }

  address(): AddressInfo | undefined {
    const address = this.server.address();
    return typeof address === "object" && address !== null ? address : undefined;
  }

  /** Open connections and players now, and refusals since start by cause. */
  stats(): HttpFlvServerStats {
    return { connections: this.#limiter.count, players: this.#players, refused: { ...this.#refused } };
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
      for (const ws of this.#webSockets) ws.terminate();
      this.#wss.close();
      this.server.close(() => resolve());
      // Upgraded sockets and those waiting for authorize are no longer the HTTP server's to close.
      this.server.closeAllConnections();
      for (const socket of this.#sockets) socket.destroy();
    });
    return this.#closing;
  }

  #countPlayer(writer: FlvWriter): void {
    this.#players += 1;
    writer.onClose(() => {
      this.#players -= 1;
    });
  }

  #connection(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
    const ip = socket.remoteAddress ?? "?";
    const limit = this.#limiter.admit(ip);
    if (limit === undefined) {
      socket.once("close", () => this.#limiter.release(ip));
      return;
    }
    const refusal = REFUSALS[limit];
    this.#refused[refusal.counter] += 1;
    debug("refusing a connection from %s: %s", ip, refusal.error);
    if (this.#refusing < this.#refusalBacklog) {
      this.#refusing += 1;
      this.#pendingRefusals.set(socket, refusal);
      socket.once("close", () => {
        this.#refusing -= 1;
      });
      return;
    }
    this.#refuseRaw(socket, refusal, refusal.reason);
  }

  /** Answer a refusal with one raw HTTP response and end the connection. */
  #refuseRaw(socket: Duplex, refusal: Refusal, reason: string): void {
    const body = { error: refusal.error, code: refusal.code, reason };
    this.#answerRaw(socket, refusal.status, body, refusalHeaders(refusal));
  }

  /** Answer with one raw HTTP response and end the connection, giving the peer time to read it. */
  #answerRaw(socket: Duplex, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
    this.#answered.add(socket);
    // An upgraded socket has no "error" listener left (the HTTP server dropped its own): a peer that
    // resets while this answer is written must cost only its connection, never the process.
    socket.on("error", (error: NodeJS.ErrnoException) => {
      debug("answered %s: %s", peerAddress(socket), error.code ?? error.message);
      socket.destroy();
    });
    if (socket.writable)
      socket.end(rawJsonResponse(status, body, { ...corsHeaders(this.#cors), ...headers }));
    const timer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    if (this.#answered.has(socket)) return;
    const head = req.method === "HEAD";
    const pending = this.#pendingRefusals.get(socket);
    if (pending !== undefined) {
      res.shouldKeepAlive = false;
      sendRefusal(res, pending, pending.reason, this.#cors, head);
      return;
    }
    if ((req.url ?? "/").length > this.#maxUrlLength) {
      this.#refused.urlTooLong += 1;
      res.shouldKeepAlive = false;
      sendRefusal(res, REFUSALS.urlTooLong, REFUSALS.urlTooLong.reason, this.#cors, head);
      return;
    }
    this.#handle(req, res);
  }

  #clientError(error: NodeJS.ErrnoException, socket: Duplex): void {
    if (error.code === "ECONNRESET" || !socket.writable || this.#answered.has(socket)) {
      socket.destroy();
      return;
    }
    // A connection let in only to be refused keeps its refusal, whatever went wrong after.
    let refusal: Refusal | undefined = this.#pendingRefusals.get(socket);
    if (refusal === undefined) {
      refusal =
        error.code === "HPE_HEADER_OVERFLOW"
          ? REFUSALS.headersTooLarge
          : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
            ? REFUSALS.headersTimeout
            : REFUSALS.badRequest;
      this.#refused[refusal.counter] += 1;
    }
    debug("client error from %s: %s", peerAddress(socket), error.code ?? error.message);
    this.#refuseRaw(socket, refusal, refusal.reason);
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#answered.has(socket)) return;
    const pending = this.#pendingRefusals.get(socket);
    if (pending !== undefined) {
      this.#refuseWebSocket(req, socket, head, pending, pending.reason);
      return;
    }
    const url = req.url ?? "/";
    if (url.length > this.#maxUrlLength) {
      this.#refused.urlTooLong += 1;
      this.#refuseRaw(socket, REFUSALS.urlTooLong, REFUSALS.urlTooLong.reason);
      return;
    }
    const target = parseFlvPath(url);
    if (target === undefined || this.#closing !== undefined) {
      this.#answerRaw(socket, 404, { error: "not found" });
      return;
    }
    // The HTTP server stopped watching this socket when it emitted "upgrade": until ws takes it,
    // a reset must not become an unhandled "error".
    const ignoreError = (): void => {};
    socket.on("error", ignoreError);
    const remoteAddress = peerAddress(socket);
    // A client that leaves while the hook thinks must not reach the hub: read to see its FIN (a
    // client sends nothing before the 101, so no frame is lost) and let it go at once.
    const leave = (): void => {
      socket.destroy();
    };
    socket.once("end", leave);
    socket.resume();
    const verdict =
      this.#options.authorize === undefined
        ? Promise.resolve(ALLOWED)
        : authorizePlayer(this.#options, "ws-flv", target, remoteAddress);
    verdict.then(
      (verdict) => {
        socket.off("error", ignoreError);
        // Left flowing: ws adds its "data" listener, and an explicit pause() would keep it from reading.
        socket.off("end", leave);
        if (socket.destroyed || this.#closing !== undefined) {
          debug("%s left before %s/%s was authorized", remoteAddress, target.app, target.name);
          socket.destroy();
          return;
        }
        if (!verdict.ok) {
          debug("%s refused %s/%s: %s", remoteAddress, target.app, target.name, verdict.reason);
          this.#refused[verdict.refusal.counter] += 1;
          this.#refuseWebSocket(req, socket, head, verdict.refusal, verdict.reason);
          return;
        }
        this.#play(req, socket, head, target, remoteAddress);
      },
      (error: unknown) => {
        debug("WS-FLV %s/%s for %s failed: %O", target.app, target.name, remoteAddress, error);
        socket.destroy();
      },
    );
  }

  #play(req: IncomingMessage, socket: Duplex, head: Buffer, target: FlvTarget, remoteAddress: string): void {
    const hub = this.#options.handler;
    const key = `${target.app}/${target.name}`;
    if (!hub.isLive(key) && this.#options.waitForPublisher !== true) {
      this.#answerRaw(socket, 404, { error: "stream not live", stream: key });
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      this.#webSockets.add(ws);
      const writer = new FlvWriter(
        streamInfo(target, "ws", req.headers.host ?? "localhost", remoteAddress),
        new WebSocketOutput(ws),
        (error) => {
          const code = errorCode(error);
          if (error === undefined || code === StreamErrorCode.notFound) ws.close(1000);
          else if (code === StreamErrorCode.playerLimit)
            ws.close(FlvCloseCode.tryAgainLater, truncateUtf8(error.message, MAX_CLOSE_REASON));
          else if (code === StreamErrorCode.closed) ws.close(1001, "the server is closing");
          // A slow player cannot take a close frame either: cut it off.
          else ws.terminate();
        },
      );
      ws.on("close", () => {
        this.#webSockets.delete(ws);
        writer.close();
      });
      ws.on("error", () => ws.terminate());
      this.#countPlayer(writer);
      hub.handleWriter(writer);
    });
  }

  /** Accept the upgrade only to close it with a code and reason a browser can read. */
  #refuseWebSocket(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    refusal: Refusal,
    reason: string,
  ): void {
    const closeCode = refusal.closeCode;
    if (closeCode === undefined) {
      this.#refuseRaw(socket, refusal, reason);
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      this.#webSockets.add(ws);
      ws.on("close", () => this.#webSockets.delete(ws));
      ws.on("error", () => ws.terminate());
      ws.close(closeCode, truncateUtf8(reason, MAX_CLOSE_REASON));
    });
  }
}

/** Create the HTTP-FLV + WebSocket-FLV server; call `listen()` to start it. */
export function createHttpFlvServer(options: HttpFlvServerOptions): HttpFlvServer {
  return new HttpFlvServer(options);
}
