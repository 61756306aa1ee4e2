#!/usr/bin/env node
import { fileURLToPath } from "node:url";
import { ConfigError, loadConfig } from "./config.js";
import { shownUrl } from "./metrics-protocol.js";

// Settings first: `--help` and a bad setting answer before the server code is even loaded.
let loaded: ReturnType<typeof loadConfig>;
try {
  loaded = loadConfig({ argv: process.argv.slice(2), env: process.env });
} catch (error) {
  const message = error instanceof ConfigError ? error.message : String(error);
  process.stderr.write(`onair: ${message}\n(onair --help lists the settings)\n`);
  process.exit(2);
}
if (loaded.help) {
  const { USAGE } = await import("./cli-options.js");
  process.stdout.write(USAGE);
  process.exit(0);
}
const { config, file } = loaded;

/** A clean stop may take this long; then the process exits anyway (players that do not hang up). */
const STOP_DEADLINE_MS = 1800;

// A Ctrl-C (SIGINT to the whole process group, pnpm included) or SIGTERM is a clean stop, exit
// code 0, from the first moment: dying by the signal would make pnpm report ELIFECYCLE.
let server: import("./onair-server.js").OnairServer | undefined;
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  log("shutting down");
  setTimeout(() => {
    log("stopped (connections still open were dropped)");
    process.exit(0);
  }, STOP_DEADLINE_MS).unref();
  void (server?.close() ?? Promise.resolve()).then(() => {
    log("stopped");
    process.exit(0);
  });
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

/** A recorder's StreamInfo url is the file it writes (see @onair/flv's recordStreams). */
function recordingPath(url: string): string | undefined {
  return url.startsWith("file:") ? fileURLToPath(url) : undefined;
}

const { createServer, ServerSetupError, ServerStartError } = await import("./onair-server.js");
server = createServer(config);
if (file !== undefined) log(`settings from ${file}`);
server.hub.on("publish", (info) => log(`publish ${info.key} from ${info.remoteAddress ?? "?"} (${info.id})`));
server.hub.on("unpublish", (info) => log(`unpublish ${info.key} (${info.id})`));
server.hub.on("play", (info) => {
  const path = recordingPath(info.url);
  if (path !== undefined) log(`record ${info.key} to ${path} (${info.id})`);
  else if (info.id.startsWith("hls-")) log(`segment ${info.key} for HLS (${info.id})`);
  // A relay pushing elsewhere has no peer address: its URL says where the stream goes.
  else log(`play ${info.key} by ${info.remoteAddress ?? shownUrl(info)} (${info.id})`);
});
server.hub.on("stop", (info) => log(`stop ${info.key} (${info.id})`));
server.on("recordDone", (info, path) => log(`recorded ${info.key} to ${path} (${info.id})`));
server.rtmp.on("refused", (remoteAddress, reason) => log(`refused RTMP ${remoteAddress}: ${reason}`));
server.on("error", (error) => log(`error: ${error.message}`));
server.on("log", (message) => log(message));

let listening: Awaited<ReturnType<typeof server.listen>> | undefined;
try {
  listening = await server.listen();
} catch (error) {
  // A start failure is the user's to fix (a port in use): one line, no stack trace. (Stopped
  // while starting: the stop above exits.)
  if (!stopping) {
    const known = error instanceof ServerStartError || error instanceof ServerSetupError;
    const setting = error instanceof ConfigError;
    process.stderr.write(`onair: ${known || setting ? error.message : String(error)}\n`);
    process.exit(setting ? 2 : 1);
  }
}
if (listening !== undefined && !stopping) {
  const { rtmp, rtmps, flv, hls, api } = listening;
  const at = (a: { address: string; port: number }): string =>
    `${a.address.includes(":") ? `[${a.address}]` : a.address}:${a.port}`;
  log(`onair RTMP listening on rtmp://${at(rtmp)}/APP/NAME`);
  if (rtmps !== undefined) log(`onair RTMPS listening on rtmps://${at(rtmps)}/APP/NAME`);
  log(`onair HTTP-FLV listening on http://${at(flv)}/APP/NAME.flv (WebSocket-FLV: ws://…/APP/NAME.flv)`);
  const hlsScheme = config.hls !== false && config.hls?.tls !== undefined ? "https" : "http";
  if (hls !== undefined) log(`onair HLS listening on ${hlsScheme}://${at(hls)}/APP/NAME.m3u8`);
  if (api !== undefined) log(`onair API listening on http://${at(api)}/control/get?room=NAME`);
  if (api !== undefined) log(`onair dashboard at http://${at(api)}/`);
  if (config.rtmpNoAuth === true) log("publishing is open to anyone (rtmp_noauth)");
  log("onair ready");
}
