import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { type Authorize, type ByteOutput, type Handler, StreamErrorCode, type StreamHub } from "@onair/core";
import createDebug from "debug";
import { FlvWriter } from "../stream/flv-writer.js";
import { authorizePlayer } from "./authorize-player.js";
import { type FlvTarget, parseFlvPath, peerAddress, streamInfo } from "./flv-path.js";
import { corsHeaders, errorCode, liveFlvHeaders, sendJson } from "./json-response.js";
import { listStreams } from "./list-streams.js";
import { type Refusal, sendHubRefusal, sendRefusal } from "./refusals.js";

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

/** What the ready server learns from the handler it wraps. */
export interface HandlerHooks {
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

export function createRequestHandler(
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
    if (socket === null) {
      // Pipelined behind another request on this connection: the response gets the socket when
      // the one before it has finished (and the stream may have ended by then: ask again).
      res.once("socket", () => play(req, res, target, remoteAddress));
      return;
    }
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
      sendJson(res, 405, { error: "method not allowed" }, cors, false, { Allow: "GET, HEAD, OPTIONS" });
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
