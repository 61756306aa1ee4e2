import { isSafePathPart } from "@onair/flv";
import { RelayError, RelayErrorCode } from "./errors.js";

/** A remote URL taken apart for a relay. */
export interface RelayUrl {
  /** "rtmp" for rtmp://, "http" for http:// and https:// (HTTP-FLV). */
  readonly protocol: "rtmp" | "http";
  readonly url: URL;
  /** RTMP: "rtmp://host:port/app", what the client connects to. HTTP: the whole URL. */
  readonly connectUrl: string;
  /** RTMP: the stream name with the URL's query ("cam?token=x"), what is published or played. */
  readonly streamName: string;
  /** The URL without credentials or query, for stats and logs (tokens stay out of them). */
  readonly display: string;
}

function bad(url: string, why: string): RelayError {
  return new RelayError(RelayErrorCode.badUrl, `bad relay URL "${redactUrl(url)}": ${why}`);
}

/** A URL as messages show it: no credentials, the query (where tokens go) replaced by "?...". */
export function redactUrl(input: string): string {
  try {
    const url = new URL(input);
    return `${url.protocol}//${url.host}${url.pathname}${url.search === "" ? "" : "?..."}`;
  } catch {
    return String(input)
      .replace(/\?[\s\S]*$/, "?...")
      .replace(/\/\/[^/?#@]*@/, "//");
  }
}

const DEFAULT_PORTS: Partial<Record<string, string>> = { "rtmp:": "1935", "http:": "80", "https:": "443" };

/**
 * `input` in one spelling, to tell whether two relay URLs name the same remote: host lowercased,
 * the default port written out, empty path segments of an RTMP URL dropped (as
 * {@link parseRelayUrl} does). A URL that does not parse is its own key.
 */
export function relayUrlKey(input: string): string {
  let url: URL;
  try {
    url = parseRelayUrl(input, true).url;
  } catch {
    return input;
  }
  const port = url.port !== "" ? url.port : (DEFAULT_PORTS[url.protocol] ?? "");
  const auth = url.username === "" && url.password === "" ? "" : `${url.username}:${url.password}@`;
  const path =
    url.protocol === "rtmp:"
      ? `/${url.pathname
          .split("/")
          .filter((s) => s.length > 0)
          .join("/")}`
      : url.pathname;
  return `${url.protocol}//${auth}${url.hostname.toLowerCase()}:${port}${path}${url.search}`;
}

/**
 * Parse a relay's remote URL: "rtmp://host[:port]/app/name[?query]" (the last path segment is the
 * stream name, the ones before it the app), or, where `http` is allowed, an HTTP-FLV URL
 * "http[s]://host[:port]/path". Throws `RelayError` `ERR_RELAY_BAD_URL` saying what is wrong.
 */
export function parseRelayUrl(input: string, allowHttp: boolean): RelayUrl {
  if (typeof input !== "string" || input.length === 0) throw bad(String(input), "no URL given");
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw bad(input, "not a URL");
  }
  const schemes = allowHttp ? "rtmp://, http:// or https://" : "rtmp://";
  if (url.hostname === "") throw bad(input, "no host");
  const display = `${url.protocol}//${url.host}${url.pathname}`;
  if (url.protocol === "http:" || url.protocol === "https:") {
    if (!allowHttp) throw bad(input, `a push goes to ${schemes} URLs only`);
    return { protocol: "http", url, connectUrl: url.href, streamName: "", display };
  }
  if (url.protocol !== "rtmp:") {
    throw bad(
      input,
      `the scheme must be ${schemes}${url.protocol === "rtmps:" ? " (rtmps is not supported)" : ""}`,
    );
  }
  const segments = url.pathname.split("/").filter((s) => s.length > 0);
  if (segments.length < 2)
    throw bad(input, "an RTMP URL needs an app and a stream name: rtmp://host/app/name");
  let name: string;
  try {
    name = decodeURIComponent(segments[segments.length - 1]);
  } catch {
    throw bad(input, "the stream name is not valid percent-encoding");
  }
  const app = segments.slice(0, -1).join("/");
  return {
    protocol: "rtmp",
    url,
    connectUrl: `rtmp://${url.host}/${app}`,
    streamName: `${name}${url.search}`,
    display,
  };
}

/** Check a local app or stream name: it becomes the hub key "app/name". */
export function checkKeyPart(what: string, value: string): string {
  if (typeof value !== "string" || !isSafePathPart(value)) {
    throw new RelayError(
      RelayErrorCode.badOption,
      `bad ${what} "${String(value)}": 1 to 255 characters without "/", "\\" or control characters, not "." or ".."`,
    );
  }
  return value;
}

/**
 * A static push target: `base` ("rtmp://host/app[?query]") with "/NAME" appended to its path,
 * as livego's static_push does. Throws `ERR_RELAY_BAD_URL` for a base that is not rtmp://.
 */
export function pushTargetUrl(base: string, name: string): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw bad(base, "not a URL");
  }
  if (url.protocol !== "rtmp:") throw bad(base, "a push goes to rtmp:// URLs only");
  if (url.hostname === "") throw bad(base, "no host");
  const path = url.pathname.replace(/\/+$/, "");
  if (path === "") throw bad(base, "a static push URL needs an app: rtmp://host/app");
  url.pathname = `${path}/${encodeURIComponent(name)}`;
  return url.href;
}
