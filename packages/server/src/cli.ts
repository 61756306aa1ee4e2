#!/usr/bin/env node
import { parseCliOptions, USAGE } from "./cli-options.js";
import { OnairServer, ServerStartError } from "./onair-server.js";

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

const server = new OnairServer(parsed.options);
const log = (line: string): void => {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
};
server.hub.on("publish", (info) => log(`publish ${info.key} from ${info.remoteAddress ?? "?"} (${info.id})`));
server.hub.on("unpublish", (info) => log(`unpublish ${info.key} (${info.id})`));
server.hub.on("play", (info) => log(`play ${info.key} by ${info.remoteAddress ?? "?"} (${info.id})`));
server.hub.on("stop", (info) => log(`stop ${info.key} (${info.id})`));
server.rtmp.on("refused", (remoteAddress, reason) => log(`refused RTMP ${remoteAddress}: ${reason}`));

let listening: Awaited<ReturnType<OnairServer["listen"]>>;
try {
  listening = await server.listen();
} catch (error) {
  // A start failure is the user's to fix (a port in use): one line, no stack trace.
  process.stderr.write(`onair: ${error instanceof ServerStartError ? error.message : String(error)}\n`);
  process.exit(1);
}
const { rtmp, flv } = listening;
log(`onair RTMP listening on rtmp://${rtmp.address}:${rtmp.port}/APP/NAME`);
log(
  `onair HTTP-FLV listening on http://${flv.address}:${flv.port}/APP/NAME.flv (WebSocket-FLV: ws://…/APP/NAME.flv)`,
);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  log("shutting down");
  void server.close().then(() => process.exit(0));
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
