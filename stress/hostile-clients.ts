/**
 * The hostile clients of the stress tests, each a loop that attacks one server port until stopped,
 * opening a new connection when the server closes the last one. Run a few kinds together as a
 * crowd with {@link startHostileCrowd}, or one alone with {@link startHostileKind}.
 *
 * Every loop paces itself (short pauses between connections) so the crowd measures the server, not
 * the CPU the attackers burn on a shared 2-core machine.
 */
import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import type { Socket } from "node:net";
import {
  chunkHeader,
  connectTcp,
  deepAmfConnectBody,
  encodeChunks,
  MAX_ANNOUNCED_LENGTH,
  MAX_ONE_BYTE_CSID,
  MessageTypeId,
  rtmpHandshake,
  setChunkSize,
} from "./raw-rtmp.js";

export interface HostileTarget {
  host: string;
  rtmpPort: number;
  flvPort: number;
  /** "app/name" of the live stream, for the HTTP-FLV players that never read. Default "live/stress". */
  streamKey?: string;
}

/** What one kind did while it ran. */
export interface HostileStats {
  /** Connections opened. */
  connections: number;
  /** Connections the server closed (or reset) before the client gave up on them. */
  closedByServer: number;
  /** Connection attempts that failed (refused: a connection limit, or the server gone). */
  refused: number;
  /** Bytes written. */
  bytesSent: number;
}

export interface TrickleOptions {
  /**
   * Chunk streams each announcing a 16 MiB message. 1 (default): Set Chunk Size 0x7fffffff and one
   * message. More (2..61): Set Chunk Size `bytesPerStep`, open them all, then continue them in turn.
   */
  chunkStreams?: number;
  /** Payload bytes per step. Default 64. */
  bytesPerStep?: number;
  /** Pause between steps, in ms. Default 100. */
  stepIntervalMs?: number;
  /** Each connection lives this long before it is dropped and replaced, in ms. Default 3 000. */
  lifetimeMs?: number;
}

/** The attack kinds. Each takes the target, its stats and a stop signal, and loops one connection at a time. */
export const hostileKinds = {
  /** Random bytes to the RTMP port, instead of a handshake. */
  rtmpRandomBytes: loop(async (target, attempt, signal) => {
    const socket = await open(target.host, target.rtmpPort, attempt);
    send(socket, randomBytes(16 * 1024), attempt.stats);
    await holdUntilClosed(socket, 1_000, attempt.stats, signal);
  }),

  /** A valid simple handshake, then random bytes. */
  rtmpGarbageAfterHandshake: loop(async (target, attempt, signal) => {
    const socket = await open(target.host, target.rtmpPort, attempt);
    await rtmpHandshake(socket);
    send(socket, randomBytes(16 * 1024), attempt.stats);
    await holdUntilClosed(socket, 1_000, attempt.stats, signal);
  }),

  /** Messages announcing 16 MiB whose bytes trickle in; see {@link TrickleOptions}. */
  rtmpTrickle16MB: (options: TrickleOptions = {}) =>
    loop(async (target, attempt, signal) => {
      const socket = await open(target.host, target.rtmpPort, attempt);
      await rtmpHandshake(socket);
      await trickleHugeMessages(socket, options, attempt.stats, signal);
    }),

  /** The same on 60 chunk streams at once (chunk size 64), each announcing 16 MiB: ~1 GiB announced per connection. */
  rtmpTrickle16MBChunkStreams: loop(async (target, attempt, signal) => {
    const socket = await open(target.host, target.rtmpPort, attempt);
    await rtmpHandshake(socket);
    const options = { chunkStreams: 60, bytesPerStep: 64, stepIntervalMs: 50, lifetimeMs: 3_000 };
    await trickleHugeMessages(socket, options, attempt.stats, signal);
  }),

  /** A `connect` whose AMF0 command object nests 50 000 deep (it segfaults nginx-rtmp). */
  rtmpDeepAmf: loop(async (target, attempt, signal) => {
    const socket = await open(target.host, target.rtmpPort, attempt);
    await rtmpHandshake(socket);
    send(socket, Buffer.concat([setChunkSize(65_536), deepAmfConnect()]), attempt.stats);
    await holdUntilClosed(socket, 2_000, attempt.stats, signal);
  }),

  /** A socket that connects and says nothing. Run many at once. */
  rtmpIdle: loop(async (target, attempt, signal) => {
    const socket = await open(target.host, target.rtmpPort, attempt);
    await holdUntilClosed(socket, 60_000, attempt.stats, signal);
  }),

  /** Slowloris: an HTTP request whose headers arrive one byte every 100 ms and never end. */
  httpSlowloris: loop(async (target, attempt, signal) => {
    const socket = await open(target.host, target.flvPort, attempt);
    const request = Buffer.from(`GET /${streamKey(target)}.flv HTTP/1.1\r\nHost: x\r\n`);
    const header = Buffer.from("X-Slow: a\r\n");
    let sent = 0;
    const timer = setInterval(() => {
      const source = sent < request.length ? request : header;
      const at = sent < request.length ? sent : (sent - request.length) % header.length;
      send(socket, source.subarray(at, at + 1), attempt.stats);
      sent++;
    }, 100);
    try {
      await holdUntilClosed(socket, 60_000, attempt.stats, signal);
    } finally {
      clearInterval(timer);
    }
  }),

  /** A GET whose URL is 64 KiB long. */
  httpLongUrl: loop(async (target, attempt, signal) => {
    const socket = await open(target.host, target.flvPort, attempt);
    send(
      socket,
      Buffer.from(`GET /live/${"a".repeat(64 * 1024)}.flv HTTP/1.1\r\nHost: x\r\n\r\n`),
      attempt.stats,
    );
    socket.resume();
    await holdUntilClosed(socket, 1_000, attempt.stats, signal);
  }),

  /** Random bytes to the HTTP port. */
  httpGarbage: loop(async (target, attempt, signal) => {
    const socket = await open(target.host, target.flvPort, attempt);
    send(socket, randomBytes(8 * 1024), attempt.stats);
    socket.resume();
    await holdUntilClosed(socket, 1_000, attempt.stats, signal);
  }),

  /** An HTTP-FLV player of the live stream that never reads: the socket is paused for good. */
  httpFlvNeverReads: loop(async (target, attempt, signal) => {
    const socket = await open(target.host, target.flvPort, attempt);
    socket.pause();
    send(socket, Buffer.from(`GET /${streamKey(target)}.flv HTTP/1.1\r\nHost: x\r\n\r\n`), attempt.stats);
    await holdUntilClosed(socket, 60_000, attempt.stats, signal);
  }),
};

export type HostileKindName = keyof typeof hostileKinds;

/** How many of each kind run at once. */
export type CrowdMix = Partial<Record<HostileKindName, number>>;

/** The crowd of issue 8: every kind at once, 300 idle sockets among them. */
export const ISSUE_8_CROWD: Readonly<CrowdMix> = Object.freeze({
  rtmpRandomBytes: 2,
  rtmpGarbageAfterHandshake: 2,
  rtmpTrickle16MB: 6,
  rtmpTrickle16MBChunkStreams: 2,
  rtmpDeepAmf: 1,
  rtmpIdle: 300,
  httpSlowloris: 20,
  httpLongUrl: 1,
  httpGarbage: 2,
  httpFlvNeverReads: 8,
});

export interface RunningCrowd {
  /** Live counts so far, by kind. */
  stats: Record<string, HostileStats>;
  /** Stops every loop, destroys every socket; resolves with the final stats once all have ended. */
  stop(): Promise<Record<string, HostileStats>>;
}

type KindLoop = (target: HostileTarget, stats: HostileStats, signal: AbortSignal) => Promise<void>;

/** Starts `mix` against `target`. The trickle kind uses `trickle` (default: one 16 MiB message at chunk size 2^31-1). */
export function startHostileCrowd(
  target: HostileTarget,
  mix: CrowdMix = ISSUE_8_CROWD,
  trickle: TrickleOptions = {},
): RunningCrowd {
  const controller = new AbortController();
  // Every loop of the crowd listens on this one signal (hundreds of them): not a leak.
  setMaxListeners(0, controller.signal);
  const stats: Record<string, HostileStats> = {};
  const loops: Promise<void>[] = [];
  for (const [name, count] of Object.entries(mix) as [HostileKindName, number][]) {
    const kind: KindLoop =
      name === "rtmpTrickle16MB" ? hostileKinds.rtmpTrickle16MB(trickle) : hostileKinds[name];
    const kindStats: HostileStats = { connections: 0, closedByServer: 0, refused: 0, bytesSent: 0 };
    stats[name] = kindStats;
    for (let i = 0; i < count; i++) {
      // Spread the starts over the first 500 ms so 300 idle sockets do not all arrive in one tick.
      loops.push(
        delay((i * 500) / count, controller.signal).then(() => kind(target, kindStats, controller.signal)),
      );
    }
  }
  let stopped: Promise<Record<string, HostileStats>> | undefined;
  return {
    stats,
    stop: () => {
      stopped ??= (async () => {
        controller.abort();
        await Promise.all(loops);
        return stats;
      })();
      return stopped;
    },
  };
}

/** One kind alone, `count` connections at a time. */
export function startHostileKind(
  target: HostileTarget,
  kind: HostileKindName,
  count: number,
  trickle: TrickleOptions = {},
): RunningCrowd {
  return startHostileCrowd(target, { [kind]: count }, trickle);
}

/** Runs `attack` until `signal` aborts, a new connection each time; never rejects, leaves no socket open. */
function loop(
  attack: (target: HostileTarget, attempt: Attempt, signal: AbortSignal) => Promise<void>,
): KindLoop {
  return async (target, stats, signal) => {
    while (!signal.aborted) {
      const attempt: Attempt = { stats, sockets: [] };
      try {
        await attack(target, attempt, signal);
      } catch {
        // Refused, reset or timed out: all expected from a server defending itself.
      } finally {
        for (const socket of attempt.sockets) socket.destroy();
      }
      await delay(100 + Math.random() * 100, signal);
    }
  };
}

/** One pass of a loop: the kind's stats and the sockets it opened, destroyed when the pass ends. */
interface Attempt {
  stats: HostileStats;
  sockets: Socket[];
}

const sockets = new WeakMap<Socket, { closedByUs: boolean }>();

async function open(host: string, port: number, attempt: Attempt): Promise<Socket> {
  try {
    const socket = await connectTcp(host, port);
    attempt.stats.connections++;
    attempt.sockets.push(socket);
    sockets.set(socket, { closedByUs: false });
    return socket;
  } catch (error) {
    attempt.stats.refused++;
    throw error;
  }
}

function send(socket: Socket, bytes: Buffer, stats: HostileStats): void {
  if (socket.destroyed || !socket.writable) return;
  stats.bytesSent += bytes.length;
  socket.write(bytes);
}

/** Waits until the server closes `socket`, `ms` pass or `signal` aborts; then makes sure it is gone. */
function holdUntilClosed(
  socket: Socket,
  ms: number,
  stats: HostileStats,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      socket.off("close", onClose);
      const state = sockets.get(socket);
      if (state !== undefined) state.closedByUs = true;
      socket.destroy();
      resolve();
    };
    const onClose = (): void => {
      if (sockets.get(socket)?.closedByUs !== true) stats.closedByServer++;
      finish();
    };
    const timer = setTimeout(finish, ms);
    if (socket.destroyed) onClose();
    socket.once("close", onClose);
    socket.once("end", () => socket.destroy());
    signal.addEventListener("abort", finish, { once: true });
  });
}

/**
 * Announces 16 MiB messages (type 9, stream 1) and feeds them `bytesPerStep` bytes per step, one
 * chunk stream after another, until the lifetime ends, the server closes or `signal` aborts.
 */
async function trickleHugeMessages(
  socket: Socket,
  options: TrickleOptions,
  stats: HostileStats,
  signal: AbortSignal,
): Promise<void> {
  const chunkStreams = Math.max(1, Math.min(options.chunkStreams ?? 1, MAX_ONE_BYTE_CSID - 2));
  const bytesPerStep = options.bytesPerStep ?? 64;
  const stepIntervalMs = options.stepIntervalMs ?? 100;
  const lifetimeMs = options.lifetimeMs ?? 3_000;
  const firstCsid = 3;
  if (chunkStreams === 1) {
    send(socket, setChunkSize(0x7fffffff), stats);
    send(socket, chunkHeader(firstCsid, MessageTypeId.video, 1, 0, MAX_ANNOUNCED_LENGTH), stats);
  } else {
    // Every chunk stream gets its header and first chunk at once: that is when a naive decoder
    // allocates 16 MiB for each.
    send(socket, setChunkSize(bytesPerStep), stats);
    for (let i = 0; i < chunkStreams; i++) {
      send(socket, chunkHeader(firstCsid + i, MessageTypeId.video, 1, 0, MAX_ANNOUNCED_LENGTH), stats);
      send(socket, randomBytes(bytesPerStep), stats);
    }
  }
  let step = 0;
  const timer = setInterval(() => {
    if (chunkStreams === 1) {
      send(socket, randomBytes(bytesPerStep), stats);
    } else {
      const csid = firstCsid + (step % chunkStreams);
      send(socket, Buffer.concat([Buffer.from([0xc0 | csid]), randomBytes(bytesPerStep)]), stats);
    }
    step++;
  }, stepIntervalMs);
  try {
    await holdUntilClosed(socket, lifetimeMs, stats, signal);
  } finally {
    clearInterval(timer);
  }
}

let deepAmfMessage: Buffer | undefined;
function deepAmfConnect(): Buffer {
  deepAmfMessage ??= encodeChunks(3, MessageTypeId.commandAmf0, 0, 0, deepAmfConnectBody(50_000), 65_536);
  return deepAmfMessage;
}

function streamKey(target: HostileTarget): string {
  return target.streamKey ?? "live/stress";
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
