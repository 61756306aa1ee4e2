/** Review: RelayRegistry matches URLs however they are spelled, and error messages carry no tokens. */
import { StreamHub } from "@onair/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  parseRelayUrl,
  pushTargetUrl,
  type RelayError,
  RelayErrorCode,
  RelayPull,
  RelayRegistry,
} from "../src/index.js";

const cleanups: (() => unknown)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function setup(): { hub: StreamHub; registry: RelayRegistry } {
  const hub = new StreamHub({ batchWindowMs: 0 });
  const registry = new RelayRegistry(hub, { reconnect: { initialDelayMs: 60_000 } });
  cleanups.push(() => hub.close());
  cleanups.push(() => registry.close());
  return { hub, registry };
}

function thrown(f: () => unknown): RelayError {
  try {
    f();
  } catch (error) {
    return error as RelayError;
  }
  throw new Error("did not throw");
}

describe("RelayRegistry URL matching (review)", () => {
  it("one push per remote however its URL is spelled (host case, default port, empty segments)", () => {
    const { registry } = setup();
    const push = registry.startPush({ app: "live", name: "cam", url: "rtmp://relay.invalid/in/cam?t=1" });
    for (const url of [
      "rtmp://Relay.INVALID/in/cam?t=1",
      "rtmp://relay.invalid:1935/in/cam?t=1",
      "rtmp://relay.invalid/in//cam?t=1",
      "RTMP://relay.invalid/in/cam?t=1",
    ]) {
      expect(registry.startPush({ app: "live", name: "cam", url }), url).toBe(push);
    }
    expect(registry.relays()).toHaveLength(1);
    // Another port, app, name or query is another remote.
    registry.startPush({ app: "live", name: "cam", url: "rtmp://relay.invalid:1936/in/cam?t=1" });
    registry.startPush({ app: "live", name: "cam", url: "rtmp://relay.invalid/in/cam?t=2" });
    expect(registry.relays()).toHaveLength(3);
    expect(registry.stopPush({ app: "live", name: "cam", url: "rtmp://RELAY.invalid:1935/in/cam?t=1" })).toBe(
      1,
    );
    expect(push.state).toBe("stopped");
  });

  it("a pull of the same remote spelled otherwise is the running pull, not ERR_RELAY_EXISTS", () => {
    const { registry } = setup();
    const pull = registry.startPull({ app: "here", name: "cam", url: "http://Origin.invalid/live/cam.flv" });
    expect(
      registry.startPull({ app: "here", name: "cam", url: "http://origin.invalid:80/live/cam.flv" }),
    ).toBe(pull);
    expect(registry.stopPull({ app: "here", name: "cam", url: "http://ORIGIN.invalid/live/cam.flv" })).toBe(
      1,
    );
  });
});

describe("no tokens in error messages (review)", () => {
  it("ERR_RELAY_EXISTS names the running pull's remote without its query", () => {
    const { registry } = setup();
    registry.startPull({ app: "here", name: "cam", url: "rtmp://a.invalid/live/cam?token=s3cret" });
    const error = thrown(() =>
      registry.startPull({ app: "here", name: "cam", url: "rtmp://b.invalid/live/cam" }),
    );
    expect(error.code).toBe(RelayErrorCode.exists);
    expect(error.message).toContain("rtmp://a.invalid/live/cam");
    expect(error.message).not.toContain("s3cret");
  });

  it("a refused URL is echoed without its query or credentials", () => {
    const hub = new StreamHub();
    cleanups.push(() => hub.close());
    const cases: [() => unknown, string][] = [
      [
        () => parseRelayUrl("rtmp://u:pw0rd@h.invalid/onlyapp?token=s3cret", false),
        "rtmp://h.invalid/onlyapp",
      ],
      [() => parseRelayUrl("ftp://h.invalid/a/b?token=s3cret", true), "ftp://h.invalid/a/b"],
      [() => new RelayPull(hub, { app: "a", name: "b", url: "rtmp//h/a/b?token=s3cret" }), "rtmp//h/a/b"],
      [() => pushTargetUrl("http://h.invalid/app?token=s3cret", "cam"), "http://h.invalid/app"],
    ];
    for (const [make, shown] of cases) {
      const error = thrown(make);
      expect(error.code).toBe(RelayErrorCode.badUrl);
      expect(error.message).toContain(shown);
      expect(error.message).not.toContain("s3cret");
      expect(error.message).not.toContain("pw0rd");
    }
  });
});
