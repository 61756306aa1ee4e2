import type { StreamHub, StreamInfo } from "@onair/core";
import createDebug from "debug";
import { RelayError, RelayErrorCode } from "./errors.js";
import type { RelayCommonOptions } from "./relay.js";
import { RelayPush } from "./relay-push.js";
import { checkKeyPart, pushTargetUrl, redactUrl, relayUrlKey } from "./relay-url.js";

const debug = createDebug("onair:relay:static");

/** One app's push targets, as livego's `static_push` and nginx-rtmp's `push`. */
export interface StaticPushRule {
  /** The local app whose streams are pushed. */
  app: string;
  /** "rtmp://host[:port]/app[?query]" each: a stream NAME goes to URL + "/" + NAME (the query stays last). */
  urls: string[];
}

export interface StaticPushOptions extends RelayCommonOptions {
  rules: StaticPushRule[];
}

/** The running static pushes; from {@link staticPush}. */
export interface StaticPush {
  /** The pushes running now (one per live stream and target URL). */
  readonly relays: readonly RelayPush[];
  /** Stop every push and stop watching the hub. Idempotent. */
  stop(): void;
}

/**
 * When a stream of a rule's app goes live in `hub` (streams live already included), push it to
 * each of the rule's URLs with a {@link RelayPush}; each push reconnects while the stream is there
 * and stops when it ends. URLs and app names are checked now: a bad one throws `RelayError`
 * (`ERR_RELAY_BAD_URL`, `ERR_RELAY_BAD_OPTION`).
 */
export function staticPush(
  hub: Pick<StreamHub, "on" | "off" | "streams" | "handleWriter" | "get">,
  options: StaticPushOptions,
): StaticPush {
  const { rules, ...relayOptions } = options;
  if (!Array.isArray(rules))
    throw new RelayError(RelayErrorCode.badOption, "static push needs rules: [{ app, urls }]");
  const byApp = new Map<string, string[]>();
  for (const rule of rules) {
    checkKeyPart("static push app", rule.app);
    if (!Array.isArray(rule.urls)) {
      throw new RelayError(
        RelayErrorCode.badOption,
        `static push for app "${rule.app}" needs urls: string[]`,
      );
    }
    for (const url of rule.urls) pushTargetUrl(url, "check");
    byApp.set(rule.app, [...(byApp.get(rule.app) ?? []), ...rule.urls]);
  }
  const running = new Map<string, RelayPush>();
  let stopped = false;

  const onPublish = (info: StreamInfo): void => {
    const urls = byApp.get(info.app);
    if (urls === undefined || stopped) return;
    for (const base of urls) {
      const url = pushTargetUrl(base, info.name);
      // One push per remote, however the rules spell its URL.
      const id = `${info.key} ${relayUrlKey(url)}`;
      // A republish within the grace keeps its push (its writer stayed in the hub).
      if (running.has(id)) continue;
      const relay = new RelayPush(hub, { ...relayOptions, app: info.app, name: info.name, url });
      debug("%s went live: pushing it to %s", info.key, redactUrl(url));
      running.set(id, relay);
      relay.once("stopped", () => {
        if (running.get(id) === relay) running.delete(id);
      });
      relayOptions.onRelay?.(relay);
      relay.start();
    }
  };

  hub.on("publish", onPublish);
  for (const stream of hub.streams()) {
    if (stream.reader !== undefined) onPublish(stream.reader.info);
  }

  return {
    get relays() {
      return [...running.values()];
    },
    stop() {
      if (stopped) return;
      stopped = true;
      debug("stopping (%d pushes running)", running.size);
      hub.off("publish", onPublish);
      for (const relay of [...running.values()]) relay.stop();
      running.clear();
    },
  };
}
