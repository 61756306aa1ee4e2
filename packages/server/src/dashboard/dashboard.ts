import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import createDebug from "debug";
import { LiveStatsFeed, type LiveStatsFeedOptions } from "./live-stats-feed.js";

const debug = createDebug("onair:server:dashboard");

/** The page's own files: next to this module as `public/` (src/ from source, dist/ once built). */
const PUBLIC_DIR = new URL("./public/", import.meta.url);

/**
 * What the dashboard serves under /dashboard/: a fixed table, so no URL path ever reaches the file
 * system. Libraries come from the package's dependencies (node_modules), never from a CDN.
 */
const ASSETS: Record<string, { type: string; file: () => string }> = {
  "dashboard.js": { type: "text/javascript", file: () => fileURLToPath(new URL("dashboard.js", PUBLIC_DIR)) },
  "dashboard.css": { type: "text/css", file: () => fileURLToPath(new URL("dashboard.css", PUBLIC_DIR)) },
  "uPlot.js": { type: "text/javascript", file: () => resolveDependency("uplot/dist/uPlot.iife.min.js") },
  "uPlot.css": { type: "text/css", file: () => resolveDependency("uplot/dist/uPlot.min.css") },
  "mpegts.js": { type: "text/javascript", file: () => resolveDependency("mpegts.js/dist/mpegts.js") },
  "hls.js": { type: "text/javascript", file: () => resolveDependency("hls.js/dist/hls.min.js") },
};

const INDEX_FILE = (): string => fileURLToPath(new URL("index.html", PUBLIC_DIR));

/** Replaced in index.html by the query that carries the page's token to its assets ("" or "?jwt=…"). */
const TOKEN_QUERY_MARK = /\{\{TOKEN_QUERY\}\}/g;

/**
 * The Content-Security-Policy of the page: its scripts and styles only from here; media through
 * MSE (blob:); fetches, EventSource and WebSocket to this server and its media ports.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "media-src 'self' blob:",
  "worker-src 'self' blob:",
  "connect-src 'self' http: https: ws: wss:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

let requireHere: NodeJS.Require | undefined;
function resolveDependency(specifier: string): string {
  requireHere ??= createRequire(import.meta.url);
  return requireHere.resolve(specifier);
}

export type DashboardOptions = LiveStatsFeedOptions;

/** The dashboard on the API port; mount it with `createApiHandler({ ..., dashboard })`. */
export interface Dashboard {
  /** The stats stream the page reads (`GET /stat/events`). */
  readonly feed: LiveStatsFeed;
  /**
   * Answer `req` if `path` is the dashboard's (`/`, `/dashboard/…`, `/stat/events`) and return
   * true; false leaves the request to the API. Call it after the API's JWT check.
   */
  handle(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): boolean;
  /** Stop the feed and end every page's event stream. Idempotent. */
  close(): void;
}

/**
 * The live dashboard: the page at `GET /`, its scripts and the chart and player libraries under
 * `/dashboard/`, and the JSON stats stream at `GET /stat/events` (Server-Sent Events). It has no
 * protection of its own: the API handler checks the JWT before it hands a request here, and the
 * page passes its `?jwt=` on to every asset, API call and the event stream.
 */
export function createDashboard(options: DashboardOptions): Dashboard {
  const feed = new LiveStatsFeed(options);
  const files = new Map<string, Buffer>();

  function read(name: string, file: () => string): Buffer | undefined {
    let body = files.get(name);
    if (body !== undefined) return body;
    try {
      body = readFileSync(file());
    } catch (error) {
      debug("cannot read %s: %s", name, (error as Error).message);
      return undefined;
    }
    files.set(name, body);
    return body;
  }

  function answer(
    res: ServerResponse,
    head: boolean,
    status: number,
    type: string,
    body: Buffer | string,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, {
      "Content-Type": `${type}; charset=utf-8`,
      "Content-Length": Buffer.byteLength(body),
      "X-Content-Type-Options": "nosniff",
      ...headers,
    });
    res.end(head ? undefined : body);
  }

  function missing(res: ServerResponse, head: boolean, what: string): void {
    const data = `the dashboard's ${what} is missing from this install (a build without dist/dashboard/public?)`;
    answer(res, head, 503, "application/json", JSON.stringify({ status: 503, data }));
  }

  return {
    feed,
    handle(req, res, path, query) {
      const isPage = path === "/" || path === "/dashboard" || path === "/dashboard/";
      const asset = path.startsWith("/dashboard/") ? path.slice("/dashboard/".length) : undefined;
      if (!isPage && path !== "/stat/events" && (asset === undefined || !Object.hasOwn(ASSETS, asset))) {
        return false;
      }
      const head = req.method === "HEAD";
      if (req.method !== "GET" && !head) {
        const body = JSON.stringify({ status: 405, data: `method ${req.method} not allowed` });
        answer(res, head, 405, "application/json", body, { Allow: "GET, HEAD" });
        return true;
      }
      if (path === "/stat/events") {
        feed.attach(res, head);
        return true;
      }
      if (isPage) {
        const page = read("index.html", INDEX_FILE);
        if (page === undefined) {
          missing(res, head, "page");
          return true;
        }
        // The token the page was opened with goes on to its scripts (the API's JWT check covers
        // them too); it was verified before this, and is URL-encoded for the attribute.
        const token = query.get("jwt");
        const tokenQuery = token === null ? "" : `?jwt=${encodeURIComponent(token)}`;
        const html = page.toString("utf8").replace(TOKEN_QUERY_MARK, tokenQuery.replace(/&/g, "&amp;"));
        answer(res, head, 200, "text/html", html, {
          "Cache-Control": "no-store",
          "Content-Security-Policy": CSP,
          "Referrer-Policy": "no-referrer",
          "X-Frame-Options": "DENY",
        });
        return true;
      }
      const { type, file } = ASSETS[asset as string];
      const body = read(asset as string, file);
      if (body === undefined) {
        missing(res, head, asset as string);
        return true;
      }
      answer(res, head, 200, type, body, { "Cache-Control": "private, max-age=300" });
      return true;
    },
    close() {
      feed.close();
    },
  };
}
