/**
 * The real onair server as a child process (the CLI run from source), for tests that measure what the
 * operating system sees: resident memory (VmRSS) and open file descriptors, read from /proc.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { onairCliArgs } from "../bench/onair-cli.js";
import { freePort, type RunningProcess, run, waitFor } from "../test-support/media-tools.js";

/**
 * The checkout whose server runs: this one, or ONAIR_STRESS_ROOT to measure another (say an older
 * commit, for a before/after figure) with the same tests.
 */
const root = process.env.ONAIR_STRESS_ROOT ?? fileURLToPath(new URL("..", import.meta.url));

export interface ServerProcess {
  pid: number;
  rtmpPort: number;
  flvPort: number;
  /** Resident set size now (VmRSS), in bytes. */
  rssBytes(): number;
  /** Highest resident set size since start or since the last resetPeakRss() (VmHWM), in bytes. */
  peakRssBytes(): number;
  /** Starts a new peak measurement (writes 5 to /proc/PID/clear_refs); false if the kernel refused. */
  resetPeakRss(): boolean;
  /**
   * Private data address space now (VmData: heap, anonymous mappings), in bytes. Unlike RSS it
   * counts memory allocated and not yet touched, such as a buffer sized on a length a peer announced.
   */
  dataBytes(): number;
  /** Open file descriptors now (entries of /proc/PID/fd). */
  fdCount(): number;
  /** True while the process runs. */
  alive(): boolean;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process has exited. Idempotent. */
  stop(): Promise<void>;
}

function statusField(pid: number, field: "VmRSS" | "VmHWM" | "VmData"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/**
 * Starts `onair` on 127.0.0.1 with free RTMP and FLV ports and resolves once both listen.
 * `extraArgs` go to the CLI after the host and ports (e.g. ["--batch-window", "0"]).
 */
export async function startServer(extraArgs: string[] = []): Promise<ServerProcess> {
  const rtmpPort = await freePort();
  const flvPort = await freePort();
  const child: RunningProcess = run(
    process.execPath,
    onairCliArgs({ rtmp: rtmpPort, flv: flvPort }, extraArgs, root),
  );
  const pid = child.child.pid;
  let exited = false;
  void child.exited.then(() => {
    exited = true;
  });
  try {
    await waitFor(
      () => exited || child.stdout().includes("HTTP-FLV listening"),
      30_000,
      "the onair server to listen",
    );
  } catch (error) {
    child.kill();
    throw error;
  }
  if (exited || pid === undefined) {
    throw new Error(`onair server exited at start: ${child.stderr()}${child.stdout()}`);
  }
  let stopped: Promise<void> | undefined;
  return {
    pid,
    rtmpPort,
    flvPort,
    rssBytes: () => statusField(pid, "VmRSS"),
    peakRssBytes: () => statusField(pid, "VmHWM"),
    resetPeakRss: () => {
      try {
        writeFileSync(`/proc/${pid}/clear_refs`, "5");
        return true;
      } catch {
        return false;
      }
    },
    dataBytes: () => statusField(pid, "VmData"),
    fdCount: () => readdirSync(`/proc/${pid}/fd`).length,
    alive: () => !exited,
    stdout: child.stdout,
    stderr: child.stderr,
    stop: () => {
      stopped ??= (async () => {
        if (exited) return;
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await child.exited;
        clearTimeout(timer);
      })();
      return stopped;
    },
  };
}

/** Samples `server.rssBytes()` every `intervalMs` and keeps the highest value seen (works where clear_refs is refused). */
export function sampleRss(
  server: Pick<ServerProcess, "rssBytes" | "alive">,
  intervalMs = 100,
): { peak(): number; stop(): number } {
  let peak = server.rssBytes();
  const timer = setInterval(() => {
    try {
      if (server.alive()) peak = Math.max(peak, server.rssBytes());
    } catch {
      // The process exited between the check and the read; the test that owns it will notice.
    }
  }, intervalMs);
  return {
    peak: () => peak,
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}

/** Samples RSS and VmData every `intervalMs`, keeping the highest of each. */
export function sampleMemory(
  server: Pick<ServerProcess, "rssBytes" | "dataBytes" | "alive">,
  intervalMs = 100,
): { peakRss(): number; peakData(): number; stop(): void } {
  let peakRss = server.rssBytes();
  let peakData = server.dataBytes();
  const timer = setInterval(() => {
    try {
      if (!server.alive()) return;
      peakRss = Math.max(peakRss, server.rssBytes());
      peakData = Math.max(peakData, server.dataBytes());
    } catch {
      // The process exited between the check and the read; the test that owns it will notice.
    }
  }, intervalMs);
  return { peakRss: () => peakRss, peakData: () => peakData, stop: () => clearInterval(timer) };
}

export const MB = 1024 * 1024;
