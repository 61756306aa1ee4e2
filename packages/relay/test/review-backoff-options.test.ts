/** Review: a backoff that cannot grow (initialDelayMs 0: every delay 0) is refused, not a tight reconnect loop. */
import { StreamHub } from "@onair/core";
import { describe, expect, it } from "vitest";
import { Backoff, RelayError, RelayErrorCode, RelayPull } from "../src/index.js";

describe("Backoff options (review)", () => {
  it("refuses initialDelayMs 0 (0 × factor^n is 0: a relay would reconnect with no delay, forever)", () => {
    const hub = new StreamHub();
    for (const make of [
      () => new Backoff({ initialDelayMs: 0 }),
      () =>
        new RelayPull(hub, {
          app: "a",
          name: "b",
          url: "rtmp://h.invalid/a/b",
          reconnect: { initialDelayMs: 0 },
        }),
    ]) {
      let error: unknown;
      try {
        make();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(RelayError);
      expect((error as RelayError).code).toBe(RelayErrorCode.badOption);
      expect((error as RelayError).message).toContain("initialDelayMs");
    }
    expect(new Backoff({ initialDelayMs: 1, random: () => 0 }).next()).toBe(1);
    hub.close();
  });

  it("refuses delays and timeouts past setTimeout's limit (2^31 - 1 ms), which Node would turn into 1 ms", () => {
    const hub = new StreamHub();
    const url = "rtmp://h.invalid/a/b";
    for (const make of [
      () => new Backoff({ maxDelayMs: 2 ** 31 }),
      () => new Backoff({ initialDelayMs: 2 ** 31 }),
      () => new RelayPull(hub, { app: "a", name: "b", url, connectTimeoutMs: 2 ** 31 }),
      () => new RelayPull(hub, { app: "a", name: "b", url, idleTimeoutMs: 2 ** 31 }),
    ]) {
      let error: unknown;
      try {
        make();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(RelayError);
      expect((error as RelayError).code).toBe(RelayErrorCode.badOption);
    }
    expect(new Backoff({ maxDelayMs: 2 ** 31 - 1 }).maxDelayMs).toBe(2 ** 31 - 1);
    hub.close();
  });
});
