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
  let decoded: string;
  try {
    decoded = decodeURIComponent(part);
  } catch {
    return undefined;
  }
  return isSafePathPart(decoded) ? decoded : undefined;
}

/**
 * `"/APP/NAME.m3u8?query"` or `"/APP/NAME/FILE?query"` → its parts; `BAD_HLS_PATH` when the path
 * has that shape but a part is empty, `.` or `..`, holds a separator or control character after
 * percent-decoding, or does not decode; undefined when the URL is not an HLS URL at all.
 */
export function parseHlsPath(url: string): HlsTarget | typeof BAD_HLS_PATH | undefined {
  const queryAt = url.indexOf("?");
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const parts = path.split("/");
  if (parts[0] !== "") return undefined;
  const last = parts[parts.length - 1];
  const ext = extension(last);
  let kind: HlsTarget["kind"];
  if (parts.length === 3 && ext === "m3u8") kind = "playlist";
  else if (parts.length === 4 && HLS_FILE_EXTENSIONS.has(ext)) kind = "file";
  else return undefined;
  const app = decodePart(parts[1]);
  const name = decodePart(kind === "playlist" ? parts[2].slice(0, -".m3u8".length) : parts[2]);
  if (app === undefined || name === undefined) return BAD_HLS_PATH;
  const query = new URLSearchParams(queryAt === -1 ? "" : url.slice(queryAt + 1));
  if (kind === "playlist") return { kind, app, name, query };
  const file = decodePart(parts[3]);
  if (file === undefined) return BAD_HLS_PATH;
  return { kind, app, name, file, query };
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
