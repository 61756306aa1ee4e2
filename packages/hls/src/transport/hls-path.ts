import { isSafePathPart } from "@onair/flv";

/** `/APP/NAME.m3u8`: a stream's media playlist. */
export interface HlsPlaylistTarget {
  kind: "playlist";
  app: string;
  name: string;
  query: URLSearchParams;
}

/** `/APP/NAME/FILE`: a segment, part or init section of a stream. */
export interface HlsFileTarget {
  kind: "file";
  app: string;
  name: string;
  file: string;
  query: URLSearchParams;
}

export type HlsTarget = HlsPlaylistTarget | HlsFileTarget;

/**
 * The extensions of the files the HLS handler serves under `/APP/NAME/`: a path of that shape with
 * another extension is not an HLS URL (an app mounting the handler keeps it).
 */
export const HLS_FILE_EXTENSIONS: ReadonlySet<string> = new Set([
  "ts",
  "m4s",
  "mp4",
  "m4a",
  "m4v",
  "aac",
  "mp3",
  "cmfv",
  "cmfa",
]);

/** The URL is shaped like an HLS URL but names an unsafe or undecodable part: answer 400. */
export const BAD_HLS_PATH = "bad" as const;

function extension(file: string): string {
  const dot = file.lastIndexOf(".");
  return dot === -1 ? "" : file.slice(dot + 1).toLowerCase();
}

function decodePart(part: string): string | undefined {
  let decoded = part;
  // Without a "%" there is nothing to decode (and nothing decodeURIComponent could refuse).
  if (part.indexOf("%") !== -1) {
    try {
      decoded = decodeURIComponent(part);
    } catch {
      return undefined;
    }
  }
  return isSafePathPart(decoded) ? decoded : undefined;
}

/**
 * An HLS URL as the handler reads it: the target with its query still as text (`search`, without
 * the "?"), parsed only when something needs it (a delivery directive, the authorize hook).
 */
export interface HlsUrl {
  kind: HlsTarget["kind"];
  app: string;
  name: string;
  /** The file of a `file` target; "" for a playlist. */
  file: string;
  search: string;
}

/**
 * {@link parseHlsPath} without the query parsed: one pass over the string, no array of parts and
 * no URLSearchParams (the handler runs it for every request).
 */
export function parseHlsUrl(url: string): HlsUrl | typeof BAD_HLS_PATH | undefined {
  const queryAt = url.indexOf("?");
  const end = queryAt === -1 ? url.length : queryAt;
  // The path splits on "/" into "", APP, NAME.m3u8 or "", APP, NAME, FILE.
  if (end === 0 || url.charCodeAt(0) !== 0x2f) return undefined;
  const first = url.indexOf("/", 1);
  if (first === -1 || first >= end) return undefined;
  const second = url.indexOf("/", first + 1);
  let kind: HlsTarget["kind"];
  let last: string;
  if (second === -1 || second >= end) {
    last = url.slice(first + 1, end);
    if (extension(last) !== "m3u8") return undefined;
    kind = "playlist";
  } else {
    const third = url.indexOf("/", second + 1);
    if (third !== -1 && third < end) return undefined;
    last = url.slice(second + 1, end);
    if (!HLS_FILE_EXTENSIONS.has(extension(last))) return undefined;
    kind = "file";
  }
  const app = decodePart(url.slice(1, first));
  const name = decodePart(
    kind === "playlist" ? last.slice(0, -".m3u8".length) : url.slice(first + 1, second),
  );
  if (app === undefined || name === undefined) return BAD_HLS_PATH;
  const search = queryAt === -1 ? "" : url.slice(queryAt + 1);
  if (kind === "playlist") return { kind, app, name, file: "", search };
  const file = decodePart(last);
  if (file === undefined) return BAD_HLS_PATH;
  return { kind, app, name, file, search };
}

/**
 * `"/APP/NAME.m3u8?query"` or `"/APP/NAME/FILE?query"` → its parts; `BAD_HLS_PATH` when the path
 * has that shape but a part is empty, `.` or `..`, holds a separator or control character after
 * percent-decoding, or does not decode; undefined when the URL is not an HLS URL at all.
 */
export function parseHlsPath(url: string): HlsTarget | typeof BAD_HLS_PATH | undefined {
  const target = parseHlsUrl(url);
  if (target === undefined || target === BAD_HLS_PATH) return target;
  const { kind, app, name, file } = target;
  const query = new URLSearchParams(target.search);
  if (kind === "playlist") return { kind, app, name, query };
  return { kind, app, name, file, query };
}

/** A lone surrogate: URLSearchParams reads the text as scalar values, turning each into U+FFFD. */
const LONE_SURROGATE = /[\ud800-\udfff]/u;

/**
 * `URLSearchParams(search).get(key)`, without making one when `search` has nothing to decode ("%",
 * "+" or a lone surrogate): the first value of `key` (a well-formed string), or null.
 */
export function queryValue(search: string, key: string): string | null {
  if (search === "") return null;
  if (search.indexOf("%") !== -1 || search.indexOf("+") !== -1 || LONE_SURROGATE.test(search)) {
    return new URLSearchParams(search).get(key);
  }
  // As URLSearchParams, a leading "?" is not part of the first name.
  let at = search.charCodeAt(0) === 0x3f ? 1 : 0;
  while (at <= search.length) {
    let next = search.indexOf("&", at);
    if (next === -1) next = search.length;
    if (next > at) {
      const equals = search.indexOf("=", at);
      const nameEnd = equals === -1 || equals > next ? next : equals;
      if (nameEnd - at === key.length && search.startsWith(key, at)) {
        return nameEnd === next ? "" : search.slice(nameEnd + 1, next);
      }
    }
    at = next + 1;
  }
  return null;
}

/**
 * The query to append to the URIs of a playlist: the request's own, less the delivery directives
 * (`_HLS_msn`, `_HLS_part`, `_HLS_skip`, ...), which must not reach segment URIs. Undefined when
 * nothing is left.
 */
export function uriQueryOf(query: URLSearchParams): string | undefined {
  const kept = new URLSearchParams();
  for (const [key, value] of query) if (!key.startsWith("_HLS_")) kept.append(key, value);
  const text = kept.toString();
  return text === "" ? undefined : text;
}
