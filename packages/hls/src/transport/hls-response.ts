import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { HlsRefusalCode } from "../errors.js";

/** A request from node:http, or from node:http2's compatibility API (HTTP/2, or HTTP/1.1 with `allowHTTP1`). */
export type HlsRequest = IncomingMessage | Http2ServerRequest;
/** The response that goes with an {@link HlsRequest}. */
export type HlsResponse = ServerResponse | Http2ServerResponse;

/** What the handler uses of a response: the part node:http's and node:http2's have in common. */
export interface Reply {
  /** `headers` as an object, or as a flat `[name, value, name, value...]` list (both servers take both). */
  writeHead(status: number, headers: OutgoingHttpHeaders | string[]): unknown;
  end(body?: Buffer | string): unknown;
  readonly writableEnded: boolean;
  once(event: "close", listener: () => void): unknown;
}

/** True once the client is gone (connection or HTTP/2 stream closed) or the response was sent. */
export function isGone(res: HlsResponse): boolean {
  if (res.writableEnded) return true;
  if ("stream" in res) return res.stream.destroyed || res.stream.closed;
  return res.destroyed || res.socket?.destroyed === true;
}

export const PLAYLIST_CONTENT_TYPE = "application/vnd.apple.mpegurl";
/** Segments, parts and init sections are named once and never change: caches may keep them. */
export const IMMUTABLE = "public, max-age=31536000, immutable";

export function corsHeaders(cors: string | false): Record<string, string> {
  if (cors === false) return {};
  return {
    "Access-Control-Allow-Origin": cors,
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Range, Content-Type, Authorization",
    "Access-Control-Expose-Headers": "Content-Length, Content-Type",
  };
}

/**
 * The headers of a 200 with a body of `contentType`, as the flat list `writeHead` takes, made once
 * per handler and content type; its last value is Content-Length's, set by {@link sendBytes}.
 */
export function bodyHeaderList(cors: string | false, contentType: string, cacheControl: string): string[] {
  const list: string[] = [];
  for (const [name, value] of Object.entries(corsHeaders(cors))) list.push(name, value);
  list.push("Content-Type", contentType, "Cache-Control", cacheControl, "Content-Length", "0");
  return list;
}

/**
 * {@link sendBody} with headers from {@link bodyHeaderList}: no header object per response.
 * `writeHead` reads the list before it returns (node:http builds the head text, node:http2 copies
 * the values), so one list serves every response of its kind; only its Content-Length changes.
 */
export function sendBytes(res: Reply, body: Buffer, headers: string[], head: boolean): void {
  headers[headers.length - 1] = String(body.length);
  res.writeHead(200, headers);
  res.end(head ? undefined : body);
}

export function sendBody(
  res: Reply,
  status: number,
  body: Buffer,
  headers: OutgoingHttpHeaders,
  head: boolean,
): void {
  res.writeHead(status, { ...headers, "Content-Length": body.length });
  res.end(head ? undefined : body);
}

export function sendJson(
  res: Reply,
  status: number,
  body: unknown,
  cors: string | false,
  head: boolean,
  extraHeaders: OutgoingHttpHeaders = {},
): void {
  const headers = {
    ...corsHeaders(cors),
    ...extraHeaders,
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-cache",
  };
  sendBody(res, status, Buffer.from(JSON.stringify(body)), headers, head);
}

/** A refusal the HLS layer answers with `{ error, code, reason }`. */
export interface HlsRefusal {
  status: number;
  error: string;
  code: HlsRefusalCode;
  reason: string;
}

export const HLS_REFUSALS = {
  unauthorized: {
    status: 401,
    error: "unauthorized",
    code: HlsRefusalCode.unauthorized,
    reason: "play not authorized",
  },
  forbidden: {
    status: 403,
    error: "forbidden",
    code: HlsRefusalCode.forbidden,
    reason: "play not authorized",
  },
  authorizeTimeout: {
    status: 503,
    error: "authorization timed out",
    code: HlsRefusalCode.authorizeTimeout,
    reason: "authorization timed out; try again later",
  },
  badPath: {
    status: 400,
    error: "bad request",
    code: HlsRefusalCode.badPath,
    reason:
      "the app, stream name or file in the path is empty, '.', '..', or holds a separator or control character",
  },
  badDirective: {
    status: 400,
    error: "bad request",
    code: HlsRefusalCode.badDirective,
    reason: "_HLS_msn and _HLS_part must be decimal numbers, and _HLS_part needs _HLS_msn",
  },
  tooFarAhead: {
    status: 400,
    error: "bad request",
    code: HlsRefusalCode.tooFarAhead,
    reason: "the requested segment or part is too far ahead of the live edge",
  },
  blockingTimeout: {
    status: 503,
    error: "not available yet",
    code: HlsRefusalCode.blockingTimeout,
    reason: "the requested segment or part did not appear in time",
  },
  tooManyHeld: {
    status: 503,
    error: "too many held requests",
    code: HlsRefusalCode.tooManyHeld,
    reason: "the server holds as many blocking requests as it allows; try again later",
  },
  closing: { status: 503, error: "closing", code: HlsRefusalCode.closing, reason: "the server is closing" },
  maxConnections: {
    status: 503,
    error: "too many connections",
    code: HlsRefusalCode.tooManyConnections,
    reason: "the server is at its connection limit; try again later",
  },
  perIp: {
    status: 429,
    error: "too many connections from this address",
    code: HlsRefusalCode.tooManyConnectionsFromIp,
    reason: "too many connections from your address; close one and try again",
  },
  urlTooLong: {
    status: 414,
    error: "url too long",
    code: HlsRefusalCode.urlTooLong,
    reason: "the request target is longer than the server allows",
  },
} as const satisfies Record<string, HlsRefusal>;

export function sendRefusal(
  res: Reply,
  refusal: HlsRefusal,
  reason: string,
  cors: string | false,
  head: boolean,
  extraHeaders: OutgoingHttpHeaders = {},
): void {
  const headers: OutgoingHttpHeaders = { ...extraHeaders };
  // RFC 9110: a 401 says how to authenticate; a token in the query is a bearer token.
  if (refusal.status === 401) headers["WWW-Authenticate"] = 'Bearer realm="onair"';
  else if (refusal.status === 503 || refusal.status === 429) headers["Retry-After"] = "1";
  sendJson(res, refusal.status, { error: refusal.error, code: refusal.code, reason }, cors, head, headers);
}
