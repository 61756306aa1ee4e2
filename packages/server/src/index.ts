export { parseCliOptions, USAGE } from "./cli-options.js";
export { OnairServer, type OnairServerOptions, ServerStartError } from "./onair-server.js";
