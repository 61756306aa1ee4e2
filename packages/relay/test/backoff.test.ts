import { StreamHub } from "@onair/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Backoff, DEFAULT_BACKOFF, RelayError, RelayErrorCode, RelayPull } from "../src/index.js";
import { recordEvents } from "./fixtures.js";
import { freePortSync } from "./ports.js";

describe("Backoff", () => {
  it("doubles from initialDelayMs and stops at maxDelayMs (no jitter taken with random() = 0)", () => {
    const backoff = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, factor: 2, random: () => 0 });
    expect(Array.from({ length: 7 }, () => backoff.next())).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect(backoff.attempts).toBe(7);
  });

  it("takes at most `jitter` of each delay off, never adds to it", () => {
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const jittered = new Backoff({ initialDelayMs: 1000, maxDelayMs: 8000, jitter: 0.3, random });
    const seen: number[] = [];
    for (let n = 0; n < 200; n++) {
      const base = Math.min(8000, 1000 * 2 ** n);
      const delay = jittered.next();
      expect(delay).toBeGreaterThanOrEqual(Math.floor(base * 0.7));
      expect(delay).toBeLessThanOrEqual(base);
      if (base === 8000) seen.push(delay);
    }
    // The jitter really spreads them (not all at one end of the range).
    expect(Math.max(...seen) - Math.min(...seen)).toBeGreaterThan(8000 * 0.3 * 0.8);
    const extremes = new Backoff({ initialDelayMs: 1000, jitter: 0.5, random: () => 0.999999 });
    expect(extremes.next()).toBe(500);
  });

  it("starts again from initialDelayMs after reset()", () => {
    const backoff = new Backoff({ initialDelayMs: 50, factor: 3, random: () => 0 });
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([50, 150, 450]);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBe(50);
  });

  it("has documented defaults: 1 s, ×2, 30 s cap, 20 % jitter", () => {
    expect(DEFAULT_BACKOFF).toEqual({ initialDelayMs: 1000, maxDelayMs: 30_000, factor: 2, jitter: 0.2 });
    const backoff = new Backoff({ random: () => 0 });
    expect(Array.from({ length: 7 }, () => backoff.next())).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ]);
  });

  it("refuses options out of range with ERR_RELAY_BAD_OPTION", () => {
    for (const options of [
      { initialDelayMs: -1 },
      { factor: 0.5 },
      { jitter: 1.5 },
      { initialDelayMs: 100, maxDelayMs: 50 },
    ]) {
      const error = (() => {
        try {
          new Backoff(options);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(RelayError);
      expect((error as RelayError).code).toBe(RelayErrorCode.badOption);
    }
  });
});

/**
 * Waits for real I/O (a refused connection) without moving the fake clock: vi.waitFor would
 * advance it. setImmediate is not faked here.
 */
async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = performance.now();
  while (!predicate()) {
    if (performance.now() - start > timeoutMs) throw new Error("timed out");
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe("reconnect schedule (fake timers)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("retries a refused connection after 100, 200, 400 ms, then gives up after maxRetries, leaving no timer", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const hub = new StreamHub();
    const port = await freePortSync();
    const pull = new RelayPull(hub, {
      app: "live",
      name: "x",
      url: `rtmp://127.0.0.1:${port}/live/x`,
      reconnect: { initialDelayMs: 100, factor: 2, jitter: 0.5, random: () => 0 },
      maxRetries: 3,
    });
    const events = recordEvents(pull);
    let stoppedWith: Error | undefined;
    pull.on("stopped", (error) => {
      stoppedWith = error;
    });
    pull.start();
    expect(pull.state).toBe("connecting");
    await until(() => pull.state === "retrying");
    expect(events).toEqual(["connecting:1", "disconnected:ECONNREFUSED", "retrying:2:100"]);
    await vi.advanceTimersByTimeAsync(99);
    expect(pull.state).toBe("retrying");
    expect(events).not.toContain("connecting:2");
    await vi.advanceTimersByTimeAsync(1);
    expect(events).toContain("connecting:2");
    await until(() => events.at(-1) === "retrying:3:200");
    await vi.advanceTimersByTimeAsync(200);
    await until(() => events.at(-1) === "retrying:4:400");
    await vi.advanceTimersByTimeAsync(399);
    expect(events).not.toContain("connecting:4");
    await vi.advanceTimersByTimeAsync(1);
    await until(() => pull.state === "stopped");
    expect(events).toEqual([
      "connecting:1",
      "disconnected:ECONNREFUSED",
      "retrying:2:100",
      "connecting:2",
      "disconnected:ECONNREFUSED",
      "retrying:3:200",
      "connecting:3",
      "disconnected:ECONNREFUSED",
      "retrying:4:400",
      "connecting:4",
      "disconnected:ECONNREFUSED",
      "stopped:ERR_RELAY_GAVE_UP",
    ]);
    expect((stoppedWith as RelayError).cause).toBeInstanceOf(Error);
    expect(pull.attempts).toBe(4);
    expect(vi.getTimerCount()).toBe(0);
    hub.close();
  });

  it("stop() while waiting to retry clears the timer and is idempotent", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const hub = new StreamHub();
    const port = await freePortSync();
    const pull = new RelayPull(hub, { app: "live", name: "x", url: `rtmp://127.0.0.1:${port}/live/x` });
    const events = recordEvents(pull);
    pull.start();
    await until(() => pull.state === "retrying");
    expect(vi.getTimerCount()).toBe(1);
    const delay = Number(events.at(-1)?.split(":")[2]);
    // Default backoff: 1000 ms less up to 20 %.
    expect(delay).toBeGreaterThanOrEqual(800);
    expect(delay).toBeLessThanOrEqual(1000);
    pull.stop();
    pull.stop();
    expect(vi.getTimerCount()).toBe(0);
    expect(events.filter((e) => e.startsWith("stopped"))).toEqual(["stopped"]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(events.at(-1)).toBe("stopped");
    hub.close();
  });
});
