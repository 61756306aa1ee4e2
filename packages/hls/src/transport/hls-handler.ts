import { type Authorize, runAuthorize } from "@onair/core";
import createDebug from "debug";
import type { HlsPlaylistSource, HlsSourceDirectory } from "../hls-source.js";
import { type HeldRequest, HeldRequestRegistry } from "./blocking-reload.js";
import { BAD_HLS_PATH, type HlsUrl, parseHlsUrl, queryValue, uriQueryOf } from "./hls-path.js";
import {
  bodyHeaderList,
  corsHeaders,
  HLS_REFUSALS,
  type HlsRefusal,
  type HlsRequest,
  type HlsResponse,
  IMMUTABLE,
  isGone,
  PLAYLIST_CONTENT_TYPE,
  type Reply,
  sendBytes,
  sendJson,
  sendRefusal,
} from "./hls-response.js";

const debug = createDebug("onair:hls:http");

export interface HlsHandlerOptions {
  /**
   * Asked before every playlist and every segment, part or init section is served, with
   * `action: "play"`, `protocol: "hls"` and the request's query. A refusal answers 401/403 with
   * `{ error, code, reason }`; a hook that throws refuses (403). When set, the playlist's query
   * (less `_HLS_*` directives) is appended to every URI in the playlist, so a token given to the
   * playlist reaches the segments. The hook runs for every request (a viewer fetches a few parts a
   * second in low-latency mode): keep it cheap, e.g. verify a signed token locally. Default:
   * everyone may play.
   */
  authorize?: Authorize;
  /** How long the authorize hook may take, in ms; past it the request gets 503. Default 10 000. */
  authorizeTimeoutMs?: number;
  /** Access-Control-Allow-Origin for every response; false sends no CORS headers. Default "*". */
  cors?: string | false;
  /**
   * How long a blocking playlist reload (`_HLS_msn`, `_HLS_part`), a playlist asked for before the
   * stream's first segment, or a preload-hinted part is held before 503, in ms. Default: three
   * target durations of the stream (RFC 8216bis 6.2.5.2), at least 3 s.
   */
  blockingReloadTimeoutMs?: number;
  /** Requests held at once by this handler, all streams together; one more gets 503. Default 10 000. */
  maxHeldRequests?: number;
}

/** Counts of what an HLS handler answered, and what it holds now. */
export interface HlsHandlerStats {
  /** Requests held now (blocking reloads, playlists before the first segment, preload hints). */
  held: number;
  /** Streams with held requests (each has one change listener). */
  heldStreams: number;
  /** Playlists and files answered 200 since start. */
  served: { playlists: number; files: number };
  /** Requests refused since start, by cause. */
  refused: {
    /** 400: a bad path or delivery directive, or a request too far ahead of the live edge. */
    badRequest: number;
    /** 404: an unknown stream or file. */
    notFound: number;
    /** 401/403 from the authorize hook. */
    unauthorized: number;
    authorizeTimeout: number;
    /** 503: a held request not answerable within its timeout. */
    blockingTimeout: number;
    /** 503: `maxHeldRequests` were held. */
    tooManyHeld: number;
  };
}

/**
 * A plain `(req, res)` handler for node:http and node:http2 (compatibility API) servers, or any
 * framework that hands those objects over. Called as a function it answers every request (a JSON
 * 404 for URLs that are not HLS, 400 for unsafe ones); `handle` answers only the URLs of the
 * directory's streams and returns false for the others, so an app can fall through to its routes.
 */
export interface HlsRequestHandler {
  (req: HlsRequest, res: HlsResponse): void;
  /**
   * Answer `req` and return true if its URL is the playlist or a file (`/APP/NAME.m3u8`,
   * `/APP/NAME/FILE.ext`) of a stream the directory has; else write nothing and return false (an
   * unpublished stream, an unsafe path, any other URL: the app's to answer).
   */
  handle(req: HlsRequest, res: HlsResponse): boolean;
  /** Answer every held request with 503 and refuse new ones with 503. Idempotent. */
  close(): void;
  stats(): HlsHandlerStats;
}

enum HeldKind {
  /** A plain playlist request before the stream's first segment. */
  content,
  /** A blocking playlist reload. */
  playlist,
  /** A preload-hinted part. */
  file,
}

class HeldHlsRequest implements HeldRequest {
  constructor(
    readonly source: HlsPlaylistSource,
    readonly key: string,
    readonly deadline: number,
    readonly kind: HeldKind,
    readonly res: HlsResponse,
    readonly head: boolean,
    /** The msn and part (-1: the whole segment) of a blocking reload. */
    readonly msn: number,
    readonly part: number,
    /** The file of a preload hint, or the query for a playlist's URIs. */
    readonly text: string | undefined,
  ) {}
}

/** Whether a playlist can be served: a segment, or a part, exists (or the stream ended). */
function hasContent(source: HlsPlaylistSource): boolean {
  if (source.ended || source.lastPart >= 0) return true;
  const last = source.lastMsn;
  return last >= 0 && (source.has(last) || (last > 0 && source.has(last - 1)));
}

/**
 * Whether a blocking reload for segment `msn` (part `part`, -1: the whole segment) can be answered:
 * - the segment or part is in the playlist (`has`);
 * - RFC 8216bis 6.2.5.2: the whole playlist is delivered even when the requested segment is no
 *   longer in it, so any segment before the one in progress (or, outside low-latency mode, the
 *   newest one) counts as there;
 * - a part index past the last part of a segment that completed means part 0 of the next segment.
 */
function blockingReady(source: HlsPlaylistSource, msn: number, part: number): boolean {
  const lastMsn = source.lastMsn;
  if (part < 0) return msn < lastMsn || source.has(msn);
  if (source.has(msn, part)) return true;
  if (msn === lastMsn - 1) return source.has(lastMsn, 0);
  return msn < lastMsn - 1;
}

const DIRECTIVE = /^\d{1,15}$/;

/**
 * RFC 8216bis 6.2.5.2: the Advance Part Limit is three divided by the part target duration (in
 * seconds) when that is under one second, else three.
 */
function advancePartLimit(partTargetMs: number): number {
  return partTargetMs < 1000 ? Math.floor(3000 / partTargetMs) : 3;
}

function remoteAddressOf(req: HlsRequest): string {
  const socket = req.socket;
  return `${socket?.remoteAddress ?? "?"}:${socket?.remotePort ?? 0}`;
}

/**
 * The HLS handler: serves the playlists and files of `directory`'s streams, holds blocking
 * reloads. See {@link HlsHandlerOptions}; {@link createHlsServer} wraps it in a ready server.
 */
export function hlsHandler(
  directory: HlsSourceDirectory,
  options: HlsHandlerOptions = {},
): HlsRequestHandler {
  const cors = options.cors ?? "*";
  const authorize = options.authorize;
  const authorizeTimeoutMs = options.authorizeTimeoutMs ?? 10_000;
  const maxHeld = options.maxHeldRequests ?? 10_000;
  const fixedTimeoutMs = options.blockingReloadTimeoutMs;
  const corsOnly = corsHeaders(cors);
  // The headers of every 200, made once: a playlist's, and a file's per content type.
  const playlistHeaders = bodyHeaderList(cors, PLAYLIST_CONTENT_TYPE, "no-cache");
  const fileHeaders = new Map<string, string[]>();
  const fileHeadersOf = (contentType: string): string[] => {
    let headers = fileHeaders.get(contentType);
    if (headers === undefined) {
      headers = bodyHeaderList(cors, contentType, IMMUTABLE);
      // Content types come from the segmenters (a handful); a bound all the same.
      if (fileHeaders.size < 64) fileHeaders.set(contentType, headers);
    }
    return headers;
  };
  const stats: HlsHandlerStats = {
    held: 0,
    heldStreams: 0,
    served: { playlists: 0, files: 0 },
    refused: {
      badRequest: 0,
      notFound: 0,
      unauthorized: 0,
      authorizeTimeout: 0,
      blockingTimeout: 0,
      tooManyHeld: 0,
    },
  };
  let closed = false;

  const refuse = (res: HlsResponse, refusal: HlsRefusal, head: boolean, reason = refusal.reason): void => {
    if (refusal.status === 400) stats.refused.badRequest += 1;
    else if (refusal.status === 401 || refusal.status === 403) stats.refused.unauthorized += 1;
    else if (refusal === HLS_REFUSALS.authorizeTimeout) stats.refused.authorizeTimeout += 1;
    else if (refusal === HLS_REFUSALS.blockingTimeout) stats.refused.blockingTimeout += 1;
    else if (refusal === HLS_REFUSALS.tooManyHeld) stats.refused.tooManyHeld += 1;
    sendRefusal(res as Reply, refusal, reason, cors, head);
  };

  const notFound = (res: HlsResponse, body: Record<string, string>, head: boolean): void => {
    stats.refused.notFound += 1;
    sendJson(res as Reply, 404, body, cors, head);
  };

  // The last playlist of each stream as bytes: a segmenter returns the same string until it
  // changes, so polling viewers share one Buffer instead of encoding the text each time.
  const lastPlaylist = new WeakMap<HlsPlaylistSource, { text: string; bytes: Buffer }>();
  const playlistBytes = (source: HlsPlaylistSource, uriQuery: string | undefined): Buffer => {
    const text = source.playlist(uriQuery);
    if (uriQuery !== undefined) return Buffer.from(text);
    const last = lastPlaylist.get(source);
    if (last !== undefined && last.text === text) return last.bytes;
    const bytes = Buffer.from(text);
    lastPlaylist.set(source, { text, bytes });
    return bytes;
  };

  const sendPlaylist = (res: HlsResponse, body: Buffer, head: boolean): void => {
    stats.served.playlists += 1;
    sendBytes(res as Reply, body, playlistHeaders, head);
  };

  const sendFile = (res: HlsResponse, source: HlsPlaylistSource, file: string, head: boolean): void => {
    const resource = source.resource(file);
    if (resource === undefined) {
      notFound(res, { error: "file not found", stream: source.key, file }, head);
      return;
    }
    stats.served.files += 1;
    sendBytes(res as Reply, resource.bytes, fileHeadersOf(resource.contentType), head);
  };

  const registry = new HeldRequestRegistry<HeldHlsRequest>(
    {
      isReady(held) {
        const source = held.source;
        try {
          if (source.ended) return true;
          if (held.kind === HeldKind.content) return hasContent(source);
          if (held.kind === HeldKind.playlist) return blockingReady(source, held.msn, held.part);
          const file = held.text as string;
          return source.resource(file) !== undefined || !source.isPreloadHint(file);
        } catch (error) {
          debug("checking a held request of %s failed: %O", source.key, error);
          return false; // left to its timeout
        }
      },
      release(held, batch) {
        if (isGone(held.res)) return;
        try {
          if (held.kind === HeldKind.file) {
            sendFile(held.res, held.source, held.text as string, held.head);
            return;
          }
          // Every request released by one change shares the playlist text of its query.
          const cacheKey = held.text ?? "";
          let body = batch.get(cacheKey);
          if (body === undefined) {
            body = playlistBytes(held.source, held.text);
            batch.set(cacheKey, body);
          }
          sendPlaylist(held.res, body, held.head);
        } catch (error) {
          // Called from the segmenter's change event: a source that throws (a bug) costs this
          // request, never the segmenter.
          debug("answering a held request of %s failed: %O", held.source.key, error);
          if (!isGone(held.res))
            sendJson(held.res as Reply, 500, { error: "internal error" }, cors, held.head);
        }
      },
      expire(held) {
        if (isGone(held.res)) return;
        refuse(held.res, closed ? HLS_REFUSALS.closing : HLS_REFUSALS.blockingTimeout, held.head);
      },
    },
    fixedTimeoutMs === undefined ? 250 : Math.max(10, Math.min(250, Math.floor(fixedTimeoutMs / 4))),
  );

  const heldByResponse = new WeakMap<HlsResponse, HeldHlsRequest>();
  // One listener function for every held response (`this` is the response), not a closure each.
  const onHeldClose = function (this: HlsResponse): void {
    const held = heldByResponse.get(this);
    if (held !== undefined && registry.remove(held)) debug("a held client of %s left", held.source.key);
  };

  const hold = (
    res: HlsResponse,
    head: boolean,
    source: HlsPlaylistSource,
    kind: HeldKind,
    key: string,
    msn: number,
    part: number,
    text: string | undefined,
  ): void => {
    // Its "close" may have come already (while the authorize hook thought): nothing to hold.
    if (isGone(res)) return;
    if (registry.size >= maxHeld) {
      refuse(res, HLS_REFUSALS.tooManyHeld, head);
      return;
    }
    const timeoutMs = fixedTimeoutMs ?? Math.max(3000, 3000 * source.targetDurationS);
    const held = new HeldHlsRequest(source, key, Date.now() + timeoutMs, kind, res, head, msn, part, text);
    heldByResponse.set(res, held);
    // `on`, not `once` (which wraps the listener in a new function per call): a response closes
    // once, and a request no longer held is not found by onHeldClose.
    res.on("close", onHeldClose);
    registry.hold(held);
  };

  const servePlaylist = (
    res: HlsResponse,
    source: HlsPlaylistSource,
    target: HlsUrl,
    head: boolean,
    query: URLSearchParams | undefined,
  ): void => {
    const search = target.search;
    const msnText = query === undefined ? queryValue(search, "_HLS_msn") : query.get("_HLS_msn");
    const partText = query === undefined ? queryValue(search, "_HLS_part") : query.get("_HLS_part");
    if (
      (msnText !== null && !DIRECTIVE.test(msnText)) ||
      (partText !== null && (msnText === null || !DIRECTIVE.test(partText)))
    ) {
      refuse(res, HLS_REFUSALS.badDirective, head);
      return;
    }
    // The query reaches the segment URIs only when the hook may look for it there.
    const uriQuery = query === undefined ? undefined : uriQueryOf(query);
    if (msnText === null) {
      if (hasContent(source)) sendPlaylist(res, playlistBytes(source, uriQuery), head);
      else hold(res, head, source, HeldKind.content, "c", -1, -1, uriQuery);
      return;
    }
    // RFC 8216bis 6.2.5.2: the directives are ignored once the playlist has EXT-X-ENDLIST.
    if (source.ended) {
      sendPlaylist(res, playlistBytes(source, uriQuery), head);
      return;
    }
    const msn = Number(msnText);
    // Parts exist only in low-latency mode; elsewhere a part directive waits for the whole segment.
    const part = partText === null || source.partTargetMs <= 0 ? -1 : Number(partText);
    const lastMsn = source.lastMsn;
    if (msn > lastMsn + 2) {
      refuse(res, HLS_REFUSALS.tooFarAhead, head);
      return;
    }
    if (part >= 0) {
      const limit = advancePartLimit(source.partTargetMs);
      // Past the last part by more than the limit: for a later segment, its own part index alone
      // already counts that far ahead.
      if ((msn === lastMsn && part > source.lastPart + limit) || (msn > lastMsn && part + 1 > limit)) {
        refuse(res, HLS_REFUSALS.tooFarAhead, head);
        return;
      }
    }
    if (blockingReady(source, msn, part)) {
      sendPlaylist(res, playlistBytes(source, uriQuery), head);
      return;
    }
    hold(res, head, source, HeldKind.playlist, `p${msn}/${part}`, msn, part, uriQuery);
  };

  const serveFile = (res: HlsResponse, source: HlsPlaylistSource, target: HlsUrl, head: boolean): void => {
    const file = target.file;
    if (source.resource(file) === undefined && !source.ended && source.isPreloadHint(file)) {
      hold(res, head, source, HeldKind.file, `f${file}`, -1, -1, file);
      return;
    }
    sendFile(res, source, file, head);
  };

  /** `query`: the request's, parsed, when the authorize hook is set (undefined without one). */
  const serve = (
    res: HlsResponse,
    target: HlsUrl,
    head: boolean,
    query: URLSearchParams | undefined,
  ): void => {
    if (closed) {
      refuse(res, HLS_REFUSALS.closing, head);
      return;
    }
    const source = directory.get(target.app, target.name);
    if (source === undefined) {
      notFound(res, { error: "stream not found", stream: `${target.app}/${target.name}` }, head);
      return;
    }
    if (target.kind === "playlist") servePlaylist(res, source, target, head, query);
    else serveFile(res, source, target, head);
  };

  const authorizeThenServe = (req: HlsRequest, res: HlsResponse, target: HlsUrl, head: boolean): void => {
    const remoteAddress = remoteAddressOf(req);
    const query = new URLSearchParams(target.search);
    const request = {
      action: "play" as const,
      protocol: "hls",
      app: target.app,
      name: target.name,
      query,
      remoteAddress,
    };
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(resolve, authorizeTimeoutMs, "timeout");
      // A hook still thinking for a client that left must not hold the process open.
      timer.unref();
    });
    Promise.race([
      runAuthorize(authorize, request, (error) =>
        debug("authorize threw for %s %s/%s: %O", remoteAddress, target.app, target.name, error),
      ),
      timedOut,
    ])
      .then((verdict) => {
        clearTimeout(timer);
        if (isGone(res)) return;
        if (verdict === "timeout") refuse(res, HLS_REFUSALS.authorizeTimeout, head);
        else if (verdict.ok) serve(res, target, head, query);
        else {
          debug("%s refused %s/%s: %s", remoteAddress, target.app, target.name, verdict.reason);
          refuse(
            res,
            verdict.status === 401 ? HLS_REFUSALS.unauthorized : HLS_REFUSALS.forbidden,
            head,
            verdict.reason,
          );
        }
      })
      // The hook failing, or serving after it (a source that throws): this request's 500, never
      // an unhandled rejection.
      .catch((error: unknown) => {
        clearTimeout(timer);
        debug("serving %s/%s to %s failed: %O", target.app, target.name, remoteAddress, error);
        if (!isGone(res)) sendJson(res as Reply, 500, { error: "internal error" }, cors, head);
      });
  };

  /** Answer a request whose URL parsed as an HLS URL (or a bad one). */
  const answer = (req: HlsRequest, res: HlsResponse, target: HlsUrl | typeof BAD_HLS_PATH): void => {
    const method = req.method ?? "GET";
    if (method === "OPTIONS") {
      (res as Reply).writeHead(204, { ...corsOnly, "Access-Control-Max-Age": "86400" });
      (res as Reply).end();
      return;
    }
    if (method !== "GET" && method !== "HEAD") {
      sendJson(res as Reply, 405, { error: "method not allowed" }, cors, false, {
        Allow: "GET, HEAD, OPTIONS",
      });
      return;
    }
    const head = method === "HEAD";
    if (target === BAD_HLS_PATH) {
      refuse(res, HLS_REFUSALS.badPath, head);
      return;
    }
    try {
      // No hook: served at once, with no promise or timer for the request.
      if (authorize === undefined) serve(res, target, head, undefined);
      else authorizeThenServe(req, res, target, head);
    } catch (error) {
      // A source that throws (a bug) costs this request, never the server.
      debug("serving %s failed: %O", req.url, error);
      if (!isGone(res)) sendJson(res as Reply, 500, { error: "internal error" }, cors, head);
    }
  };

  const handler = (req: HlsRequest, res: HlsResponse): void => {
    const url = req.url ?? "/";
    const target = parseHlsUrl(url);
    if (target !== undefined) {
      answer(req, res, target);
      return;
    }
    notFound(
      res,
      { error: "not found", path: url.length > 200 ? `${url.slice(0, 200)}…` : url },
      req.method === "HEAD",
    );
  };

  // Mounted before an app's own routes, the handler takes only the URLs of streams it serves:
  // `/assets/videos/intro.mp4` or a stream not published (yet) stays the app's.
  const handle = (req: HlsRequest, res: HlsResponse): boolean => {
    const target = parseHlsUrl(req.url ?? "/");
    if (target === undefined || target === BAD_HLS_PATH) return false;
    if (directory.get(target.app, target.name) === undefined) return false;
    answer(req, res, target);
    return true;
  };

  return Object.assign(handler, {
    handle,
    close(): void {
      if (closed) return;
      closed = true;
      registry.expireAll();
    },
    stats(): HlsHandlerStats {
      return {
        held: registry.size,
        heldStreams: registry.streamCount,
        served: { ...stats.served },
        refused: { ...stats.refused },
      };
    },
  });
}
