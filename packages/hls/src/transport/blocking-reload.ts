import type { HlsPlaylistSource } from "../hls-source.js";

/**
 * One request held until its stream changes enough to answer it: a blocking playlist reload
 * (`_HLS_msn`/`_HLS_part`), a playlist asked for before the first segment, or the part a preload
 * hint announced. The registry only keeps and wakes them; what "ready" means and how to answer is
 * the owner's (see {@link HeldRequestHooks}).
 */
export interface HeldRequest {
  readonly source: HlsPlaylistSource;
  /**
   * Requests with the same key are ready at the same time (the same msn and part, the same file),
   * so a change asks `isReady` once per key, not once per request.
   */
  readonly key: string;
  /** When to give up, in `Date.now()` ms. */
  readonly deadline: number;
}

export interface HeldRequestHooks<Held extends HeldRequest> {
  /** Whether `held` can be answered now (the stream's state is read, not changed). */
  isReady(held: Held): boolean;
  /**
   * Answer `held` now. `batch` lives for one wake-up of one stream: answers that share bytes (the
   * same playlist text) are made once per batch and written to every request.
   */
  release(held: Held, batch: Map<string, Buffer>): void;
  /** Answer `held` that was not ready by its deadline. */
  expire(held: Held): void;
}

/** The requests held on one stream, and its one change listener. */
class StreamHolds<Held extends HeldRequest> {
  /** In the order they came, so deadlines (one timeout per stream) are in order too. */
  readonly all = new Set<Held>();
  readonly byKey = new Map<string, Set<Held>>();
  unsubscribe: () => void = noop;
}

function noop(): void {}

/**
 * The requests held by one HTTP handler, by stream. A stream with held requests has ONE `onChange`
 * listener (added when its first request waits, removed when its last one leaves); each change
 * asks `isReady` once per distinct key and answers every request of a ready key. Deadlines are
 * checked by one sweep timer for the whole registry (running only while something is held), not a
 * timer per request. Requests removed by `remove` (a client that left) cost nothing after.
 */
export class HeldRequestRegistry<Held extends HeldRequest> {
  readonly #hooks: HeldRequestHooks<Held>;
  readonly #sweepIntervalMs: number;
  readonly #streams = new Map<HlsPlaylistSource, StreamHolds<Held>>();
  #size = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(hooks: HeldRequestHooks<Held>, sweepIntervalMs = 250) {
    this.#hooks = hooks;
    this.#sweepIntervalMs = sweepIntervalMs;
  }

  /** Requests held now. */
  get size(): number {
    return this.#size;
  }

  /** Streams with at least one held request (each with one change listener). */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** Hold `held` until its stream changes and `isReady` says yes, or its deadline passes. */
  hold(held: Held): void {
    let holds = this.#streams.get(held.source);
    if (holds === undefined) {
      holds = new StreamHolds<Held>();
      this.#streams.set(held.source, holds);
      const source = held.source;
      holds.unsubscribe = source.onChange(() => this.#wake(source));
    }
    holds.all.add(held);
    let group = holds.byKey.get(held.key);
    if (group === undefined) {
      group = new Set();
      holds.byKey.set(held.key, group);
    }
    group.add(held);
    this.#size += 1;
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#sweep(), this.#sweepIntervalMs);
      this.#timer.unref();
    }
  }

  /** Forget `held` without answering it (its client left). False when it was not held. */
  remove(held: Held): boolean {
    const holds = this.#streams.get(held.source);
    if (holds === undefined || !holds.all.delete(held)) return false;
    const group = holds.byKey.get(held.key);
    if (group !== undefined) {
      group.delete(held);
      if (group.size === 0) holds.byKey.delete(held.key);
    }
    this.#size -= 1;
    this.#forgetIfEmpty(held.source, holds);
    return true;
  }

  /** Answer every held request with `expire` and stop the timer. The registry stays usable. */
  expireAll(): void {
    for (const [source, holds] of [...this.#streams]) {
      for (const held of [...holds.all]) {
        this.remove(held);
        this.#hooks.expire(held);
      }
      this.#forgetIfEmpty(source, holds);
    }
  }

  #forgetIfEmpty(source: HlsPlaylistSource, holds: StreamHolds<Held>): void {
    if (holds.all.size > 0 || this.#streams.get(source) !== holds) return;
    this.#streams.delete(source);
    holds.unsubscribe();
    if (this.#streams.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #wake(source: HlsPlaylistSource): void {
    const holds = this.#streams.get(source);
    if (holds === undefined) return;
    let batch: Map<string, Buffer> | undefined;
    for (const [key, group] of [...holds.byKey]) {
      const first = group.values().next().value;
      if (first === undefined || !this.#hooks.isReady(first)) continue;
      holds.byKey.delete(key);
      batch ??= new Map();
      for (const held of group) {
        holds.all.delete(held);
        this.#size -= 1;
        this.#hooks.release(held, batch);
      }
    }
    this.#forgetIfEmpty(source, holds);
  }

  #sweep(): void {
    const now = Date.now();
    for (const [source, holds] of [...this.#streams]) {
      for (const held of holds.all) {
        // Held in arrival order with one timeout per stream: the first one not due ends the scan.
        if (held.deadline > now) break;
        this.remove(held);
        this.#hooks.expire(held);
      }
      this.#forgetIfEmpty(source, holds);
    }
  }
}
