// Our public types use Buffer and node:net; this reference (kept in dist/index.d.ts) loads Node's
// types for consumers whose tsconfig does not auto-include them ("types": [], the TypeScript 7 default).
/// <reference types="node" preserve="true" />

export { parseCliOptions, USAGE } from "./cli-options.js";
export {
  ConfigError,
  DEFAULT_HLS_VARIANT,
  DEFAULT_PORTS,
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
  settingNames,
} from "./config.js";
export type {
  AppSettings,
  HlsSettings,
  HlsVariant,
  JwtSettings,
  OnairConfig,
  RtmpsSettings,
  TlsCredentials,
  WebhookSettings,
} from "./config-types.js";
export {
  allOf,
  appsAuthorize,
  createServer,
  type OnairAddresses,
  OnairServer,
  type OnairServerEvents,
  type OnairServerOptions,
  ServerStartError,
} from "./onair-server.js";
