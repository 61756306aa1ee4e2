// Our public types use Buffer and node:net; this reference (kept in dist/index.d.ts) loads Node's
// types for consumers whose tsconfig does not auto-include them ("types": [], the TypeScript 7 default).
/// <reference types="node" preserve="true" />

export { ApiError, ApiErrorCode } from "./api/api-error.js";
export {
  type ApiHandler,
  type ApiHandlerOptions,
  createApiHandler,
  type RelayControl,
  type RelayTargetParams,
} from "./api/api-handler.js";
export { type ApiJwtOptions, JWT_MISSING } from "./api/jwt-guard.js";
export { type LiveStat, type LiveStatEntry, liveStat } from "./api/live-stat.js";
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
export { createDashboard, type Dashboard, type DashboardOptions } from "./dashboard/dashboard.js";
export {
  type FeedHello,
  type FeedHistory,
  type FeedPlayer,
  type FeedRelay,
  type FeedSample,
  type FeedStream,
  LiveStatsFeed,
  type LiveStatsFeedOptions,
  type MediaEndpoints,
} from "./dashboard/live-stats-feed.js";
export type {
  AudioDescription,
  StreamDescription,
  VideoDescription,
} from "./dashboard/stream-description.js";
export {
  type ChannelKeyAuthorizeOptions,
  channelKeyAuthorize,
  INVALID_CHANNEL_KEY,
} from "./keys/channel-key-authorize.js";
export { createKeyStore, type KeyStoreOptions } from "./keys/create-key-store.js";
export {
  CHANNEL_KEY_LENGTH,
  generateChannelKey,
  type KeyStore,
  KeyStoreError,
  KeyStoreErrorCode,
  keysEqual,
  roomProblem,
} from "./keys/key-store.js";
export { MemoryKeyStore } from "./keys/memory-key-store.js";
export { RedisKeyStore, type RedisKeyStoreOptions } from "./keys/redis-key-store.js";
export {
  createMetrics,
  type HlsStatsSource,
  type Metrics,
  type MetricsOptions,
  type ServerStatsSource,
  type WebhookStatsSource,
} from "./metrics.js";
export { isClientProtocol, type StreamProtocol, streamProtocol } from "./metrics-protocol.js";
export {
  allOf,
  appsAuthorize,
  createServer,
  type OnairAddresses,
  OnairServer,
  type OnairServerEvents,
  type OnairServerOptions,
  ServerSetupError,
  ServerStartError,
} from "./onair-server.js";
export {
  createWebhooks,
  type WebhookAction,
  type WebhookAuthorizeBody,
  WebhookError,
  type WebhookEventBody,
  type WebhookHookStats,
  type WebhookOptions,
  type WebhookRecordBody,
  type WebhookStats,
  type Webhooks,
} from "./webhooks.js";
