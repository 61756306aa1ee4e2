// Our public types use Buffer; this reference (kept in dist/index.d.ts) loads Node's types for
// consumers whose tsconfig does not auto-include them ("types": [], the TypeScript 7 default).
/// <reference types="node" preserve="true" />

export { Backoff, type BackoffOptions, DEFAULT_BACKOFF } from "./backoff.js";
export { RelayError, RelayErrorCode, type RelayErrorCodeValue } from "./errors.js";
export {
  DEFAULT_RELAY_TIMEOUTS,
  Relay,
  type RelayCommonOptions,
  type RelayEvents,
  type RelayState,
  type RelayStatus,
  type RelayTarget,
} from "./relay.js";
export { RelayPull, type RelayPullOptions } from "./relay-pull.js";
export { RelayPush, type RelayPushHub, type RelayPushOptions, RelayPushWriter } from "./relay-push.js";
export { RelayRegistry, type RelaySelector } from "./relay-registry.js";
export { parseRelayUrl, pushTargetUrl, type RelayUrl, redactUrl } from "./relay-url.js";
export { type StaticPush, type StaticPushOptions, type StaticPushRule, staticPush } from "./static-push.js";
