import type { StreamHub } from "@onair/core";
import createDebug from "debug";
import { RelayError, RelayErrorCode } from "./errors.js";
import type { Relay, RelayCommonOptions, RelayStatus, RelayTarget } from "./relay.js";
import { RelayPull } from "./relay-pull.js";
import { RelayPush } from "./relay-push.js";
import { parseRelayUrl, redactUrl, relayUrlKey } from "./relay-url.js";

const debug = createDebug("onair:relay:registry");

/** Which relays a stop applies to: `url` left out means every one of APP/NAME. */
export interface RelaySelector {
  app: string;
  name: string;
  url?: string;
}

/**
 * The relays started at run time, by (app, name, url), URLs compared in one spelling (host case,
 * default port, empty path segments: see `relayUrlKey`): what livego's `/control/push` and
 * `/control/pull` drive. A relay that stops by itself (a push whose stream ended, one that gave up)
 * leaves the registry. `close()` stops them all.
 */
export class RelayRegistry {
  readonly #hub: StreamHub;
  readonly #options: RelayCommonOptions;
  readonly #relays = new Set<Relay>();
  #closed = false;

  /** `options` apply to every relay started here. */
  constructor(hub: StreamHub, options: RelayCommonOptions = {}) {
    this.#hub = hub;
    this.#options = options;
  }

  /**
   * Pull `url` into the hub as APP/NAME and start it; the running pull if there is one for the
   * same URL. Throws `RelayError`: `ERR_RELAY_BAD_URL` / `ERR_RELAY_BAD_OPTION` for bad input,
   * `ERR_RELAY_EXISTS` when APP/NAME is already pulled from another URL, `ERR_RELAY_CLOSED`.
   */
  startPull(target: RelayTarget): RelayPull {
    this.#checkOpen();
    const same = this.#find("pull", target.app, target.name);
    const pull = new RelayPull(this.#hub, { ...this.#options, ...target });
    for (const relay of same) {
      if (relayUrlKey(relay.url) === relayUrlKey(target.url)) return relay as RelayPull;
      throw new RelayError(
        RelayErrorCode.exists,
        `${relay.key} is already pulled from ${parseRelayUrl(relay.url, true).display}`,
      );
    }
    return this.#add(pull);
  }

  /**
   * Push APP/NAME to `url` and start it; the running push if there is one to the same URL.
   * Throws `RelayError`: `ERR_RELAY_BAD_URL` / `ERR_RELAY_BAD_OPTION`, `ERR_RELAY_CLOSED`.
   */
  startPush(target: RelayTarget): RelayPush {
    this.#checkOpen();
    const push = new RelayPush(this.#hub, { ...this.#options, ...target });
    for (const relay of this.#find("push", target.app, target.name)) {
      if (relayUrlKey(relay.url) === relayUrlKey(target.url)) return relay as RelayPush;
    }
    return this.#add(push);
  }

  /** Stop the pulls of APP/NAME (from `url` only, when given); how many were stopped. */
  stopPull(selector: RelaySelector): number {
    return this.#stop("pull", selector);
  }

  /** Stop the pushes of APP/NAME (to `url` only, when given); how many were stopped. */
  stopPush(selector: RelaySelector): number {
    return this.#stop("push", selector);
  }

  /** The running relays. */
  relays(): Relay[] {
    return [...this.#relays];
  }

  /** The state of every running relay. */
  list(): RelayStatus[] {
    return this.relays().map((relay) => relay.status());
  }

  /** Stop every relay; later starts throw `ERR_RELAY_CLOSED`. Idempotent. */
  close(): void {
    if (!this.#closed) debug("closing: stopping %d relays", this.#relays.size);
    this.#closed = true;
    for (const relay of [...this.#relays]) relay.stop();
    this.#relays.clear();
  }

  #checkOpen(): void {
    if (this.#closed) throw new RelayError(RelayErrorCode.closed, "the relay registry is closed");
  }

  #find(kind: "pull" | "push", app: string, name: string): Relay[] {
    return this.relays().filter((r) => r.kind === kind && r.app === app && r.name === name);
  }

  #add<T extends Relay>(relay: T): T {
    this.#relays.add(relay);
    debug("start %s %s %s", relay.kind, relay.key, redactUrl(relay.url));
    relay.once("stopped", () => this.#relays.delete(relay));
    this.#options.onRelay?.(relay);
    return relay.start();
  }

  #stop(kind: "pull" | "push", selector: RelaySelector): number {
    const matching = this.#find(kind, selector.app, selector.name).filter(
      (relay) => selector.url === undefined || relayUrlKey(relay.url) === relayUrlKey(selector.url),
    );
    debug(
      "stop %s %s%s: %d",
      kind,
      `${selector.app}/${selector.name}`,
      selector.url ? ` ${redactUrl(selector.url)}` : "",
      matching.length,
    );
    for (const relay of matching) relay.stop();
    return matching.length;
  }
}
