import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import {
  type Authorize,
  type ByteOutput,
  type Handler,
  LOOPBACK_ADDRESSES,
  nextStreamId,
  runAuthorize,
  StreamErrorCode,
  type StreamHub,
  type StreamInfo,
} from "@onair/core";
import createDebug from "debug";
import { type WebSocket, WebSocketServer } from "ws";
import { FlvRefusalCode } from "./errors.js";
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
  /**
   * Asked before a player reaches the hub, with `action: "play"` and `protocol: "http-flv"` (or
   * `"ws-flv"` for a WebSocket). A refusal answers HTTP 401/403 with `{ error, code, reason }`, or
   * closes the WebSocket with 4401/4403 and the reason. A hook that throws refuses (403). Default:
   * everyone may play.
   */
  authorize?: Authorize;
  /**
   * How long the authorize hook may take, in ms. Past it the player is refused with 503
   * (WebSocket: close 1013), so a hook that never answers cannot hold requests open. Default 10 000.
   */
  authorizeTimeoutMs?: number;
  /**
   * List the publisher's and players' `remoteAddress` ("ip:port") in `GET /streams`. The list is
   * served to anyone (with CORS `*` by default), so addresses are left out unless this is true.
   * Default false.
   */
  exposeAddresses?: boolean;
}

/** WebSocket close codes of a refused WS-FLV player (a browser cannot read the status of a failed upgrade). */
export const FlvCloseCode = {
  /** The authorize hook refused with status 401. */
  unauthorized: 4401,
  /** The authorize hook refused (status 403, `false`, or it threw). */
  forbidden: 4403,
  /** Too many connections from the client's address (`maxConnectionsPerIp`); mirrors HTTP 429. */
  tooManyConnectionsFromIp: 4429,
  /** RFC 6455 "try again later": `maxConnections` reached, or the authorize hook timed out. */
  tryAgainLater: 1013,
} as const;

/** Refusals the HTTP-FLV server counts, by cause: see {@link HttpFlvServer.stats}. */
export interface HttpFlvRefusalCounts {
  /** Connections refused because `maxConnections` were open. */
  maxConnections: number;
  /** Connections refused because `maxConnectionsPerIp` were open from that address. */
  perIp: number;
  /** Requests whose target was longer than `maxUrlLength`. */
  urlTooLong: number;
  /** Requests whose request line and headers passed `maxHeaderSize`. */
  headersTooLarge: number;
  /** Connections that did not finish their request headers within `headersTimeoutMs`. */
  headersTimeout: number;
  /** Bytes that did not parse as HTTP/1.1. */
  badRequest: number;
  /** Players the authorize hook refused (401 and 403). */
  unauthorized: number;
  /** Players whose authorize hook did not answer within `authorizeTimeoutMs`. */
  authorizeTimeout: number;
}

export interface HttpFlvServerStats {
  /** Open connections (HTTP and WebSocket, playing or not), those being refused left out. */
  connections: number;
  /** HTTP-FLV and WS-FLV players receiving a stream now. */
  players: number;
  refused: HttpFlvRefusalCounts;
}

interface Refusal {
  counter: keyof HttpFlvRefusalCounts;
  status: number;
  error: string;
  code: FlvRefusalCode;
  /** The WebSocket close code, when the refusal can wait for the upgrade. */
  closeCode?: number;
  reason: string;
}

const REFUSALS = {
  unauthorized: {
    counter: "unauthorized",
    status: 401,
    error: "unauthorized",
    code: FlvRefusalCode.unauthorized,
    closeCode: FlvCloseCode.unauthorized,
    reason: "play not authorized",
  },
  forbidden: {
    counter: "unauthorized",
    status: 403,
    error: "forbidden",
    code: FlvRefusalCode.forbidden,
    closeCode: FlvCloseCode.forbidden,
    reason: "play not authorized",
  },
  authorizeTimeout: {
    counter: "authorizeTimeout",
    status: 503,
    error: "authorization timed out",
    code: FlvRefusalCode.authorizeTimeout,
    closeCode: FlvCloseCode.tryAgainLater,
    reason: "authorization timed out; try again later",
  },
  maxConnections: {
    counter: "maxConnections",
    status: 503,
    error: "too many connections",
    code: FlvRefusalCode.tooManyConnections,
    closeCode: FlvCloseCode.tryAgainLater,
    reason: "the server is at its connection limit; try again later",
  },
  perIp: {
    counter: "perIp",
    status: 429,
    error: "too many connections from this address",
    code: FlvRefusalCode.tooManyConnectionsFromIp,
    closeCode: FlvCloseCode.tooManyConnectionsFromIp,
    reason: "too many connections from your address; close one and try again",
  },
  urlTooLong: {
    counter: "urlTooLong",
    status: 414,
    error: "url too long",
    code: FlvRefusalCode.urlTooLong,
    reason: "the request target is longer than the server allows",
  },
  headersTooLarge: {
    counter: "headersTooLarge",
    status: 431,
    error: "headers too large",
    code: FlvRefusalCode.headersTooLarge,
    reason: "the request line and headers are larger than the server allows",
  },
  headersTimeout: {
    counter: "headersTimeout",
    status: 408,
    error: "request timeout",
    code: FlvRefusalCode.headersTimeout,
    reason: "the request headers did not arrive in time",
  },
  badRequest: {
    counter: "badRequest",
    status: 400,
    error: "bad request",
    code: FlvRefusalCode.badRequest,
    reason: "not an HTTP/1.1 request",
  },
} as const satisfies Record<string, Refusal>;

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
  extraHeaders: OutgoingHttpHeaders = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...corsHeaders(cors),
    ...extraHeaders,
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-cache",
  });
  res.end(head ? undefined : text);
}

function refusalHeaders(refusal: Refusal): OutgoingHttpHeaders {
  // RFC 9110: a 401 must say how to authenticate; a token in the query is a bearer token.
  if (refusal.status === 401) return { "WWW-Authenticate": 'Bearer realm="onair"' };
  if (refusal.status === 503 || refusal.status === 429) return { "Retry-After": "5" };
  return {};
}

function sendRefusal(
  res: ServerResponse,
  refusal: Refusal,
  reason: string,
  cors: string | false,
  head: boolean,
): void {
  const body = { error: refusal.error, code: refusal.code, reason };
  sendJson(res, refusal.status, body, cors, head, refusalHeaders(refusal));
}

/** A whole HTTP/1.1 response with a JSON body, for a socket no `ServerResponse` is attached to. */
function rawJsonResponse(status: number, body: unknown, headers: OutgoingHttpHeaders): string {
  const text = JSON.stringify(body);
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nConnection: close\r\n`;
  head += "Content-Type: application/json; charset=utf-8\r\nCache-Control: no-cache\r\n";
  head += `Content-Length: ${Buffer.byteLength(text)}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return `${head}\r\n${text}`;
}

/** A WebSocket close reason must fit 123 bytes of UTF-8. */
const MAX_CLOSE_REASON = 123;

/** `text` cut to at most `maxBytes` of UTF-8, on a character boundary, with "…" when cut. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let end = text.length;
  while (end > 0 && Buffer.byteLength(text.slice(0, end)) > maxBytes - 3) end--;
  // Do not end on the first half of a surrogate pair.
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

function peerAddress(socket: Socket | Duplex): string {
  const { remoteAddress, remotePort } = socket as Socket;
  return `${remoteAddress ?? "?"}:${remotePort ?? 0}`;
}

function streamInfo(
  target: FlvTarget,
  scheme: "http" | "ws",
  host: string,
  remoteAddress: string,
): StreamInfo {
  return {
    key: `${target.app}/${target.name}`,
    app: target.app,
    name: target.name,
    url: `${scheme}://${host}/${target.app}/${target.name}.flv`,
    id: nextStreamId(scheme === "http" ? "http-flv-" : "ws-flv-"),
    query: target.query,
    remoteAddress,
  };
}

function liveFlvHeaders(cors: string | false): OutgoingHttpHeaders {
  return { ...corsHeaders(cors), "Content-Type": "video/x-flv", "Cache-Control": "no-cache" };
}

function errorCode(error: Error | undefined): string | undefined {
  return (error as { code?: string } | undefined)?.code;
}

/**
 * An HTTP-FLV response as a byte output. The status line and headers go out just before the first
 * bytes (the FLV header, written when the player joins a live stream), so a player the hub refuses
 * first (too many players, hub closing, a stream that never started) still gets a JSON status.
 */
class HttpFlvOutput implements ByteOutput {
  #headSent = false;

  constructor(
    readonly res: ServerResponse,
    readonly socket: Socket,
    readonly cors: string | false,
  ) {}

  get headSent(): boolean {
    return this.#headSent;
  }

  write(chunk: Buffer): boolean {
    if (!this.#headSent) this.#sendHead();
    return this.socket.write(chunk);
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  #sendHead(): void {
    this.#headSent = true;
    // A live body has no length: it runs until the connection closes (RFC 9112 6.3). That spares
    // chunk framing, so each batch goes to the socket as one shared Buffer in one write.
    this.res.useChunkedEncodingByDefault = false;
    this.res.shouldKeepAlive = false;
    this.res.writeHead(200, liveFlvHeaders(this.cors));
    this.res.flushHeaders();
  }
}

/** Answer a player the hub closed before it got a byte. */
function sendHubRefusal(
  res: ServerResponse,
  key: string,
  error: Error | undefined,
  cors: string | false,
): void {
  const code = errorCode(error);
  if (error === undefined || code === StreamErrorCode.notFound) {
    sendJson(res, 404, { error: "stream not live", stream: key }, cors);
    return;
  }
  const body = {
    error: code === StreamErrorCode.playerLimit ? "too many players" : "unavailable",
    code,
    reason: error.message,
  };
  sendJson(res, 503, body, cors, false, { "Retry-After": "5" });
}

type PlayerVerdict = { ok: true } | { ok: false; refusal: Refusal; reason: string };
const ALLOWED: PlayerVerdict = { ok: true };

/** Ask the authorize hook about a player, giving up after `authorizeTimeoutMs`. */
async function authorizePlayer(
  options: FlvHandlerOptions,
  protocol: "http-flv" | "ws-flv",
  target: FlvTarget,
  remoteAddress: string,
): Promise<PlayerVerdict> {
  const request = { action: "play" as const, protocol, ...target, remoteAddress };
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(resolve, options.authorizeTimeoutMs ?? 10_000, "timeout");
  });
  try {
    const verdict = await Promise.race([
      runAuthorize(options.authorize, request, (error) =>
        debug("authorize threw for %s %s/%s: %O", remoteAddress, target.app, target.name, error),
      ),
      timedOut,
    ]);
    if (verdict === "timeout")
      return { ok: false, refusal: REFUSALS.authorizeTimeout, reason: REFUSALS.authorizeTimeout.reason };
    if (verdict.ok) return ALLOWED;
    const refusal = verdict.status === 401 ? REFUSALS.unauthorized : REFUSALS.forbidden;
    return { ok: false, refusal, reason: verdict.reason };
  } finally {
    clearTimeout(timer);
  }
}

/** What the ready server learns from the handler it wraps. */
interface HandlerHooks {
  onRefused?(refusal: Refusal): void;
  onPlayer?(writer: FlvWriter): void;
}

/**
 * A plain `(req, res)` handler for HTTP-FLV, to mount in any Node HTTP server (or express,
 * fastify, hono): `GET /APP/NAME.flv` streams the live FLV, `GET /streams` lists live streams.
 * Other paths get a JSON 404. See {@link createHttpFlvServer} for a ready server with limits.
 */
export function flvHandler(
  hub: FlvHub,
  options: FlvHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  return createRequestHandler(hub, options, {});
}

function createRequestHandler(
  hub: FlvHub,
  options: FlvHandlerOptions,
  hooks: HandlerHooks,
): (req: IncomingMessage, res: ServerResponse) => void {
  const cors = options.cors ?? "*";
  const exposeAddresses = options.exposeAddresses === true;

  const play = (
    req: IncomingMessage,
    res: ServerResponse,
    target: FlvTarget,
    remoteAddress: string,
  ): void => {
    const head = req.method === "HEAD";
    const key = `${target.app}/${target.name}`;
    if (!hub.isLive(key) && options.waitForPublisher !== true) {
      sendJson(res, 404, { error: "stream not live", stream: key }, cors, head);
      return;
    }
    if (head) {
      res.writeHead(200, liveFlvHeaders(cors));
      res.end();
      return;
    }
    const socket = res.socket;
    if (socket === null) return;
    const output = new HttpFlvOutput(res, socket, cors);
    const writer = new FlvWriter(
      streamInfo(target, "http", req.headers.host ?? "localhost", remoteAddress),
      output,
      (error) => {
        if (error !== undefined) debug("%s ended: %s", writer.info.id, error.message);
        if (!output.headSent) {
          // Refused by the hub before a byte went out: there is still a status to give.
          if (!res.destroyed) sendHubRefusal(res, key, error, cors);
          return;
        }
        // A player closed by the hub (slow, hub closing) is cut off; a normal end finishes the response.
        if (error !== undefined && errorCode(error) !== StreamErrorCode.notFound) res.destroy();
        else res.end();
      },
    );
    res.once("close", () => writer.close());
    hooks.onPlayer?.(writer);
    hub.handleWriter(writer);
  };

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
      sendJson(res, 200, { streams: listStreams(hub, { exposeAddresses }) }, cors, head);
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
    const remoteAddress = peerAddress(req.socket);
    if (options.authorize === undefined) {
      play(req, res, target, remoteAddress);
      return;
    }
    authorizePlayer(options, "http-flv", target, remoteAddress).then(
      (verdict) => {
        // The client may have left, or the server closed, while the hook was thinking.
        if (req.socket.destroyed || res.destroyed || res.writableEnded) {
          debug("%s left before %s/%s was authorized", remoteAddress, target.app, target.name);
          return;
        }
        if (verdict.ok) {
          play(req, res, target, remoteAddress);
          return;
        }
        debug("%s refused %s/%s: %s", remoteAddress, target.app, target.name, verdict.reason);
        hooks.onRefused?.(verdict.refusal);
        sendRefusal(res, verdict.refusal, verdict.reason, cors, head);
      },
      (error: unknown) => {
        debug("playing %s/%s for %s failed: %O", target.app, target.name, remoteAddress, error);
        res.destroy();
      },
    );
  };
}

/** A live stream as `GET /streams` lists it. */
export interface ListedStream {
  key: string;
  publisher: { id: string; url: string; remoteAddress?: string } | undefined;
  startedAt: string | undefined;
  packets: number;
  bytes: number;
  players: { id: string; url: string; remoteAddress?: string }[];
}

export interface ListStreamsOptions {
  /** Include each peer's `remoteAddress`. Default false: the list is often public. */
  exposeAddresses?: boolean;
}

/** Live streams and their players, as `GET /streams` shows them. */
export function listStreams(
  hub: Pick<StreamHub, "streams">,
  options: ListStreamsOptions = {},
): ListedStream[] {
  const peer = (info: StreamInfo): { id: string; url: string; remoteAddress?: string } =>
    options.exposeAddresses === true
      ? { id: info.id, url: info.url, remoteAddress: info.remoteAddress }
      : { id: info.id, url: info.url };
  return hub
    .streams()
    .filter((stream) => stream.live)
    .map((stream) => {
      const stats = stream.stats();
      return {
        key: stats.key,
        publisher: stats.publisher && peer(stats.publisher),
        startedAt: stats.startedAt === undefined ? undefined : new Date(stats.startedAt).toISOString(),
        packets: stats.packets,
        bytes: stats.bytes,
        players: stats.players.map(peer),
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
  readonly #maxConnections: number;
  readonly #maxConnectionsPerIp: number;
  readonly #perIpExempt: ReadonlySet<string>;
  readonly #maxUrlLength: number;
  readonly #refusalBacklog: number;
  readonly #handle: (req: IncomingMessage, res: ServerResponse) => void;
  /** Every socket accepted, refused or not, so close() can end them all. */
  readonly #sockets = new Set<Socket>();
  readonly #webSockets = new Set<WebSocket>();
  readonly #connectionsPerIp = new Map<string, number>();
  /** Connections over a limit, let in until their request shows which form of refusal to give. */
  readonly #pendingRefusals = new WeakMap<Duplex, Refusal>();
  /** Connections already answered and ended: whatever else they send is ignored. */
  readonly #answered = new WeakSet<Duplex>();
  #connections = 0;
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
    this.#maxConnections = options.maxConnections ?? 5000;
    this.#maxConnectionsPerIp = options.maxConnectionsPerIp ?? 256;
    this.#perIpExempt = new Set(options.perIpExemptAddresses ?? LOOPBACK_ADDRESSES);
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
    return { connections: this.#connections, players: this.#players, refused: { ...this.#refused } };
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
    const fromIp = this.#connectionsPerIp.get(ip) ?? 0;
    const refusal =
      this.#connections >= this.#maxConnections
        ? REFUSALS.maxConnections
        : fromIp >= this.#maxConnectionsPerIp && !this.#perIpExempt.has(ip)
          ? REFUSALS.perIp
          : undefined;
    if (refusal === undefined) {
      this.#connections += 1;
      this.#connectionsPerIp.set(ip, fromIp + 1);
      socket.once("close", () => {
        this.#connections -= 1;
        const left = (this.#connectionsPerIp.get(ip) ?? 1) - 1;
        if (left === 0) this.#connectionsPerIp.delete(ip);
        else this.#connectionsPerIp.set(ip, left);
      });
      return;
    }
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
