/** Review: relays log their state changes under onair:relay:*, without the URL's query. */
import { format } from "node:util";
import { StreamHub } from "@onair/core";
import createDebug from "debug";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RelayPull, RelayPush, RelayRegistry, staticPush } from "../src/index.js";
import { freePortSync } from "./ports.js";

const saved = { log: createDebug.log, namespaces: createDebug.disable() };
createDebug.enable(saved.namespaces);
afterEach(() => {
  createDebug.log = saved.log;
  createDebug.disable();
  if (saved.namespaces !== "") createDebug.enable(saved.namespaces);
});

function capture(): string[] {
  const lines: string[] = [];
  createDebug.log = (...args: unknown[]) => {
    lines.push(format(...args));
  };
  createDebug.enable("onair:relay:*");
  return lines;
}

describe("debug logging (review)", () => {
  it("logs each state of a pull and a push under onair:relay:pull / :push, tokens left out", async () => {
    const lines = capture();
    const hub = new StreamHub();
    const port = await freePortSync();
    const reconnect = { initialDelayMs: 10, random: () => 0 };
    const pull = new RelayPull(hub, {
      app: "here",
      name: "cam",
      url: `rtmp://127.0.0.1:${port}/live/cam?token=s3cret`,
      reconnect,
      maxRetries: 1,
    });
    const push = new RelayPush(hub, {
      app: "live",
      name: "cam",
      url: `rtmp://127.0.0.1:${port}/in/cam?token=s3cret`,
      reconnect,
    });
    pull.start();
    push.start();
    await vi.waitFor(() => expect(pull.state).toBe("stopped"), 5000);
    push.stop();
    hub.close();
    const pullLines = lines.filter((l) => l.includes("onair:relay:pull"));
    const pushLines = lines.filter((l) => l.includes("onair:relay:push"));
    for (const state of ["connecting", "disconnected", "retrying", "stopped"]) {
      expect(
        pullLines.some((l) => l.includes(state)),
        state,
      ).toBe(true);
    }
    expect(pullLines.some((l) => l.includes("ECONNREFUSED"))).toBe(true);
    expect(pullLines.some((l) => l.includes("ERR_RELAY_GAVE_UP"))).toBe(true);
    expect(pushLines.some((l) => l.includes("stopped"))).toBe(true);
    expect(lines.some((l) => l.includes(`rtmp://127.0.0.1:${port}/live/cam`))).toBe(true);
    expect(lines.join("\n")).not.toContain("s3cret");
  });

  it("logs static push and registry starts and stops", () => {
    const lines = capture();
    const hub = new StreamHub();
    const registry = new RelayRegistry(hub, { reconnect: { initialDelayMs: 60_000 } });
    registry.startPush({ app: "live", name: "x", url: "rtmp://relay.invalid/in/x?token=s3cret" });
    registry.close();
    const pushes = staticPush(hub, {
      rules: [{ app: "live", urls: ["rtmp://relay.invalid/in?token=s3cret"] }],
    });
    pushes.stop();
    hub.close();
    expect(lines.some((l) => l.includes("onair:relay:registry"))).toBe(true);
    expect(lines.some((l) => l.includes("onair:relay:static"))).toBe(true);
    expect(lines.join("\n")).not.toContain("s3cret");
  });
});
