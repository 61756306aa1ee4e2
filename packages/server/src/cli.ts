#!/usr/bin/env node
import { fileURLToPath } from "node:url";
import { parseCliOptions, USAGE } from "./cli-options.js";

// Flags first: `--help` and a bad flag answer before the server code is even loaded.
let parsed: ReturnType<typeof parseCliOptions>;
try {
  parsed = parseCliOptions(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`onair: ${(error as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (parsed.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

// A Ctrl-C (SIGINT to the whole process group, pnpm included) or SIGTERM is a clean stop, exit
// code 0, from the first moment: dying by the signal would make pnpm report ELIFECYCLE.
let server: import("./onair-server.js").OnairServer | undefined;
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  log("shutting down");
  void (server?.close() ?? Promise.resolve()).then(() => process.exit(0));
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

const { OnairServer, ServerStartError } = await import("./onair-server.js");
server = new OnairServer(parsed.options);
server.hub.on("publish", (info) => log(`publish ${info.key} from ${info.remoteAddress ?? "?"} (${info.id})`));
server.hub.on("unpublish", (info) => log(`unpublish ${info.key} (${info.id})`));
server.hub.on("play", (info) => {
  const file = recordingPath(info.url);
  if (file !== undefined) log(`record ${info.key} to ${file} (${info.id})`);
  else log(`play ${info.key} by ${info.remoteAddress ?? "?"} (${info.id})`);
});
server.hub.on("stop", (info) => log(`stop ${info.key} (${info.id})`));
server.rtmp.on("refused", (remoteAddress, reason) => log(`refused RTMP ${remoteAddress}: ${reason}`));

let listening: Awaited<ReturnType<InstanceType<typeof OnairServer>["listen"]>> | undefined;
try {
  listening = await server.listen();
} catch (error) {
  // A start failure is the user's to fix (a port in use): one line, no stack trace. (Stopped
  // while starting: the stop above exits.)
  if (!stopping) {
    process.stderr.write(`onair: ${error instanceof ServerStartError ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
if (listening !== undefined && !stopping) {
  const { rtmp, flv } = listening;
  log(`onair RTMP listening on rtmp://${rtmp.address}:${rtmp.port}/APP/NAME`);
  log(
    `onair HTTP-FLV listening on http://${flv.address}:${flv.port}/APP/NAME.flv (WebSocket-FLV: ws://…/APP/NAME.flv)`,
  );
}
