/**
 * The bench's HLS load client: N viewers of one live playlist, in a process of its own, each
 * loading it as hls.js 1.7 does (its own two keep-alive connections: playlists and media).
 *
 * - `poll` (TS or fMP4 without parts): load the playlist, start three segments from the live edge
 *   (hls.js's liveSyncDurationCount), fetch the init section once and every new segment in order;
 *   reload the playlist one last-segment duration after a change, half a target duration after
 *   none (hls.js's reload schedule).
 * - `ll` (LL-HLS): load the playlist once plainly, start at the newest independent part, then ask
 *   for the next part with a blocking reload (`_HLS_msn`/`_HLS_part`) again as soon as each answer
 *   comes, and fetch every new part in order (the whole segment if its parts left the playlist).
 *
 * Usage: node --conditions=source --import tsx bench/hls-load-client.ts MODE URL VIEWERS JOIN_PER_SEC WARMUP_MS WINDOW_MS
 * Prints one JSON line: { windowMs, viewers: [{ firstMediaMs, windowBytes, windowRequests,
 * windowMediaS, errors, error }] } — windowMediaS is the media duration received in the window (a
 * viewer keeping up gets about the window's length).
 */
import { connect, type Socket } from "node:net";

export interface PlaylistPart {
  uri: string;
  duration: number;
  independent: boolean;
}

export interface PlaylistSegment {
  msn: number;
  uri: string;
  duration: number;
  parts: PlaylistPart[];
}

export interface MediaPlaylist {
  targetDuration: number;
  mediaSequence: number;
  map?: string;
  segments: PlaylistSegment[];
  /** Parts of the segment in progress (msn = mediaSequence + segments.length). */
  pendingParts: PlaylistPart[];
  partTarget: number;
  canBlockReload: boolean;
  partHoldBack: number;
  ended: boolean;
}

const attributePatterns = new Map<string, RegExp>();

function attribute(line: string, name: string): string | undefined {
  let pattern = attributePatterns.get(name);
  if (pattern === undefined) {
    pattern = new RegExp(`(?:^|[:,])${name}=("([^"]*)"|[^,]*)`);
    attributePatterns.set(name, pattern);
  }
  const match = pattern.exec(line);
  return match === null ? undefined : (match[2] ?? match[1]);
}

/** The media playlist fields a player needs. */
export function parseMediaPlaylist(text: string): MediaPlaylist {
  const playlist: MediaPlaylist = {
    targetDuration: 0,
    mediaSequence: 0,
    segments: [],
    pendingParts: [],
    partTarget: 0,
    canBlockReload: false,
    partHoldBack: 0,
    ended: false,
  };
  let duration = 0;
  let parts: PlaylistPart[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    if (line.startsWith("#EXT-X-TARGETDURATION:")) playlist.targetDuration = Number(line.slice(22));
    else if (line.startsWith("#EXT-X-MEDIA-SEQUENCE:")) playlist.mediaSequence = Number(line.slice(22));
    else if (line.startsWith("#EXT-X-MAP:")) playlist.map = attribute(line, "URI");
    else if (line.startsWith("#EXTINF:")) duration = Number.parseFloat(line.slice(8));
    else if (line.startsWith("#EXT-X-PART-INF:"))
      playlist.partTarget = Number(attribute(line, "PART-TARGET"));
    else if (line.startsWith("#EXT-X-SERVER-CONTROL:")) {
      playlist.canBlockReload = attribute(line, "CAN-BLOCK-RELOAD") === "YES";
      playlist.partHoldBack = Number(attribute(line, "PART-HOLD-BACK") ?? 0);
    } else if (line.startsWith("#EXT-X-PART:")) {
      parts.push({
        uri: attribute(line, "URI") ?? "",
        duration: Number(attribute(line, "DURATION")),
        independent: attribute(line, "INDEPENDENT") === "YES",
      });
    } else if (line === "#EXT-X-ENDLIST") playlist.ended = true;
    else if (!line.startsWith("#")) {
      playlist.segments.push({
        msn: playlist.mediaSequence + playlist.segments.length,
        uri: line,
        duration,
        parts,
      });
      parts = [];
    }
  }
  playlist.pendingParts = parts;
  return playlist;
}

interface Viewer {
  startedAt: number;
  firstMediaMs: number;
  bytes: number;
  requests: number;
  mediaS: number;
  windowStart: { bytes: number; requests: number; mediaS: number };
  windowEnd: { bytes: number; requests: number; mediaS: number };
  errors: number;
  error: string;
}

interface Answer {
  status: number;
  body: string;
}

/**
 * One keep-alive HTTP/1.1 connection doing one GET at a time, on a bare socket: cheaper per
 * request than node:http, so at hundreds of LL-HLS viewers (thousands of requests a second) the
 * client stays out of the figures. Reads Content-Length bodies (what HLS servers send) and counts
 * every body byte for its viewer; keeps the body as text only when asked.
 */
class Connection {
  #socket: Socket | undefined;
  #head: Buffer[] = [];
  #headLength = 0;
  /** Body bytes still to come; -1 while reading the head. */
  #left = -1;
  #status = 0;
  #body: Buffer[] = [];
  #pending: { text: boolean; resolve: (answer: Answer) => void } | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly viewer: Viewer,
  ) {}

  get(path: string, text: boolean): Promise<Answer> {
    return new Promise((resolve) => {
      this.#pending = { text, resolve };
      this.#head = [];
      this.#headLength = 0;
      this.#left = -1;
      this.#body = [];
      const socket = this.#socket ?? this.#open();
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n\r\n`);
    });
  }

  close(): void {
    this.#socket?.destroy();
    this.#socket = undefined;
  }

  #open(): Socket {
    const socket = connect(this.port, this.host);
    socket.setNoDelay(true);
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => this.#data(chunk));
    const fail = (message: string) => {
      if (this.#socket === socket) this.#socket = undefined;
      this.#finish({ status: 0, body: message });
    };
    socket.on("error", (e) => fail(e.message));
    socket.on("close", () => fail("connection closed"));
    return socket;
  }

  #finish(answer: Answer): void {
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending === undefined) return;
    if (answer.status !== 0) this.viewer.requests += 1;
    pending.resolve(answer);
  }

  #data(chunk: Buffer): void {
    if (this.#pending === undefined) return;
    if (this.#left < 0) {
      this.#head.push(chunk);
      this.#headLength += chunk.length;
      const head = this.#head.length === 1 ? chunk : Buffer.concat(this.#head, this.#headLength);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      const lines = head.subarray(0, end).toString("latin1");
      this.#status = Number(lines.slice(9, 12));
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(lines);
      if (length === null) {
        this.#finish({ status: 0, body: `no Content-Length: ${lines.split("\r\n")[0]}` });
        this.close();
        return;
      }
      this.#left = Number(length[1]);
      chunk = head.subarray(end + 4);
    }
    const n = Math.min(this.#left, chunk.length);
    this.viewer.bytes += n;
    if (this.#pending.text) this.#body.push(chunk.subarray(0, n));
    this.#left -= n;
    if (this.#left === 0) {
      const body = this.#pending.text ? Buffer.concat(this.#body).toString("utf8") : "";
      this.#finish({ status: this.#status, body });
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function failed(viewer: Viewer, what: string, answer: Answer): void {
  viewer.errors += 1;
  viewer.error = `${what}: ${answer.status} ${answer.status === 0 ? answer.body : ""}`.trim();
}

/** A media item to fetch: a segment or a part, in playback order. */
interface Media {
  uri: string;
  duration: number;
}

/** Fetches queued media one at a time, in order. */
class MediaQueue {
  readonly #items: Media[] = [];
  #running = false;
  constructor(
    readonly connection: Connection,
    readonly viewer: Viewer,
    readonly base: URL,
    readonly stopped: () => boolean,
  ) {}

  push(item: Media): void {
    this.#items.push(item);
    if (!this.#running) void this.#run();
  }

  async #run(): Promise<void> {
    this.#running = true;
    while (this.#items.length > 0 && !this.stopped()) {
      const item = this.#items.shift() as Media;
      const url = new URL(item.uri, this.base);
      const answer = await this.connection.get(`${url.pathname}${url.search}`, false);
      if (answer.status !== 200) failed(this.viewer, item.uri, answer);
      else {
        this.viewer.mediaS += item.duration;
        if (this.viewer.firstMediaMs < 0)
          this.viewer.firstMediaMs = performance.now() - this.viewer.startedAt;
      }
    }
    this.#running = false;
  }
}

async function pollViewer(viewer: Viewer, base: URL, stopped: () => boolean): Promise<void> {
  // Two connections, as a browser gives hls.js: playlists on one, media on the other.
  const playlists = new Connection(base.hostname, Number(base.port || 80), viewer);
  const media = new Connection(base.hostname, Number(base.port || 80), viewer);
  const queue = new MediaQueue(media, viewer, base, stopped);
  let next = -1;
  let mapFetched = false;
  while (!stopped()) {
    const began = performance.now();
    const answer = await playlists.get(`${base.pathname}${base.search}`, true);
    if (answer.status !== 200) {
      failed(viewer, "playlist", answer);
      await sleep(1000);
      continue;
    }
    const playlist = parseMediaPlaylist(answer.body);
    if (playlist.map !== undefined && !mapFetched) {
      queue.push({ uri: playlist.map, duration: 0 });
      mapFetched = true;
    }
    const segments = playlist.segments;
    if (next < 0 && segments.length > 0) next = segments[Math.max(0, segments.length - 3)].msn;
    let changed = false;
    for (const segment of segments) {
      if (segment.msn < next) continue;
      queue.push({ uri: segment.uri, duration: segment.duration });
      next = segment.msn + 1;
      changed = true;
    }
    if (playlist.ended) break;
    const last = segments[segments.length - 1];
    const interval = changed && last !== undefined ? last.duration * 1000 : playlist.targetDuration * 500;
    await sleep(interval - (performance.now() - began));
  }
  playlists.close();
  media.close();
}

async function llViewer(viewer: Viewer, base: URL, stopped: () => boolean): Promise<void> {
  // Two connections, as a browser gives hls.js: playlists on one, media on the other.
  const playlists = new Connection(base.hostname, Number(base.port || 80), viewer);
  const media = new Connection(base.hostname, Number(base.port || 80), viewer);
  const queue = new MediaQueue(media, viewer, base, stopped);
  /** The next media to fetch: segment msn, part index (-1: the whole segment). */
  let nextMsn = -1;
  let nextPart = 0;
  let mapFetched = false;
  let directive = "";
  while (!stopped()) {
    const url = new URL(base);
    if (directive !== "") url.search = directive;
    const answer = await playlists.get(`${url.pathname}${url.search}`, true);
    if (answer.status !== 200) {
      failed(viewer, `playlist${directive}`, answer);
      directive = "";
      await sleep(1000);
      continue;
    }
    const playlist = parseMediaPlaylist(answer.body);
    if (playlist.map !== undefined && !mapFetched) {
      queue.push({ uri: playlist.map, duration: 0 });
      mapFetched = true;
    }
    const all = [
      ...playlist.segments,
      {
        msn: playlist.mediaSequence + playlist.segments.length,
        uri: "",
        duration: 0,
        parts: playlist.pendingParts,
      },
    ];
    if (nextMsn < 0) {
      // Start at the newest independent part (the live edge, as close as parts allow).
      for (const segment of all) {
        segment.parts.forEach((part, index) => {
          if (part.independent || index === 0) {
            nextMsn = segment.msn;
            nextPart = index;
          }
        });
      }
      if (nextMsn < 0 && all.length > 1) nextMsn = all[all.length - 2].msn;
    }
    for (const segment of all) {
      if (segment.msn < nextMsn) continue;
      if (segment.msn === nextMsn && nextPart > 0 && nextPart > segment.parts.length - 1) {
        // All of its parts are fetched: the segment is done once its URI is listed.
        if (segment.uri !== "") {
          nextMsn += 1;
          nextPart = 0;
        }
        continue;
      }
      if (segment.parts.length === 0) {
        if (segment.uri === "") break;
        queue.push({ uri: segment.uri, duration: segment.duration });
        nextMsn = segment.msn + 1;
        nextPart = 0;
        continue;
      }
      for (let i = nextPart; i < segment.parts.length; i++) {
        queue.push({ uri: segment.parts[i].uri, duration: segment.parts[i].duration });
      }
      nextPart = segment.parts.length;
      if (segment.uri !== "") {
        nextMsn = segment.msn + 1;
        nextPart = 0;
      } else break;
    }
    if (playlist.ended) break;
    if (!playlist.canBlockReload) {
      await sleep(playlist.targetDuration * 500);
      continue;
    }
    directive = `?_HLS_msn=${nextMsn}&_HLS_part=${nextPart}`;
  }
  playlists.close();
  media.close();
}

const isMain = process.argv[1]?.endsWith("hls-load-client.ts") === true;
if (isMain) {
  const [mode, urlArg, viewersArg, rateArg, warmupArg, windowArg] = process.argv.slice(2);
  const count = Number(viewersArg);
  const joinPerSecond = Number(rateArg);
  const warmupMs = Number(warmupArg);
  const windowMs = Number(windowArg);
  const base = new URL(urlArg);
  const viewers: Viewer[] = [];
  let stop = false;
  const stopped = () => stop;
  const startedAll = Date.now();
  for (let i = 0; i < count; i++) {
    const zero = { bytes: 0, requests: 0, mediaS: 0 };
    const viewer: Viewer = {
      startedAt: 0,
      firstMediaMs: -1,
      bytes: 0,
      requests: 0,
      mediaS: 0,
      windowStart: zero,
      windowEnd: zero,
      errors: 0,
      error: "",
    };
    viewers.push(viewer);
    setTimeout(
      () => {
        viewer.startedAt = performance.now();
        const loop = mode === "ll" ? llViewer : pollViewer;
        loop(viewer, base, stopped).catch((e: Error) => {
          viewer.errors += 1;
          viewer.error = e.message;
        });
      },
      Math.max(0, startedAll + (i * 1000) / joinPerSecond - Date.now()),
    );
  }
  const snapshot = (v: Viewer) => ({ bytes: v.bytes, requests: v.requests, mediaS: v.mediaS });
  setTimeout(
    () => {
      for (const v of viewers) v.windowStart = snapshot(v);
      process.stderr.write("window start\n");
      setTimeout(() => {
        for (const v of viewers) v.windowEnd = snapshot(v);
        stop = true;
        process.stdout.write(
          `${JSON.stringify({
            windowMs,
            viewers: viewers.map((v) => ({
              firstMediaMs: Math.round(v.firstMediaMs),
              windowBytes: v.windowEnd.bytes - v.windowStart.bytes,
              windowRequests: v.windowEnd.requests - v.windowStart.requests,
              windowMediaS: Math.round((v.windowEnd.mediaS - v.windowStart.mediaS) * 1000) / 1000,
              errors: v.errors,
              error: v.error,
            })),
          })}\n`,
          () => process.exit(0),
        );
      }, windowMs);
    },
    (count * 1000) / joinPerSecond + warmupMs,
  );
}
