import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { StreamErrorCode } from "@onair/core";
import { FlvRefusalCode } from "../errors.js";
import { errorCode, sendJson } from "./json-response.js";

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

export interface Refusal {
  counter: keyof HttpFlvRefusalCounts;
  status: number;
  error: string;
  code: FlvRefusalCode;
  /** The WebSocket close code, when the refusal can wait for the upgrade. */
  closeCode?: number;
  reason: string;
}

export const REFUSALS = {
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

export function refusalHeaders(refusal: Refusal): OutgoingHttpHeaders {
  // RFC 9110: a 401 must say how to authenticate; a token in the query is a bearer token.
  if (refusal.status === 401) return { "WWW-Authenticate": 'Bearer realm="onair"' };
  if (refusal.status === 503 || refusal.status === 429) return { "Retry-After": "5" };
  return {};
}

export function sendRefusal(
  res: ServerResponse,
  refusal: Refusal,
  reason: string,
  cors: string | false,
  head: boolean,
): void {
  const body = { error: refusal.error, code: refusal.code, reason };
  sendJson(res, refusal.status, body, cors, head, refusalHeaders(refusal));
}

/** Answer a player the hub closed before it got a byte. */
export function sendHubRefusal(
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
