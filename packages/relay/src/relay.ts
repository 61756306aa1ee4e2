import { SafeEventEmitter } from "@onair/core";
import type { RtmpClientOptions } from "@onair/rtmp";
import createDebug from "debug";
import { Backoff, type BackoffOptions } from "./backoff.js";
import { RelayError, RelayErrorCode } from "./errors.js";
import { checkKeyPart, parseRelayUrl, type RelayUrl } from "./relay-url.js";

/**
 * Where a relay stands:
 *
 *   idle --start()--> connecting --transport up--> connected --stream started--> live
 *   connecting | connected | live --failed or lost (event disconnected)--> retrying --delay--> connecting
 *   any --stop(), gave up, or (push) the local stream ended--> stopped
 */
export type RelayState = "idle" | "connecting" | "connected" | "live" | "retrying" | "stopped";

/** A relay's events, one per state it enters (plus `disconnected` when a connection ends). */
export interface RelayEvents {
  /** Attempt `attempt` (from 1, counted since start) is connecting. */
  connecting: [attempt: number];
  /** The transport is up: RTMP connected, or the HTTP-FLV answer is 200. */
  connected: [];
  /** Media flows: a pull publishes into the hub, a push publishes to the remote. */
  live: [];
  /**
   * A connection or an attempt ended; `error` says why (undefined when the local stream ended),
   * always with a string `code`: the layer's own (ECONNREFUSED, ERR_RTMP_*, ERR_FLV_*,
   * ERR_STREAM_*) or, for a bare Error from below, `ERR_RELAY_REMOTE_ENDED` with it as `cause`.
   */
  disconnected: [error: Error | undefined];
  /** The next attempt (`attempt`) comes in `delayMs`. */
  retrying: [attempt: number, delayMs: number];
  /**
   * The relay stopped for good: `error` undefined after `stop()` or (push) the end of the local
   * stream; a `RelayError` `ERR_RELAY_GAVE_UP`, or the hub's error when the hub closed.
   */
  stopped: [error: Error | undefined];
}

/** Options every relay takes. */
export interface RelayCommonOptions {
  /** Reconnect timing; see {@link BackoffOptions}. */
  reconnect?: BackoffOptions;
  /**
   * Failed attempts in a row before the relay stops with `ERR_RELAY_GAVE_UP`; an attempt failed
   * unless it stayed `live` for at least `reconnect.initialDelayMs`. Default `Infinity`: a relay
   * tries until stopped.
   */
  maxRetries?: number;
  /** Give up an attempt whose connection (and, for a push, publish start) takes longer, in ms. Default 10 000. */
  connectTimeoutMs?: number;
  /**
   * Drop a connection on which nothing arrived for this long, in ms (then reconnect); an HTTP-FLV
   * pull also when no whole FLV tag arrived for this long (bytes trickling in). Default 30 000.
   */
  idleTimeoutMs?: number;
  /** RTMP client settings (chunk size, flashVer, largest message). */
  rtmp?: Pick<RtmpClientOptions, "chunkSize" | "flashVer" | "maxMessageSize">;
  /**
   * Called with each relay a {@link RelayRegistry} or {@link staticPush} starts, just before it
   * starts, so that its events can be followed (the ready server logs them). Relays made with
   * `new` directly don't call it.
   */
  onRelay?: (relay: Relay) => void;
}

/** What a relay relays: the local stream APP/NAME and the remote URL. */
export interface RelayTarget {
  app: string;
  name: string;
  url: string;
}

/** A relay's state, for the control API and dashboards. */
export interface RelayStatus {
  kind: "pull" | "push";
  app: string;
  name: string;
  /** "app/name" */
  key: string;
  /** The remote URL as given (it may carry a token). */
  url: string;
  state: RelayState;
  /** Connection attempts since start. */
  attempts: number;
  /** When the relay entered `state` (ms since the epoch). */
  since: number;
  /** Why the last connection ended, if it failed. */
  lastError?: string;
}

const debugOf = { pull: createDebug("onair:relay:pull"), push: createDebug("onair:relay:push") };

/** An error for a log line: its code and message (messages carry URLs without their query). */
function errorText(error: Error | undefined): string {
  if (error === undefined) return "";
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? `${code} ${error.message}` : error.message;
}

export const DEFAULT_RELAY_TIMEOUTS = Object.freeze({ connectTimeoutMs: 10_000, idleTimeoutMs: 30_000 });

/**
 * What push and pull share: the state machine, reconnection with backoff, events. A subclass
 * opens one connection per attempt (`open`) and tears it down (`teardown`), and reports what
 * happens with the attempt's generation number, so that reports of a connection already given
 * up are ignored.
 */
export abstract class Relay extends SafeEventEmitter<RelayEvents> {
  readonly kind: "pull" | "push";
  readonly app: string;
  readonly name: string;
  /** "app/name" in the local hub. */
  readonly key: string;
  /** The remote URL as given. */
  readonly url: string;
  protected readonly remote: RelayUrl;
  protected readonly connectTimeoutMs: number;
  protected readonly idleTimeoutMs: number;
  protected readonly rtmpOptions: RtmpClientOptions;
  readonly #backoff: Backoff;
  readonly #maxRetries: number;
  #state: RelayState = "idle";
  #since = Date.now();
  #generation = 0;
  #attempts = 0;
  #failures = 0;
  #lastError: Error | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** When the current connection went live (ms since the epoch). */
  #liveSince = 0;
  readonly #debug: createDebug.Debugger;

  protected constructor(
    kind: "pull" | "push",
    target: RelayTarget,
    options: RelayCommonOptions,
    allowHttp: boolean,
  ) {
    super();
    this.kind = kind;
    this.#debug = debugOf[kind];
    this.app = checkKeyPart("app", target.app);
    this.name = checkKeyPart("stream name", target.name);
    this.key = `${this.app}/${this.name}`;
    this.url = target.url;
    this.remote = parseRelayUrl(target.url, allowHttp);
    this.#backoff = new Backoff(options.reconnect);
    const maxRetries = options.maxRetries ?? Number.POSITIVE_INFINITY;
    if (!(maxRetries >= 0)) {
      throw new RelayError(RelayErrorCode.badOption, `maxRetries must be 0 or more, not ${maxRetries}`);
    }
    this.#maxRetries = maxRetries;
    this.connectTimeoutMs = positive(
      "connectTimeoutMs",
      options.connectTimeoutMs,
      DEFAULT_RELAY_TIMEOUTS.connectTimeoutMs,
    );
    this.idleTimeoutMs = positive(
      "idleTimeoutMs",
      options.idleTimeoutMs,
      DEFAULT_RELAY_TIMEOUTS.idleTimeoutMs,
    );
    this.rtmpOptions = {
      ...options.rtmp,
      connectTimeoutMs: this.connectTimeoutMs,
      idleTimeoutMs: this.idleTimeoutMs,
    };
  }

  get state(): RelayState {
    return this.#state;
  }

  /** Connection attempts since start. */
  get attempts(): number {
    return this.#attempts;
  }

  /** Why the last connection ended, if it failed. */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  status(): RelayStatus {
    return {
      kind: this.kind,
      app: this.app,
      name: this.name,
      key: this.key,
      url: this.url,
      state: this.#state,
      attempts: this.#attempts,
      since: this.#since,
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError.message }),
    };
  }

  /** Start relaying (the first attempt begins at once). Does nothing after the first call. */
  start(): this {
    if (this.#state === "idle") this.#open();
    return this;
  }

  /** Stop for good: the connection closes, no timer is left. Idempotent. */
  stop(): void {
    this.#finish(undefined);
  }

  /** Open one connection; report with `generation`. */
  protected abstract open(generation: number): void;

  /** Close what the current connection holds; `error` says why (undefined: stopped or ended). */
  protected abstract teardown(error: Error | undefined): void;

  /** Whether a retry should connect again when its delay is over (a push: is the local stream still there). */
  protected shouldReconnect(): boolean {
    return true;
  }

  /** True while `generation` is the connection in use. */
  protected isCurrent(generation: number): boolean {
    return generation === this.#generation && this.#state !== "stopped" && this.#state !== "retrying";
  }

  protected reportConnected(generation: number): void {
    if (!this.isCurrent(generation) || this.#state !== "connecting") return;
    this.#setState("connected");
    this.#debug("%s %s: connected", this.key, this.remote.display);
    this.emit("connected");
  }

  protected reportLive(generation: number): void {
    if (!this.isCurrent(generation) || this.#state === "live") return;
    this.#liveSince = Date.now();
    this.#setState("live");
    this.#debug("%s %s: live", this.key, this.remote.display);
    this.emit("live");
  }

  /**
   * The connection failed or ended. `then` "retry" tries again after the backoff delay; "stop"
   * stops the relay with `error` (undefined for a normal end).
   */
  protected reportDown(generation: number, cause: Error | undefined, then: "retry" | "stop" = "retry"): void {
    if (!this.isCurrent(generation)) return;
    // A bare Error from below ("connection closed") gets a stable code and names the remote.
    const error =
      cause === undefined || typeof (cause as { code?: unknown }).code === "string"
        ? cause
        : new RelayError(RelayErrorCode.remoteEnded, `${this.remote.display}: ${cause.message}`, { cause });
    // A good connection (live for at least the first delay) starts the backoff again; one that
    // closed sooner counts as a failure, so a remote that accepts and drops at once still backs off.
    if (this.#state === "live" && Date.now() - this.#liveSince >= this.#backoff.initialDelayMs) {
      this.#backoff.reset();
      this.#failures = 0;
    }
    this.#generation += 1;
    if (error !== undefined) this.#lastError = error;
    this.#debug("%s %s: disconnected%s", this.key, this.remote.display, error ? `: ${errorText(error)}` : "");
    this.teardown(error);
    this.emit("disconnected", error);
    if (this.#state === "stopped") return; // a listener stopped it
    if (then === "stop") {
      this.#finish(error, false);
      return;
    }
    if (this.#failures >= this.#maxRetries) {
      this.#finish(
        new RelayError(
          RelayErrorCode.gaveUp,
          `${this.kind} ${this.key} ${this.remote.display}: gave up after ${this.#failures + 1} failed attempts`,
          { cause: error },
        ),
        false,
      );
      return;
    }
    this.#failures += 1;
    const delayMs = this.#backoff.next();
    this.#setState("retrying");
    this.#debug(
      "%s %s: retrying in %d ms (attempt %d)",
      this.key,
      this.remote.display,
      delayMs,
      this.#attempts + 1,
    );
    this.emit("retrying", this.#attempts + 1, delayMs);
    if (this.#state !== "retrying") return;
    this.#timer = setTimeout(this.#retry, delayMs);
  }

  readonly #retry = (): void => {
    this.#timer = undefined;
    if (this.#state !== "retrying") return;
    if (!this.shouldReconnect()) {
      this.#finish(undefined);
      return;
    }
    this.#open();
  };

  #open(): void {
    this.#attempts += 1;
    const generation = ++this.#generation;
    this.#setState("connecting");
    this.#debug("%s %s: connecting (attempt %d)", this.key, this.remote.display, this.#attempts);
    this.emit("connecting", this.#attempts);
    if (this.#state !== "connecting" || generation !== this.#generation) return;
    this.open(generation);
  }

  #finish(error: Error | undefined, tearDown = true): void {
    if (this.#state === "stopped") return;
    const wasIdle = this.#state === "idle";
    this.#generation += 1;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#setState("stopped");
    if (tearDown && !wasIdle) this.teardown(undefined);
    if (error !== undefined) this.#lastError = error;
    this.#debug("%s %s: stopped%s", this.key, this.remote.display, error ? `: ${errorText(error)}` : "");
    this.emit("stopped", error);
  }

  #setState(state: RelayState): void {
    this.#state = state;
    this.#since = Date.now();
  }
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  // Above 2^31 - 1 ms, setTimeout would fire after 1 ms.
  if (!Number.isFinite(result) || result <= 0 || result > 2_147_483_647) {
    throw new RelayError(
      RelayErrorCode.badOption,
      `${name} must be a number above 0 and at most 2147483647, not ${result}`,
    );
  }
  return result;
}
