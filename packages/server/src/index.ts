export { parseCliOptions, USAGE } from "./cli-options.js";
export { OnairServer, type OnairServerOptions } from "./onair-server.js";
