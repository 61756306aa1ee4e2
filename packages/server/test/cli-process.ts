/**
 * The `onair` CLI as a separate process, run from source (tsx) as a user runs it, with a YAML config
 * in a temp folder: the harness for end-to-end tests of the ready server (config, API, keys,
 * webhooks, metrics, RTMPS, HLS, relays, shutdown).
 *
 *   const cli = await startCli({ config: { rtmp_noauth: true } });
 *   publishWithFfmpeg(cli.url("rtmp", "live/demo"), { seconds: 3 });
 *   await cli.waitForLog("publish live/demo");
 *   const { code, ms } = await cli.stop();
 *
 * Ports: every listener the config does not place gets port 0 (a free one) on 127.0.0.1, and the
 * harness reads the bound ports from the CLI's "listening" lines.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { type RunningProcess, run, tempDir, waitFor } from "../../../test-support/media-tools.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
export const CLI_PATH = join(root, "packages/server/src/cli.ts");

/** Node arguments that run the CLI from source. */
export function cliNodeArgs(args: string[]): string[] {
  return ["--conditions=source", "--import", "tsx", CLI_PATH, ...args];
}

export interface CliOptions {
  /**
   * Settings, written to a temp YAML file passed with `-c`. An object gets the harness's placement
   * for what it leaves out (host 127.0.0.1, port 0 for every listener); a string is written as is.
   * `null`: no config file.
   */
  config?: Record<string, unknown> | string | null;
  /** More CLI arguments, after `-c FILE`. */
  args?: string[];
  /** Environment variables for the process (added to this one's, minus any ONAIR_*). */
  env?: Record<string, string>;
  /** How long to wait for "onair ready". Default 20 s. */
  startTimeoutMs?: number;
}

export interface CliPorts {
  rtmp: number;
  flv: number;
  rtmps?: number;
  hls?: number;
  api?: number;
}

export interface CliProcess {
  ports: CliPorts;
  /** The config file given with -c (undefined with `config: null`). */
  configFile: string | undefined;
  /** A URL on 127.0.0.1 for `path` ("live/demo"): rtmp://…/live/demo, http://…/live/demo.flv, …/live/demo.m3u8, http://API/path. */
  url(kind: "rtmp" | "rtmps" | "flv" | "ws" | "hls" | "api", path: string): string;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout has a line matching `text`. */
  waitForLog(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Sends `signal` (default SIGTERM); resolves with the exit code and how long the exit took. Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | string; ms: number }>;
  readonly exited: Promise<number | string>;
  readonly pid: number;
}

const PLACEMENT: [string, string, unknown][] = [
  // [key the harness sets, key that would place it instead, value]
  ["host", "host", "127.0.0.1"],
  ["rtmp_port", "rtmp_addr", 0],
  ["flv_port", "httpflv_addr", 0],
  ["hls_port", "hls_addr", 0],
  ["api_port", "api_addr", 0],
  ["rtmps_port", "rtmps_addr", 0],
];

function withPlacement(config: Record<string, unknown>): Record<string, unknown> {
  const placed = { ...config };
  for (const [key, instead, value] of PLACEMENT) {
    if (!(key in placed) && !(instead in placed)) placed[key] = value;
  }
  return placed;
}

function writeConfig(dir: string, config: CliOptions["config"]): string | undefined {
  if (config === null) return undefined;
  const file = join(dir, "onair.yaml");
  writeFileSync(file, typeof config === "string" ? config : stringify(withPlacement(config ?? {})));
  return file;
}

function spawnCli(options: CliOptions): { child: RunningProcess; file: string | undefined; cleanup(): void } {
  const dir = tempDir("onair-cli-");
  const file = writeConfig(dir.path, options.config);
  const args = [...(file === undefined ? [] : ["-c", file]), ...(options.args ?? [])];
  // Only the variables the test gives: an ONAIR_* of the outer shell must not change the test.
  const inherited = Object.entries(process.env)
    .filter(([name, value]) => !name.startsWith("ONAIR_") && value !== undefined)
    .map(([name, value]) => `${name}=${value}`);
  const env = Object.entries(options.env ?? {}).map(([name, value]) => `${name}=${value}`);
  const child = run("env", ["-i", ...inherited, ...env, process.execPath, ...cliNodeArgs(args)]);
  void child.exited.then(() => dir.remove());
  return { child, file, cleanup: () => dir.remove() };
}

/** "… onair RTMP listening on rtmp://127.0.0.1:1935/APP/NAME" → 1935 */
function listeningPort(stdout: string, what: string): number | undefined {
  const match = new RegExp(`onair ${what} listening on \\w+://(?:\\[[^\\]]+\\]|[^:/]+):(\\d+)/`).exec(stdout);
  return match === null ? undefined : Number(match[1]);
}

/** Start the CLI and resolve once it says "onair ready"; rejects with its output if it exits first. */
export async function startCli(options: CliOptions = {}): Promise<CliProcess> {
  const { child, file } = spawnCli(options);
  let code: number | string | undefined;
  void child.exited.then((c) => {
    code = c;
  });
  try {
    await waitFor(
      () => code !== undefined || child.stdout().includes("onair ready"),
      options.startTimeoutMs ?? 20_000,
      "the onair CLI to start",
    );
  } catch (error) {
    child.kill();
    throw new Error(`${(error as Error).message}\n${child.stdout()}${child.stderr()}`);
  }
  if (code !== undefined) {
    throw new Error(`the onair CLI exited at start with ${code}:\n${child.stdout()}${child.stderr()}`);
  }
  const out = child.stdout();
  const ports: CliPorts = {
    rtmp: listeningPort(out, "RTMP") as number,
    flv: listeningPort(out, "HTTP-FLV") as number,
  };
  for (const [field, what] of [
    ["rtmps", "RTMPS"],
    ["hls", "HLS"],
    ["api", "API"],
  ] as const) {
    const port = listeningPort(out, what);
    if (port !== undefined) ports[field] = port;
  }
  let stopped: Promise<{ code: number | string; ms: number }> | undefined;
  const need = (port: number | undefined, what: string): number => {
    if (port === undefined) throw new Error(`the CLI has no ${what} listener`);
    return port;
  };
  return {
    ports,
    configFile: file,
    pid: child.child.pid as number,
    exited: child.exited,
    url(kind, path) {
      const at = (port: number | undefined, what: string): string => `127.0.0.1:${need(port, what)}`;
      switch (kind) {
        case "rtmp":
          return `rtmp://${at(ports.rtmp, "RTMP")}/${path}`;
        case "rtmps":
          return `rtmps://${at(ports.rtmps, "RTMPS")}/${path}`;
        case "flv":
          return `http://${at(ports.flv, "HTTP-FLV")}/${path}.flv`;
        case "ws":
          return `ws://${at(ports.flv, "HTTP-FLV")}/${path}.flv`;
        case "hls":
          return `http://${at(ports.hls, "HLS")}/${path}.m3u8`;
        case "api":
          return `http://${at(ports.api, "API")}/${path.replace(/^\//, "")}`;
      }
    },
    stdout: child.stdout,
    stderr: child.stderr,
    waitForLog: (text, timeoutMs = 10_000) =>
      waitFor(
        () => (typeof text === "string" ? child.stdout().includes(text) : text.test(child.stdout())),
        timeoutMs,
        `the CLI to log ${String(text)}`,
      ).catch((error: Error) => {
        throw new Error(`${error.message}\n${child.stdout()}${child.stderr()}`);
      }),
    stop(signal = "SIGTERM") {
      stopped ??= (async () => {
        const start = performance.now();
        child.kill(signal);
        const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
        const exitCode = await child.exited;
        clearTimeout(force);
        return { code: exitCode, ms: performance.now() - start };
      })();
      return stopped;
    },
  };
}

/** Run the CLI to its exit (a config it refuses, `--help`): its exit code and output. */
export async function runCli(
  options: CliOptions = {},
  timeoutMs = 20_000,
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const { child } = spawnCli(options);
  const timer = setTimeout(() => child.kill(), timeoutMs);
  const code = await child.exited;
  clearTimeout(timer);
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}
