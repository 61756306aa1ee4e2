/**
 * A small in-memory HlsPlaylistSource for the HTTP layer's tests: low-latency by default, with
 * segments named `MSN.m4s`, parts `MSN.PART.m4s` and an init section `init.mp4`; the tests move it
 * forward by hand.
 */
import { EventEmitter } from "node:events";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import type { HlsPlaylistSource, HlsResource, HlsSourceDirectory, HlsVariant } from "../src/hls-source.js";

export class FakeSource implements HlsPlaylistSource {
  readonly key: string;
  variant: HlsVariant = "low-latency";
  ended = false;
  lastMsn = -1;
  lastPart = -1;
  partTargetMs = 200;
  targetDurationS = 1;
  /** The newest complete segment (-1: none). */
  completeMsn = -1;
  preloadHint: string | undefined;
  readonly files = new Map<string, HlsResource>();
  readonly listeners = new Set<() => void>();
  /** Every `uriQuery` playlist() was called with. */
  readonly playlistQueries: (string | undefined)[] = [];

  constructor(key = "live/a") {
    this.key = key;
    this.files.set("init.mp4", { bytes: Buffer.from("init-section"), contentType: "video/mp4" });
  }

  /** The oldest segment still in the playlist. */
  firstMsn = 0;
  /** has() of a complete segment is true only for its own parts (else for any part index). */
  strictParts = false;
  /** Parts per segment, by msn. */
  readonly partCounts = new Map<number, number>();

  has(msn: number, part?: number): boolean {
    if (msn < this.firstMsn) return false;
    if (msn <= this.completeMsn) {
      if (part === undefined || !this.strictParts) return msn >= 0;
      return part < (this.partCounts.get(msn) ?? 0);
    }
    if (msn !== this.lastMsn || part === undefined) return false;
    return part <= this.lastPart;
  }

  playlist(uriQuery?: string): string {
    this.playlistQueries.push(uriQuery);
    const q = uriQuery === undefined ? "" : `?${uriQuery}`;
    const name = this.key.split("/")[1];
    let text = `#EXTM3U\n#EXT-X-TARGETDURATION:${this.targetDurationS}\n#EXT-X-MAP:URI="${name}/init.mp4${q}"\n`;
    for (let msn = 0; msn <= this.completeMsn; msn++) text += `#EXTINF:1.0,\n${name}/${msn}.m4s${q}\n`;
    for (let part = 0; part <= this.lastPart; part++)
      text += `#EXT-X-PART:DURATION=0.2,URI="${name}/${this.lastMsn}.${part}.m4s${q}"\n`;
    if (this.preloadHint !== undefined && !this.ended)
      text += `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${name}/${this.preloadHint}${q}"\n`;
    if (this.ended) text += "#EXT-X-ENDLIST\n";
    return text;
  }

  resource(file: string): HlsResource | undefined {
    return this.files.get(file);
  }

  isPreloadHint(file: string): boolean {
    return file === this.preloadHint;
  }

  onChange(listener: () => void): () => void {
    const wrapped = (): void => listener();
    this.listeners.add(wrapped);
    return () => this.listeners.delete(wrapped);
  }

  emit(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** Starts segment lastMsn + 1 when none is in progress, then completes its next part. */
  addPart(): void {
    if (this.lastMsn === this.completeMsn) this.lastMsn += 1;
    this.lastPart += 1;
    this.partCounts.set(this.lastMsn, this.lastPart + 1);
    this.files.set(`${this.lastMsn}.${this.lastPart}.m4s`, {
      bytes: Buffer.from(`part ${this.lastMsn}.${this.lastPart}`),
      contentType: "video/mp4",
    });
    this.preloadHint = `${this.lastMsn}.${this.lastPart + 1}.m4s`;
    this.emit();
  }

  /** Completes the segment in progress (low-latency) or adds a complete one. */
  completeSegment(): void {
    if (this.lastMsn === this.completeMsn) this.lastMsn += 1;
    this.completeMsn = this.lastMsn;
    this.files.set(`${this.lastMsn}.m4s`, {
      bytes: Buffer.from(`segment ${this.lastMsn}`),
      contentType: "video/mp4",
    });
    if (this.variant === "low-latency") {
      this.lastMsn += 1;
      this.lastPart = -1;
      this.preloadHint = `${this.lastMsn}.0.m4s`;
    }
    this.emit();
  }

  end(): void {
    this.ended = true;
    this.preloadHint = undefined;
    this.emit();
  }
}

export class FakeDirectory implements HlsSourceDirectory {
  readonly sources = new Map<string, FakeSource>();

  add(source: FakeSource): FakeSource {
    this.sources.set(source.key, source);
    return source;
  }

  get(app: string, name: string): FakeSource | undefined {
    return this.sources.get(`${app}/${name}`);
  }
}

/** A response without a socket, for holding thousands of requests cheaply in one process. */
export class FakeResponse extends EventEmitter {
  status = 0;
  headers: Record<string, unknown> = {};
  body: Buffer | undefined;
  writableEnded = false;
  destroyed = false;
  readonly socket = null;

  writeHead(status: number, headers: Record<string, unknown>): this {
    this.status = status;
    this.headers = headers;
    return this;
  }

  end(body?: Buffer | string): this {
    this.body = body === undefined || Buffer.isBuffer(body) ? body : Buffer.from(body);
    this.writableEnded = true;
    this.emit("finish");
    this.emit("close");
    return this;
  }

  /** The client leaves. */
  abort(): void {
    this.destroyed = true;
    this.emit("close");
  }
}

export function fakeRequest(url: string, method = "GET"): IncomingMessage {
  return {
    url,
    method,
    headers: {},
    socket: { remoteAddress: "127.0.0.1", remotePort: 5000 },
  } as unknown as IncomingMessage;
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP/1.1 request on its own connection; `signal` aborts it. */
export function httpRequest(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: options.method ?? "GET",
        headers: options.headers,
        agent: false,
        signal: options.signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

export function json(answer: HttpAnswer): Record<string, unknown> {
  return JSON.parse(answer.body.toString("utf8")) as Record<string, unknown>;
}

/** A node:http server around `listener` on a free loopback port. */
export async function listenOnLoopback(
  listener: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; port: number }> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
