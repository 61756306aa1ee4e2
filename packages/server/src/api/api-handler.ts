import type { IncomingMessage, ServerResponse } from "node:http";
import type { StreamHub } from "@onair/core";
import { type KeyStore, KeyStoreError, KeyStoreErrorCode, roomProblem } from "../keys/key-store.js";
import { ApiError, ApiErrorCode } from "./api-error.js";
import { browserRequestProblem, isLoopbackAddress } from "./browser-guard.js";
import { type ApiJwtOptions, createJwtGuard } from "./jwt-guard.js";
import { type LiveStat, type LiveStatEntry, liveStat } from "./live-stat.js";

/** APP/NAME and a remote URL: what `/control/push` and `/control/pull` hand to the relays. */
export interface RelayTargetParams {
  app: string;
  name: string;
  url: string;
}

/**
 * What the API needs of the relays (`RelayRegistry` of @onair/relay fits): start a push of
 * APP/NAME to a URL or a pull of a URL into APP/NAME, and stop them. Starting throws for bad input
 * (an error with `code` "ERR_RELAY_BAD_URL", "ERR_RELAY_BAD_OPTION", "ERR_RELAY_EXISTS", ...).
 */
export interface RelayControl {
  startPush(target: RelayTargetParams): unknown;
  /** How many were stopped. */
  stopPush(selector: { app: string; name: string; url?: string }): number;
  startPull(target: RelayTargetParams): unknown;
  stopPull(selector: { app: string; name: string; url?: string }): number;
}

export interface ApiHandlerOptions {
  hub: StreamHub;
  /** The channel keys `/control/get|reset|delete` manage. */
  keys: KeyStore;
  /** Relays `/control/push` and `/control/pull` start and stop; without it they answer 501. */
  relays?: RelayControl;
  /** With a secret, every call needs a valid token (`Authorization: Bearer` or `?jwt=`), else 403. */
  jwt?: ApiJwtOptions;
  /** Serves `GET /metrics` (Prometheus text) when given. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
  /** More publishers and players for `/stat/livestat` than the hub's readers and writers (HLS viewers). */
  stats?: (room: string | undefined) => Partial<LiveStat>;
  /** Told of unexpected failures (answered 500 without details). */
  onError?: (error: unknown) => void;
  /**
   * Extra routes behind the same JWT check (the dashboard: `/`, `/dashboard/…`, `/stat/events`):
   * asked first, after the check; true when it answered.
   */
  dashboard?: {
    handle(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): boolean;
  };
}

/** A Node `http` request listener. */
export type ApiHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Form bodies (POST application/x-www-form-urlencoded, as livego's ParseForm reads) up to this size. */
const MAX_FORM_BYTES = 16 * 1024;

const ALLOW = "GET, HEAD, POST";

/** An answer: livego's `{ "status": N, "data": ... }`, with N as the HTTP status. */
interface Answer {
  status: number;
  data: unknown;
}

const answer = (status: number, data: unknown): Answer => ({ status, data });

function send(
  res: ServerResponse,
  head: boolean,
  { status, data }: Answer,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify({ status, data });
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
    // Keys are secrets: no cache keeps them.
    "Cache-Control": "no-store",
    ...headers,
  });
  res.end(head ? undefined : body);
}

/** The request's query merged with a urlencoded form body, as Go's `Request.ParseForm`. */
async function readParams(req: IncomingMessage, query: URLSearchParams): Promise<URLSearchParams | Answer> {
  if (req.method !== "POST") return query;
  const type = (req.headers["content-type"] ?? "").split(";", 1)[0].trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    req.resume();
    return query;
  }
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_FORM_BYTES) return answer(413, `form body over ${MAX_FORM_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return answer(413, `form body over ${MAX_FORM_BYTES} bytes`);
    chunks.push(chunk);
  }
  const params = new URLSearchParams(query);
  for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString("utf8"))) params.append(k, v);
  return params;
}

/** A required parameter, or the 400 livego gives without it (its usage line). */
function roomParam(params: URLSearchParams, path: string): string | Answer {
  const room = params.get("room") ?? "";
  if (room === "") return answer(400, `url: ${path}?room=<ROOM_NAME>`);
  const problem = roomProblem(room);
  return problem === undefined ? room : answer(400, problem);
}

/**
 * The control API, livego-compatible in paths, parameters and JSON bodies
 * (`{ "status": N, "data": ... }`, N also the HTTP status):
 *
 * - `/control/get?room=ROOM` → the room's channel key (made on the first ask)
 * - `/control/reset?room=ROOM` → a new key; the old one is refused from now on
 * - `/control/delete?room=ROOM` → "Ok", or 404 "room not found"; a live ROOM is ended
 * - `/control/push?oper=start|stop&app=APP&name=NAME&url=URL` → push APP/NAME to URL
 * - `/control/pull?oper=start|stop&app=APP&name=NAME&url=URL` → pull URL into APP/NAME
 * - `/stat/livestat[?room=ROOM]` → `{ publishers: [...], players: [...] }` with byte counters
 * - `/metrics` when `metrics` is given
 *
 * Bad parameters get 400 and a message, unknown paths 404, other methods 405; a failure never
 * shows a stack trace. Mount it on a Node `http` server (bound to loopback: it hands out keys).
 */
export function createApiHandler(options: ApiHandlerOptions): ApiHandler {
  const { hub, keys, relays } = options;
  const guard = options.jwt === undefined ? undefined : createJwtGuard(options.jwt);

  const routes: Record<string, (params: URLSearchParams) => Promise<Answer>> = {
    "/control/get": async (params) => {
      const room = roomParam(params, "/control/get");
      return typeof room === "string" ? answer(200, await keys.get(room)) : room;
    },
    "/control/reset": async (params) => {
      const room = roomParam(params, "/control/reset");
      return typeof room === "string" ? answer(200, await keys.reset(room)) : room;
    },
    "/control/delete": async (params) => {
      const room = roomParam(params, "/control/delete");
      if (typeof room !== "string") return room;
      const existed = await keys.delete(room);
      const ended = endChannel(hub, room);
      return existed || ended > 0 ? answer(200, "Ok") : answer(404, "room not found");
    },
    "/control/push": async (params) => relayCommand("push", params),
    "/control/pull": async (params) => relayCommand("pull", params),
    "/stat/livestat": async (params) => {
      const room = params.get("room") ?? undefined;
      if (room !== undefined) {
        const problem = roomProblem(room);
        if (problem !== undefined) return answer(400, problem);
      }
      const stat = liveStat(hub, room);
      const extra = options.stats?.(room);
      const merge = (own: LiveStatEntry[], more: LiveStatEntry[] | undefined) =>
        more ? [...own, ...more] : own;
      return answer(200, {
        publishers: merge(stat.publishers, extra?.publishers),
        players: merge(stat.players, extra?.players),
      });
    },
  };

  async function relayCommand(kind: "push" | "pull", params: URLSearchParams): Promise<Answer> {
    const oper = params.get("oper") ?? "";
    const app = params.get("app") ?? "";
    const name = params.get("name") ?? "";
    const url = params.get("url") ?? "";
    const usage = `url: /control/${kind}?oper=start|stop&app=live&name=123456&url=rtmp://host/live/123456`;
    if (oper !== "start" && oper !== "stop") return answer(400, `oper must be start or stop; ${usage}`);
    if (app === "" || name === "" || (oper === "start" && url === "")) {
      return answer(400, `control ${kind} parameter error, please check them. ${usage}`);
    }
    for (const [what, value] of [
      ["app", app],
      ["name", name],
    ]) {
      const problem = roomProblem(value);
      if (problem !== undefined) return answer(400, `${what}: ${problem.replace(/^room /, "")}`);
    }
    if (relays === undefined) return answer(501, "relays are not available on this server");
    if (oper === "stop") {
      const selector = url === "" ? { app, name } : { app, name, url };
      const stopped = kind === "push" ? relays.stopPush(selector) : relays.stopPull(selector);
      if (stopped === 0)
        return answer(404, `session key[${kind}:${app}/${name}] not exist, please check it again.`);
      return answer(200, `${kind} url stop ${url === "" ? `${app}/${name}` : url} ok`);
    }
    try {
      if (kind === "push") relays.startPush({ app, name, url });
      else relays.startPull({ app, name, url });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === "string" && code.startsWith("ERR_RELAY_")) {
        const status = code === "ERR_RELAY_EXISTS" ? 409 : code === "ERR_RELAY_CLOSED" ? 503 : 400;
        return answer(status, `${kind} error: ${(error as Error).message}`);
      }
      throw error;
    }
    return answer(200, `${kind} url start ${url} ok`);
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const head = req.method === "HEAD";
    const raw = req.url ?? "/";
    const mark = raw.indexOf("?");
    const path = mark === -1 ? raw : raw.slice(0, mark);
    const query = new URLSearchParams(mark === -1 ? "" : raw.slice(mark + 1));
    if (req.method !== "GET" && req.method !== "HEAD" && req.method !== "POST") {
      send(res, head, answer(405, `method ${req.method} not allowed`), { Allow: ALLOW });
      return;
    }
    // Other sites' pages in the operator's browser (CSRF, DNS rebinding): see browser-guard.ts.
    const refused = browserRequestProblem(
      req,
      path,
      guard === undefined && isLoopbackAddress(req.socket.localAddress),
    );
    if (refused !== undefined) {
      req.resume();
      send(res, head, answer(403, refused));
      return;
    }
    if (guard !== undefined) {
      const verdict = await guard(req, query);
      if (!verdict.ok) {
        send(res, head, answer(403, verdict.message));
        return;
      }
      if (verdict.expiresAt !== undefined) endAtExpiry(res, verdict.expiresAt);
    }
    if (options.dashboard?.handle(req, res, path, query) === true) return;
    if (path === "/metrics" && options.metrics !== undefined) {
      const { contentType, body } = await options.metrics();
      if (res.headersSent || res.destroyed) return;
      res.writeHead(200, {
        "Content-Type": contentType,
        "Content-Length": Buffer.byteLength(body),
        "Cache-Control": "no-store",
      });
      res.end(head ? undefined : body);
      return;
    }
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (route === undefined) {
      send(res, head, answer(404, `no such API: ${path.length > 100 ? `${path.slice(0, 100)}…` : path}`));
      return;
    }
    const params = await readParams(req, query);
    if (!(params instanceof URLSearchParams)) {
      send(res, head, params, { Connection: "close" });
      return;
    }
    try {
      send(res, head, await route(params));
    } catch (error) {
      if (error instanceof KeyStoreError) {
        const bad = error.code === KeyStoreErrorCode.badRoom;
        if (!bad) options.onError?.(error);
        send(res, head, answer(bad ? 400 : 503, bad ? error.message : "the key store is unavailable"));
        return;
      }
      throw error;
    }
  }

  return (req, res) => {
    serve(req, res).catch((error: unknown) => {
      options.onError?.(error);
      send(res, req.method === "HEAD", answer(500, "internal error"));
    });
  };
}

/**
 * End every live stream named `room` (in any app): its publisher is stopped and its players
 * ended now, without the republish grace. Returns how many streams were live.
 */
function endChannel(hub: StreamHub, room: string): number {
  let ended = 0;
  for (const stream of hub.streams()) {
    const reader = stream.reader;
    if (reader === undefined || reader.info.name !== room) continue;
    ended += 1;
    // Players first: with none left, the hub forgets the stream when its publisher goes.
    stream.closeWriters(undefined);
    reader.close(new ApiError(ApiErrorCode.channelDeleted, `channel ${room} was deleted`));
  }
  return ended;
}

/**
 * A response still open when its token expires (the dashboard's stats stream) is cut then, so an
 * expired token stops seeing the server; the page's reconnect then gets the 403.
 */
function endAtExpiry(res: ServerResponse, expiresAt: number): void {
  const delay = expiresAt - Date.now();
  if (delay > 2 ** 31 - 1) return; // beyond what a timer holds (24.8 days); checked again on reconnect
  const timer = setTimeout(() => res.destroy(), Math.max(0, delay));
  timer.unref();
  res.once("close", () => clearTimeout(timer));
}
