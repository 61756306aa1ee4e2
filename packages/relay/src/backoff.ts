import { RelayError, RelayErrorCode } from "./errors.js";

/** When a relay tries again after a failed or lost connection. */
export interface BackoffOptions {
  /** The first delay, in ms, at least 1. Default 1000. */
  initialDelayMs?: number;
  /** No delay is longer than this, in ms. Default 30 000. */
  maxDelayMs?: number;
  /** Each delay is this many times the one before (before the cap and the jitter). Default 2. */
  factor?: number;
  /**
   * The fraction of each delay taken off at random, 0 to 1: a delay `d` becomes a value in
   * `[d × (1 − jitter), d]`, so relays that lost the same remote do not all come back at once,
   * and the cap stays a cap. Default 0.2.
   */
  jitter?: number;
  /** The random source, a function returning [0, 1). Default `Math.random`; for tests. */
  random?: () => number;
}

/** The defaults of {@link BackoffOptions}. */
export const DEFAULT_BACKOFF = Object.freeze({
  initialDelayMs: 1000,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 0.2,
});

/** The longest delay setTimeout keeps (Node turns a longer one into 1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

function check(name: string, value: number, min: number, max = Number.POSITIVE_INFINITY): number {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new RelayError(
      RelayErrorCode.badOption,
      `${name} must be a number from ${min}${max === Number.POSITIVE_INFINITY ? "" : ` to ${max}`}, not ${value}`,
    );
  }
  return value;
}

/**
 * Capped exponential backoff with jitter: delay n (from 0) is
 * `min(maxDelayMs, initialDelayMs × factor^n) × (1 − jitter × random())`, rounded to a ms.
 * `reset()` after a good connection starts again from `initialDelayMs` (a relay calls it when a
 * connection that stayed live for at least `initialDelayMs` ends, so reconnects never come more
 * often than one per `initialDelayMs` on average, whatever the remote does).
 */
export class Backoff {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly factor: number;
  readonly jitter: number;
  readonly #random: () => number;
  #attempts = 0;

  /** Throws `RelayError` `ERR_RELAY_BAD_OPTION` for a first delay below 1 ms, a factor below 1 or a jitter outside [0, 1]. */
  constructor(options: BackoffOptions = {}) {
    this.initialDelayMs = check(
      "initialDelayMs",
      options.initialDelayMs ?? DEFAULT_BACKOFF.initialDelayMs,
      1, // 0 would stay 0 at every step: a reconnect loop with no delay
      MAX_TIMER_MS,
    );
    this.maxDelayMs = check(
      "maxDelayMs",
      options.maxDelayMs ?? Math.max(DEFAULT_BACKOFF.maxDelayMs, this.initialDelayMs),
      this.initialDelayMs,
      MAX_TIMER_MS,
    );
    this.factor = check("factor", options.factor ?? DEFAULT_BACKOFF.factor, 1);
    this.jitter = check("jitter", options.jitter ?? DEFAULT_BACKOFF.jitter, 0, 1);
    this.#random = options.random ?? Math.random;
  }

  /** Delays handed out since the last reset. */
  get attempts(): number {
    return this.#attempts;
  }

  /** The next delay, in ms. */
  next(): number {
    const base = Math.min(this.maxDelayMs, this.initialDelayMs * this.factor ** this.#attempts);
    this.#attempts += 1;
    return Math.round(base * (1 - this.jitter * this.#random()));
  }

  /** Start again from `initialDelayMs` (after a good connection). */
  reset(): void {
    this.#attempts = 0;
  }
}
