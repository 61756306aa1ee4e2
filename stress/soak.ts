/**
 * `pnpm soak`: a live ffmpeg encode (720p testsrc2, libx264 veryfast, ~2.5 Mbps, real time) published to
 * a real onair server process, watched by a crowd of players that join and leave all the time (RTMP,
 * HTTP-FLV and WS-FLV in turn; each stays a random 5–30 s and is replaced at once). The server's RSS is
 * sampled every second; the verdict is the RSS slope over the second half of the run (least squares,
 * in % of the mean RSS per minute) and the count of stream errors:
 *   - a player that got no media for more than `stallSeconds` while the publisher was up (or none
 *     within `stallSeconds` of joining),
 *   - a player the server closed, or whose socket failed, before it chose to leave (an RTMP error
 *     status or an HTTP answer other than 200 included),
 *   - the publisher exiting, or writing to stderr, and the server exiting or writing to stderr,
 *   - players the server still lists after every player has left.
 * Exits 1 when the slope is ≥ 1 %/min or there was any stream error. Writes .test-results/soak.json.
 *
 * Flags: --seconds N (default 600), --players N (200), --size WxH (1280x720), --kbps N (2500),
 *        --gc-before-sample (fit the slope to RSS after a forced full GC; see SoakOptions).
 *
 * The players live here too (exported): the churn test drives the same ones.
 */
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { FlvDemuxer } from "@onair/flv";
import {
  acknowledgementMessage,
  ChunkDecoder,
  ChunkEncoder,
  commandMessage,
  decodeCommand,
  HandshakeClient,
  MessageType,
  type RtmpMessage,
  setChunkSizeMessage,
} from "@onair/rtmp";
import { WebSocket } from "ws";
import { hasCommand, type RunningProcess, run } from "../test-support/media-tools.js";
import { MB, type ServerProcess, startServer } from "./server-process.js";

const root = fileURLToPath(new URL("..", import.meta.url));

// ---------------------------------------------------------------------------------------------
// Players
// ---------------------------------------------------------------------------------------------

export type PlayerProtocol = "rtmp" | "http-flv" | "ws-flv";
export const PLAYER_PROTOCOLS: readonly PlayerProtocol[] = ["rtmp", "http-flv", "ws-flv"];

/**
 * How a player leaves: `end` politely (RTMP deleteStream then FIN, HTTP FIN, WebSocket close frame),
 * `destroy` closes the socket at once, `reset` sends a TCP RST (SO_LINGER 0).
 */
export type LeaveMode = "end" | "destroy" | "reset";
export const LEAVE_MODES: readonly LeaveMode[] = ["end", "destroy", "reset"];

export interface StreamAddress {
  host: string;
  rtmpPort: number;
  flvPort: number;
  app: string;
  name: string;
}

/**
 * A loopback source address of its own for the `index`th player (127.1.0.1, 127.1.0.2, …; Linux routes
 * all of 127/8 to lo): a crowd of viewers comes from many addresses, and the server's per-address
 * connection limit (HTTP default 100) is not what the soak measures.
 */
export function loopbackAddress(index: number): string {
  return `127.1.${(Math.floor(index / 250) % 250) + 1}.${(index % 250) + 1}`;
}

export interface PlayerEvents {
  /** TCP connected (for WS-FLV: the upgrade answered). */
  onConnected?: (player: Player) => void;
  /** The first bytes of the server's answer arrived (handshake, HTTP head or first WebSocket message). */
  onFirstBytes?: (player: Player) => void;
  /** An audio or video message/tag arrived. */
  onMedia?: (player: Player) => void;
  /** The player is gone; `failure` says why when it did not leave by itself. */
  onClosed?: (player: Player, failure: string | undefined) => void;
}

let nextPlayerId = 1;

/** One player of one stream; counts what it receives, and can leave in any of the {@link LeaveMode}s. */
export class Player {
  readonly id = nextPlayerId++;
  readonly startedAt = performance.now();
  firstMediaAt = -1;
  lastMediaAt = -1;
  mediaMessages = 0;
  bytes = 0;
  /** Why the connection ended without the player asking for it; set once. */
  failure: string | undefined;
  closed = false;
  #leaving = false;
  #socket: Socket | undefined;
  #webSocket: WebSocket | undefined;
  #onLeaveEnd: (() => void) | undefined;

  constructor(
    readonly protocol: PlayerProtocol,
    readonly address: StreamAddress,
    readonly events: PlayerEvents = {},
    /** Source address to connect from; default: the system's choice (127.0.0.1). */
    readonly localAddress?: string,
  ) {
    if (protocol === "rtmp") this.#playRtmp();
    else if (protocol === "http-flv") this.#playHttpFlv();
    else this.#playWsFlv();
  }

  get leaving(): boolean {
    return this.#leaving;
  }

  /** Leaves the stream; idempotent. Resolves once the socket is closed. */
  leave(mode: LeaveMode): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      if (this.closed) resolve();
      else {
        const previous = this.#onLeaveEnd;
        this.#onLeaveEnd = () => {
          previous?.();
          resolve();
        };
      }
    });
    if (this.#leaving || this.closed) return closed;
    this.#leaving = true;
    const socket = this.#socket;
    if (this.#webSocket !== undefined && mode === "end") this.#webSocket.close(1000);
    else if (socket === undefined) this.#webSocket?.terminate();
    else if (mode === "end") {
      if (this.protocol === "rtmp") this.#rtmpDeleteStream?.();
      socket.end();
      // A server that never answers the FIN must not keep the player (or a test) waiting.
      setTimeout(() => socket.destroy(), 5_000).unref();
    } else if (mode === "reset" && !socket.connecting) socket.resetAndDestroy();
    else socket.destroy();
    return closed;
  }

  #fail(reason: string): void {
    if (this.failure === undefined && !this.#leaving) this.failure = reason;
  }

  #closedNow(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.#leaving) this.#fail("closed by the server");
    this.events.onClosed?.(this, this.failure);
    this.#onLeaveEnd?.();
  }

  #media(): void {
    const now = performance.now();
    if (this.firstMediaAt < 0) this.firstMediaAt = now;
    this.lastMediaAt = now;
    this.mediaMessages++;
    this.events.onMedia?.(this);
  }

  #gotBytes(count: number): void {
    if (this.bytes === 0 && count > 0) this.events.onFirstBytes?.(this);
    this.bytes += count;
  }

  #rtmpDeleteStream: (() => void) | undefined;

  #playRtmp(): void {
    const { host, rtmpPort, app, name } = this.address;
    const socket = connect({ port: rtmpPort, host, localAddress: this.localAddress });
    this.#socket = socket;
    socket.setNoDelay(true);
    const handshake = new HandshakeClient({ digest: false });
    let shaking = true;
    const decoder = new ChunkDecoder();
    const encoder = new ChunkEncoder();
    let acknowledged = 0;
    let streamId = 0;
    const send = (message: Parameters<ChunkEncoder["encode"]>[0]): void => {
      if (!socket.destroyed) socket.write(encoder.encode(message));
    };
    this.#rtmpDeleteStream = () => {
      if (streamId !== 0)
        send(
          commandMessage({
            name: "deleteStream",
            transactionId: 0,
            commandObject: null,
            args: [streamId],
          }),
        );
    };
    const onMessage = (message: RtmpMessage): void => {
      if (message.typeId === MessageType.video || message.typeId === MessageType.audio) {
        this.#media();
        return;
      }
      if (message.typeId !== MessageType.commandAmf0) return;
      const command = decodeCommand(message);
      if (command.name === "_result" && command.transactionId === 1) {
        send(commandMessage({ name: "createStream", transactionId: 2, commandObject: null, args: [] }));
      } else if (command.name === "_result" && command.transactionId === 2) {
        streamId = Number(command.args[0]);
        send(
          commandMessage(
            { name: "play", transactionId: 0, commandObject: null, args: [name, -2000] },
            streamId,
            8,
          ),
        );
      } else if (command.name === "_error") {
        this.#fail(`RTMP _error to transaction ${command.transactionId}`);
        socket.destroy();
      } else if (command.name === "onStatus") {
        const info = command.args[0] as { level?: unknown; code?: unknown } | undefined;
        if (info?.level === "error") {
          this.#fail(`RTMP status ${String(info.code)}`);
          socket.destroy();
        }
      }
    };
    socket.on("connect", () => {
      this.events.onConnected?.(this);
      if (!this.#leaving) socket.write(handshake.start());
    });
    socket.on("data", (chunk: Buffer) => {
      this.#gotBytes(chunk.length);
      // A player that never acknowledges would stall a server that honours the window size.
      if (this.bytes - acknowledged > 1_000_000) {
        acknowledged = this.bytes;
        send(acknowledgementMessage(acknowledged % 0x100000000));
      }
      let bytes = chunk;
      if (shaking) {
        const step = handshake.push(bytes);
        if (step.output) socket.write(step.output);
        if (!step.done) return;
        shaking = false;
        send(setChunkSizeMessage(4096));
        encoder.chunkSize = 4096;
        send(
          commandMessage({
            name: "connect",
            transactionId: 1,
            commandObject: {
              app,
              tcUrl: `rtmp://${host}:${rtmpPort}/${app}`,
              flashVer: "LNX 9,0,124,2",
              fpad: false,
              capabilities: 15,
              audioCodecs: 4071,
              videoCodecs: 252,
              videoFunction: 1,
            },
            args: [],
          }),
        );
        bytes = step.remainder;
        if (bytes.length === 0) return;
      }
      try {
        decoder.push(bytes, onMessage);
      } catch (error) {
        this.#fail(`RTMP decode: ${(error as Error).message}`);
        socket.destroy();
      }
    });
    socket.on("error", (error) => this.#fail(`socket: ${error.message}`));
    socket.on("close", () => this.#closedNow());
  }

  #playHttpFlv(): void {
    const { host, flvPort, app, name } = this.address;
    const socket = connect({ port: flvPort, host, localAddress: this.localAddress });
    this.#socket = socket;
    const demuxer = new FlvDemuxer();
    let head: Buffer | undefined = Buffer.alloc(0);
    const onBody = (bytes: Buffer): void => {
      try {
        demuxer.push(bytes, (tag) => {
          if (tag.kind !== "script") this.#media();
        });
      } catch (error) {
        this.#fail(`FLV demux: ${(error as Error).message}`);
        socket.destroy();
      }
    };
    socket.on("connect", () => {
      this.events.onConnected?.(this);
      if (!this.#leaving)
        socket.write(
          `GET /${app}/${name}.flv HTTP/1.1\r\nHost: ${host}:${flvPort}\r\nConnection: close\r\n\r\n`,
        );
    });
    socket.on("data", (chunk: Buffer) => {
      this.#gotBytes(chunk.length);
      if (head === undefined) {
        onBody(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      const headers = head.subarray(0, end).toString("latin1");
      const body = head.subarray(end + 4);
      head = undefined;
      if (!headers.startsWith("HTTP/1.1 200")) {
        this.#fail(`HTTP ${headers.split("\r\n")[0]}`);
        socket.destroy();
        return;
      }
      // The server sends a live body without chunked framing (it runs until the connection closes).
      if (/\r\ntransfer-encoding:\s*chunked/i.test(headers)) {
        this.#fail("HTTP-FLV answered with chunked framing, which this player does not read");
        socket.destroy();
        return;
      }
      if (body.length > 0) onBody(body);
    });
    socket.on("error", (error) => this.#fail(`socket: ${error.message}`));
    socket.on("close", () => this.#closedNow());
  }

  #playWsFlv(): void {
    const { host, flvPort, app, name } = this.address;
    const webSocket = new WebSocket(`ws://${host}:${flvPort}/${app}/${name}.flv`, {
      perMessageDeflate: false,
    });
    this.#webSocket = webSocket;
    const demuxer = new FlvDemuxer();
    webSocket.on("upgrade", (response) => {
      this.#socket = response.socket as Socket;
    });
    webSocket.on("open", () => {
      this.events.onConnected?.(this);
    });
    webSocket.on("message", (data: Buffer) => {
      this.#gotBytes(data.length);
      try {
        demuxer.push(data, (tag) => {
          if (tag.kind !== "script") this.#media();
        });
      } catch (error) {
        this.#fail(`FLV demux: ${(error as Error).message}`);
        webSocket.terminate();
      }
    });
    webSocket.on("unexpected-response", (_request, response) => {
      this.#fail(`WebSocket upgrade refused: HTTP ${response.statusCode}`);
      webSocket.terminate();
    });
    webSocket.on("error", (error) => this.#fail(`WebSocket: ${error.message}`));
    webSocket.on("close", (code) => {
      if (!this.#leaving) this.#fail(`WebSocket closed by the server (${code})`);
      this.#closedNow();
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Server observations
// ---------------------------------------------------------------------------------------------

/** Players per live stream, from `GET /streams` (the server's own count of open player sessions). */
export async function playersByStream(host: string, flvPort: number): Promise<Map<string, number>> {
  const response = await fetch(`http://${host}:${flvPort}/streams`);
  const body = (await response.json()) as { streams?: { key: string; players?: unknown[] }[] };
  return new Map((body.streams ?? []).map((stream) => [stream.key, stream.players?.length ?? 0]));
}

/** Bytes ingested so far for `key`, from `GET /streams`; undefined when the stream is not live. */
export async function streamBytes(host: string, flvPort: number, key: string): Promise<number | undefined> {
  const response = await fetch(`http://${host}:${flvPort}/streams`);
  const body = (await response.json()) as { streams?: { key: string; bytes?: number }[] };
  return body.streams?.find((stream) => stream.key === key)?.bytes;
}

/** Resolves once `key` is live on the server; rejects after `timeoutMs`. */
export async function waitForLive(
  host: string,
  flvPort: number,
  key: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await playersByStream(host, flvPort)).has(key)) return;
    await sleep(100);
  }
  throw new Error(`stream ${key} not live after ${timeoutMs} ms`);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** ffmpeg publishing a live test encode (testsrc2 + a sine tone) in real time. */
export function publishLiveEncode(
  url: string,
  spec: { width: number; height: number; fps: number; kbps: number },
): RunningProcess {
  if (!hasCommand("ffmpeg")) throw new Error("ffmpeg is not installed: the soak needs it to publish");
  const { width, height, fps, kbps } = spec;
  return run("ffmpeg", [
    "-hide_banner",
    "-loglevel",
    "error",
    "-re",
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=${width}x${height}:rate=${fps}`,
    "-re",
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=44100",
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-pix_fmt",
    "yuv420p",
    "-b:v",
    `${kbps}k`,
    "-maxrate",
    `${kbps}k`,
    "-bufsize",
    `${kbps}k`,
    "-g",
    String(fps * 2),
    "-keyint_min",
    String(fps * 2),
    "-sc_threshold",
    "0",
    "-c:a",
    "aac",
    "-b:a",
    "64k",
    "-f",
    "flv",
    url,
  ]);
}

/**
 * The server's own view through the inspector protocol: a full garbage collection before measuring
 * (so RSS and heap compare live memory, not garbage V8 has not collected yet: churning players
 * allocate fast, and V8 grows its heap by tens of MB before a full collection), the heap in use, and
 * the process's active handles (`process.getActiveResourcesInfo()`).
 */
export interface Inspector {
  collectGarbage(): Promise<void>;
  evaluate<T>(expression: string): Promise<T>;
  close(): void;
}

export async function openInspector(url: string): Promise<Inspector> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  socket.on("message", (data: Buffer) => {
    const message = JSON.parse(data.toString()) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
    };
    const call = message.id === undefined ? undefined : pending.get(message.id);
    if (call === undefined || message.id === undefined) return;
    pending.delete(message.id);
    if (message.error !== undefined) call.reject(new Error(message.error.message));
    else call.resolve(message.result);
  });
  const send = (method: string, params: object = {}): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });
  return {
    collectGarbage: async () => {
      await send("HeapProfiler.collectGarbage");
    },
    evaluate: async <T>(expression: string): Promise<T> => {
      const result = (await send("Runtime.evaluate", { expression, returnByValue: true })) as {
        result: { value: T };
        exceptionDetails?: { text: string };
      };
      if (result.exceptionDetails !== undefined) throw new Error(result.exceptionDetails.text);
      return result.result.value;
    },
    close: () => socket.terminate(),
  };
}

/**
 * The server process with its inspector on a free loopback port (through NODE_OPTIONS, so the
 * launcher in server-process.ts stays as it is), and a session to it.
 */
export async function startInspectedServer(): Promise<{ server: ServerProcess; inspector: Inspector }> {
  const nodeOptions = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${nodeOptions ?? ""} --inspect=127.0.0.1:0`;
  let server: ServerProcess;
  try {
    server = await startServer();
  } finally {
    if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = nodeOptions;
  }
  const url = /Debugger listening on (ws:\/\/\S+)/.exec(server.stderr())?.[1];
  if (url === undefined) {
    await server.stop();
    throw new Error(`no inspector URL from the server: ${server.stderr()}`);
  }
  return { server, inspector: await openInspector(url) };
}

// ---------------------------------------------------------------------------------------------
// The soak
// ---------------------------------------------------------------------------------------------

export interface SoakOptions {
  seconds: number;
  players: number;
  width: number;
  height: number;
  fps: number;
  /** Video bitrate, kbit/s (audio adds 64). */
  kbps: number;
  minStaySeconds: number;
  maxStaySeconds: number;
  /** A player without media for longer than this, while the publisher is up, is a stream error. */
  stallSeconds: number;
  /**
   * RSS samples before this many seconds are left out of the slope (warm-up). Default: half the run,
   * and at least `maxStaySeconds` (by then every player of the first crowd has left and been replaced).
   */
  warmupSeconds?: number;
  sampleMs: number;
  /**
   * Force a full garbage collection in the server (through its inspector) before each sample, and fit
   * the slope to the RSS after it. For short runs: in a minute the natural RSS saw-tooth (V8 growing
   * its heap, then collecting and returning pages; about 7 MB here) is larger than the trend a 1 %/min
   * threshold is about. Default false: the 10-minute soak measures the server as it runs.
   */
  collectGarbageBeforeSample?: boolean;
  /**
   * Short sessions (join, first media, leave; 50 at a time, protocols in turn) before the crowd comes,
   * outside the measurement. For short runs: the server's heap grows by a megabyte or so over its first
   * few thousand sessions (compiled code, inline caches) before it goes flat, a creep that a one-minute
   * window would read as a trend. Default 0.
   */
  prewarmSessions?: number;
  /** Progress lines (a summary every 10 s); default none. */
  log?: (line: string) => void;
}

export const DEFAULT_SOAK: SoakOptions = {
  seconds: 600,
  players: 200,
  width: 1280,
  height: 720,
  fps: 30,
  kbps: 2500,
  minStaySeconds: 5,
  maxStaySeconds: 30,
  stallSeconds: 5,
  sampleMs: 1000,
};

export interface RssSample {
  /** Seconds since the players started. */
  atSeconds: number;
  rssMb: number;
  /**
   * With `collectGarbageBeforeSample`: after a full collection, RSS, the V8 heap in use, and the
   * memory of Buffers and other ArrayBuffers (outside the V8 heap).
   */
  rssAfterGcMb?: number;
  heapUsedMb?: number;
  arrayBuffersMb?: number;
  fds: number;
  players: number;
}

export interface StreamError {
  atSeconds: number;
  what: string;
}

export interface SoakResult {
  date: string;
  options: Omit<SoakOptions, "log">;
  /** Seconds of samples the slope was fitted over: [from, to]. */
  slopeWindow: [number, number];
  /** What the slope was fitted to: VmRSS as sampled, or VmRSS after a forced full collection. */
  slopeOf: "rss" | "rss after full GC";
  /** RSS slope over the window, in % of the window's mean RSS per minute. */
  rssSlopePercentPerMinute: number;
  /** With `collectGarbageBeforeSample`: the live heap's slope over the same window, MB per minute. */
  heapSlopeMbPerMinute?: number;
  rssMeanMb: number;
  rssStartMb: number;
  rssEndMb: number;
  rssMaxMb: number;
  /** Server fds with the publisher up and no players, before any player came and after the crowd left. */
  fdsBefore: number;
  fdsAfter: number;
  /** The server's TCP sockets after the crowd left, when more fds were open than before: where they lead and their state. */
  leftoverSockets: string[];
  playersStarted: number;
  playersWithMedia: number;
  /** Median time from connect to first media, ms. */
  firstMediaMedianMs: number;
  /** Ingest rate measured from the server's byte counter, kbit/s. */
  streamKbps: number;
  /** Times the soak's own event loop was starved past half the stall limit (stall checks skipped). */
  clientStarvations: number;
  streamErrors: number;
  /** The first 50 stream errors. */
  errors: StreamError[];
  samples: RssSample[];
  passed: boolean;
}

/**
 * `count` players that join and leave as soon as their first media arrives (or after 5 s without it,
 * a failure), `concurrency` at a time, protocols and leave modes in turn. Resolves with the failures.
 */
export async function quickSessions(
  address: StreamAddress,
  count: number,
  concurrency = 50,
): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      const failure = await new Promise<string | undefined>((resolve) => {
        const player = new Player(PLAYER_PROTOCOLS[index % PLAYER_PROTOCOLS.length], address, {
          // Protocols rotate with the index, leave modes with the round, so each protocol leaves every way.
          onMedia: (p) =>
            void p.leave(LEAVE_MODES[Math.floor(index / PLAYER_PROTOCOLS.length) % LEAVE_MODES.length]),
          onClosed: (p, reason) => {
            clearTimeout(timer);
            resolve(reason ?? (p.mediaMessages === 0 ? "no media within 5 s" : undefined));
          },
        });
        const timer = setTimeout(() => void player.leave("destroy"), 5_000);
      });
      if (failure !== undefined) failures.push(failure);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return failures;
}

const TCP_STATES = [
  "",
  "ESTABLISHED",
  "SYN_SENT",
  "SYN_RECV",
  "FIN_WAIT1",
  "FIN_WAIT2",
  "TIME_WAIT",
  "CLOSE",
  "CLOSE_WAIT",
  "LAST_ACK",
  "LISTEN",
  "CLOSING",
];

/** The TCP sockets process `pid` holds, as "local -> remote STATE" (IPv4 from /proc/net/tcp; others by inode). */
export function tcpSockets(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined) inodes.add(inode);
    } catch {
      // The descriptor closed while we listed them.
    }
  }
  const endpoint = (hex: string): string => {
    const [ip, port] = hex.split(":");
    const bytes = Buffer.from(ip, "hex");
    return `${bytes[3]}.${bytes[2]}.${bytes[1]}.${bytes[0]}:${Number.parseInt(port, 16)}`;
  };
  const found: string[] = [];
  for (const line of readFileSync(`/proc/${pid}/net/tcp`, "utf8").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || !inodes.has(fields[9])) continue;
    inodes.delete(fields[9]);
    found.push(
      `${endpoint(fields[1])} -> ${endpoint(fields[2])} ${TCP_STATES[Number.parseInt(fields[3], 16)] ?? fields[3]}`,
    );
  }
  for (const inode of inodes) found.push(`socket inode ${inode} (not IPv4 TCP)`);
  return found;
}

/** Least-squares slope of y over x. */
export function linearSlope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const meanX = points.reduce((sum, p) => sum + p.x, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.y, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const p of points) {
    covariance += (p.x - meanX) * (p.y - meanY);
    variance += (p.x - meanX) ** 2;
  }
  return covariance / variance;
}

/** The slope of `value` over the samples from `fromSeconds` on, in % of its mean per minute, and in MB per minute. */
export function slopePercentPerMinute(
  samples: RssSample[],
  fromSeconds: number,
  value: (sample: RssSample) => number = (sample) => sample.rssMb,
): { slope: number; mbPerMinute: number; meanMb: number } {
  const window = samples.filter((s) => s.atSeconds >= fromSeconds);
  const meanMb = window.reduce((sum, s) => sum + value(s), 0) / window.length;
  const mbPerMinute = linearSlope(window.map((s) => ({ x: s.atSeconds, y: value(s) }))) * 60;
  return { slope: (mbPerMinute / meanMb) * 100, mbPerMinute, meanMb };
}

export const SLOPE_LIMIT_PERCENT_PER_MINUTE = 1;
const STREAM_KEY = { app: "live", name: "soak" };
const MAX_LISTED_ERRORS = 50;

/** Runs the soak against a fresh server process; always stops every process and player it started. */
export async function runSoak(partial: Partial<SoakOptions> = {}): Promise<SoakResult> {
  const options: SoakOptions = { ...DEFAULT_SOAK, ...partial };
  const log = options.log ?? (() => {});
  const warmupSeconds = options.warmupSeconds ?? Math.max(options.seconds / 2, options.maxStaySeconds);
  const key = `${STREAM_KEY.app}/${STREAM_KEY.name}`;
  const errors: StreamError[] = [];
  let streamErrors = 0;
  let t0 = performance.now();
  const elapsed = (): number => (performance.now() - t0) / 1000;
  const error = (what: string): void => {
    streamErrors++;
    if (errors.length < MAX_LISTED_ERRORS) errors.push({ atSeconds: Math.round(elapsed() * 10) / 10, what });
    log(`stream error at ${elapsed().toFixed(1)} s: ${what}`);
  };

  let inspector: Inspector | undefined;
  let server: ServerProcess;
  if (options.collectGarbageBeforeSample === true) ({ server, inspector } = await startInspectedServer());
  else server = await startServer();
  let publisher: RunningProcess | undefined;
  const players = new Set<Player>();
  /** Join timers and the check interval; the players' stay timers are apart. All cleared on the way out. */
  const timers = new Set<NodeJS.Timeout>();
  const stayTimers = new Map<Player, NodeJS.Timeout>();
  let running = true;
  try {
    const address: StreamAddress = {
      host: "127.0.0.1",
      rtmpPort: server.rtmpPort,
      flvPort: server.flvPort,
      ...STREAM_KEY,
    };
    publisher = publishLiveEncode(`rtmp://127.0.0.1:${server.rtmpPort}/${key}`, options);
    await waitForLive(address.host, address.flvPort, key);
    // Let the encoder reach its first full GOP before the crowd comes.
    await sleep(2_000);
    const fdsBefore = server.fdCount();
    for (const failure of await quickSessions(address, options.prewarmSessions ?? 0))
      error(`prewarm: ${failure}`);
    const bytesAtStart = (await streamBytes(address.host, address.flvPort, key)) ?? 0;

    let publisherUp = true;
    const activePublisher = publisher;
    void activePublisher.exited.then((code) => {
      publisherUp = false;
      if (running) error(`publisher exited (${code}): ${activePublisher.stderr().slice(-300)}`);
    });
    // What the server wrote before the players came (the inspector's banner) is not an error.
    let serverStderrSeen = server.stderr().length;
    let publisherStderrSeen = 0;
    const checkStderr = (): void => {
      const serverErr = server.stderr();
      if (serverErr.length > serverStderrSeen) {
        for (const line of serverErr
          .slice(serverStderrSeen)
          .split("\n")
          .filter((l) => l.trim() !== ""))
          error(`server stderr: ${line.slice(0, 300)}`);
        serverStderrSeen = serverErr.length;
      }
      const publisherErr = activePublisher.stderr();
      if (publisherErr.length > publisherStderrSeen) {
        for (const line of publisherErr
          .slice(publisherStderrSeen)
          .split("\n")
          .filter((l) => l.trim() !== ""))
          error(`publisher stderr: ${line.slice(0, 300)}`);
        publisherStderrSeen = publisherErr.length;
      }
    };

    let playersStarted = 0;
    let playersWithMedia = 0;
    const firstMediaMs: number[] = [];
    const random = (from: number, to: number): number => from + Math.random() * (to - from);
    const stalled = new WeakSet<Player>();

    /**
     * How long a player stays. The first crowd all joins at once; if its stays were drawn like the
     * later ones, every first player would leave between 5 and 30 s and the join rate (and the memory
     * that goes with joins) would only settle after 30 s. So the first crowd gets the time a player
     * seen at a random moment still has left (a length-biased stay, a uniform part of it): the crowd
     * churns at its steady rate from the start.
     */
    const stayMs = (firstCrowd: boolean): number => {
      const { minStaySeconds: a, maxStaySeconds: b } = options;
      if (!firstCrowd) return random(a, b) * 1000;
      const lengthBiased = Math.sqrt(a * a + Math.random() * (b * b - a * a));
      return Math.random() * lengthBiased * 1000;
    };
    const startOne = (slot: number, firstCrowd = false): void => {
      if (!running) return;
      const protocol = PLAYER_PROTOCOLS[(slot + playersStarted) % PLAYER_PROTOCOLS.length];
      playersStarted++;
      const player = new Player(
        protocol,
        address,
        {
          onMedia: (p) => {
            if (p.mediaMessages === 1) {
              playersWithMedia++;
              firstMediaMs.push(p.firstMediaAt - p.startedAt);
            }
          },
          onClosed: (p, failure) => {
            players.delete(p);
            clearTimeout(stayTimers.get(p));
            stayTimers.delete(p);
            if (failure !== undefined && running) error(`${p.protocol} player ${p.id}: ${failure}`);
            // A player the server dropped is replaced at once too, so the crowd keeps its size.
            if (!p.leaving) startOne(slot);
          },
        },
        loopbackAddress(playersStarted),
      );
      players.add(player);
      stayTimers.set(
        player,
        setTimeout(() => {
          stayTimers.delete(player);
          if (!running) return;
          void player.leave(LEAVE_MODES[Math.floor(Math.random() * LEAVE_MODES.length)]);
          startOne(slot);
        }, stayMs(firstCrowd)),
      );
    };

    t0 = performance.now();
    // Join over the first two seconds rather than in one burst: the soak is about steady churn.
    for (let slot = 0; slot < options.players; slot++) {
      timers.add(setTimeout(() => startOne(slot, true), (slot * 2000) / options.players));
    }

    const samples: RssSample[] = [];
    let clientStarvations = 0;
    let lastCheck = performance.now();
    const stallMs = options.stallSeconds * 1000;
    const check = (): void => {
      const now = performance.now();
      // If this process itself was starved, the players' clocks are stale: skip rather than blame the server.
      const starved = now - lastCheck > stallMs / 2;
      lastCheck = now;
      if (starved) {
        clientStarvations++;
        return;
      }
      checkStderr();
      if (!server.alive() && running) {
        error("server exited");
        running = false;
      }
      if (!publisherUp) return;
      for (const player of players) {
        if (player.leaving || stalled.has(player)) continue;
        const since = player.lastMediaAt >= 0 ? player.lastMediaAt : player.startedAt;
        if (now - since > stallMs) {
          stalled.add(player);
          error(
            player.lastMediaAt >= 0
              ? `${player.protocol} player ${player.id}: no media for ${options.stallSeconds} s`
              : `${player.protocol} player ${player.id}: no media within ${options.stallSeconds} s of joining`,
          );
        }
      }
    };
    const checkTimer = setInterval(check, 250);
    timers.add(checkTimer);

    let nextLog = 10;
    while (elapsed() < options.seconds && running) {
      await sleep(options.sampleMs);
      if (!server.alive()) break;
      const sample: RssSample = {
        atSeconds: Math.round(elapsed() * 100) / 100,
        rssMb: Math.round((server.rssBytes() / MB) * 100) / 100,
        fds: server.fdCount(),
        players: players.size,
      };
      if (inspector !== undefined) {
        await inspector.collectGarbage();
        sample.rssAfterGcMb = Math.round((server.rssBytes() / MB) * 100) / 100;
        const memory = await inspector.evaluate<{ heapUsed: number; arrayBuffers: number }>(
          "process.memoryUsage()",
        );
        sample.heapUsedMb = Math.round((memory.heapUsed / MB) * 100) / 100;
        sample.arrayBuffersMb = Math.round((memory.arrayBuffers / MB) * 100) / 100;
      }
      samples.push(sample);
      if (elapsed() >= nextLog) {
        nextLog += 10;
        const last = samples[samples.length - 1];
        log(
          `${elapsed().toFixed(0)} s: RSS ${last.rssMb.toFixed(1)} MB, fds ${last.fds}, players ${last.players}, started ${playersStarted}, errors ${streamErrors}`,
        );
      }
    }
    check();
    const soakSeconds = elapsed();
    const bytesAtEnd = (await streamBytes(address.host, address.flvPort, key).catch(() => undefined)) ?? 0;
    running = false;
    for (const timer of [...timers, ...stayTimers.values()]) clearTimeout(timer);
    await Promise.all([...players].map((player) => player.leave("destroy")));

    // Every player has gone: the server must agree, and give back their descriptors.
    let listed = -1;
    const settleDeadline = Date.now() + 10_000;
    while (server.alive() && Date.now() < settleDeadline) {
      listed = (await playersByStream(address.host, address.flvPort)).get(key) ?? 0;
      if (listed === 0 && server.fdCount() <= fdsBefore) break;
      await sleep(100);
    }
    if (listed !== 0) error(`the server still lists ${listed} players after all left`);
    const fdsAfter = server.alive() ? server.fdCount() : -1;
    const leftoverSockets = fdsAfter > fdsBefore ? tcpSockets(server.pid) : [];
    checkStderr();

    const fromSeconds = Math.min(warmupSeconds, soakSeconds / 2);
    const afterGc = inspector !== undefined;
    const { slope, meanMb } = slopePercentPerMinute(samples, fromSeconds, (sample) =>
      afterGc ? (sample.rssAfterGcMb ?? Number.NaN) : sample.rssMb,
    );
    const heapSlope = afterGc
      ? slopePercentPerMinute(samples, fromSeconds, (sample) => sample.heapUsedMb ?? Number.NaN).mbPerMinute
      : undefined;
    const rss = samples.map((s) => s.rssMb);
    firstMediaMs.sort((a, b) => a - b);
    const result: SoakResult = {
      date: new Date().toISOString(),
      options: { ...options, log: undefined } as Omit<SoakOptions, "log">,
      slopeWindow: [fromSeconds, samples[samples.length - 1]?.atSeconds ?? fromSeconds],
      slopeOf: afterGc ? "rss after full GC" : "rss",
      rssSlopePercentPerMinute: Math.round(slope * 1000) / 1000,
      ...(heapSlope === undefined ? {} : { heapSlopeMbPerMinute: Math.round(heapSlope * 1000) / 1000 }),
      rssMeanMb: Math.round(meanMb * 10) / 10,
      rssStartMb: rss[0] ?? Number.NaN,
      rssEndMb: rss[rss.length - 1] ?? Number.NaN,
      rssMaxMb: Math.max(...rss),
      fdsBefore,
      fdsAfter,
      leftoverSockets,
      playersStarted,
      playersWithMedia,
      firstMediaMedianMs: Math.round(firstMediaMs[Math.floor(firstMediaMs.length / 2)] ?? Number.NaN),
      streamKbps: Math.round(((bytesAtEnd - bytesAtStart) * 8) / 1000 / soakSeconds),
      clientStarvations,
      streamErrors,
      errors,
      samples,
      passed: false,
    };
    delete (result.options as Partial<SoakOptions>).log;
    result.passed = streamErrors === 0 && slope < SLOPE_LIMIT_PERCENT_PER_MINUTE;
    return result;
  } finally {
    running = false;
    for (const timer of [...timers, ...stayTimers.values()]) clearTimeout(timer);
    for (const player of players) void player.leave("destroy");
    publisher?.kill();
    await publisher?.exited;
    inspector?.close();
    await server.stop();
  }
}

export function writeSoakResult(result: SoakResult, path = join(root, ".test-results/soak.json")): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  return path;
}

export function summarize(result: SoakResult): string {
  const o = result.options;
  return [
    `soak: ${o.seconds} s, ${o.players} players (${o.minStaySeconds}–${o.maxStaySeconds} s each; RTMP, HTTP-FLV, WS-FLV), ${o.width}x${o.height}@${o.fps} at ${o.kbps}+64 kbit/s (measured ingest ${result.streamKbps} kbit/s)`,
    `players: ${result.playersStarted} started, ${result.playersWithMedia} got media, first media median ${result.firstMediaMedianMs} ms`,
    `RSS: start ${result.rssStartMb.toFixed(1)} MB, end ${result.rssEndMb.toFixed(1)} MB, max ${result.rssMaxMb.toFixed(1)} MB, mean ${result.rssMeanMb} MB over ${result.slopeWindow[0]}–${result.slopeWindow[1]} s`,
    `${result.slopeOf === "rss" ? "RSS" : "RSS after a full GC"} slope over ${result.slopeWindow[0]}–${result.slopeWindow[1]} s: ${result.rssSlopePercentPerMinute.toFixed(3)} %/min (limit < ${SLOPE_LIMIT_PERCENT_PER_MINUTE})${result.heapSlopeMbPerMinute === undefined ? "" : `; live heap ${result.heapSlopeMbPerMinute.toFixed(3)} MB/min`}`,
    `fds: ${result.fdsBefore} before any player, ${result.fdsAfter} after the crowd left${result.leftoverSockets.length > 0 ? `; the server's TCP sockets then:\n  ${result.leftoverSockets.join("\n  ")}` : ""}`,
    `stream errors: ${result.streamErrors}${result.errors.length > 0 ? `\n  ${result.errors.map((e) => `${e.atSeconds} s: ${e.what}`).join("\n  ")}` : ""}`,
    `soak process starved (stall checks skipped): ${result.clientStarvations}`,
    result.passed ? "PASS" : "FAIL",
  ].join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string" },
      players: { type: "string" },
      size: { type: "string" },
      kbps: { type: "string" },
      "gc-before-sample": { type: "boolean" },
    },
  });
  const [width, height] = (values.size ?? `${DEFAULT_SOAK.width}x${DEFAULT_SOAK.height}`)
    .split("x")
    .map(Number);
  const result = await runSoak({
    seconds: Number(values.seconds ?? DEFAULT_SOAK.seconds),
    players: Number(values.players ?? DEFAULT_SOAK.players),
    width,
    height,
    kbps: Number(values.kbps ?? DEFAULT_SOAK.kbps),
    collectGarbageBeforeSample: values["gc-before-sample"] === true,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const path = writeSoakResult(result);
  process.stdout.write(`${summarize(result)}\nwritten ${path}\n`);
  process.exit(result.passed ? 0 : 1);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
