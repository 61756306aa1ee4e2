import { describe, expect, it } from "vitest";
import { runAuthorize, SafeEventEmitter } from "../src/index.js";

describe("SafeEventEmitter", () => {
  it("a throwing sole listener does not throw out of emit", () => {
    const emitter = new SafeEventEmitter<{ publish: [string] }>();
    emitter.on("publish", () => {
      throw new Error("listener bug");
    });
    expect(emitter.emit("publish", "live/a")).toBe(true);
  });

  it("listeners after a throwing one still run, and once listeners run once", () => {
    const emitter = new SafeEventEmitter<{ publish: [string] }>();
    const seen: string[] = [];
    emitter.on("publish", () => {
      throw new Error("listener bug");
    });
    emitter.once("publish", (key) => seen.push(`once ${key}`));
    emitter.on("publish", (key) => seen.push(`on ${key}`));
    emitter.emit("publish", "a");
    emitter.emit("publish", "b");
    expect(seen).toEqual(["once a", "on a", "on b"]);
    expect(emitter.listenerCount("publish")).toBe(2);
  });

  it("returns false with no listeners", () => {
    expect(new SafeEventEmitter<{ x: [] }>().emit("x")).toBe(false);
  });
});

describe("runAuthorize", () => {
  const request = {
    action: "play" as const,
    protocol: "http-flv",
    app: "live",
    name: "a",
    query: new URLSearchParams(),
    remoteAddress: "127.0.0.1:1",
  };
  it("allows without a hook and on true / { allow: true }", async () => {
    expect(await runAuthorize(undefined, request)).toEqual({ ok: true });
    expect(await runAuthorize(() => true, request)).toEqual({ ok: true });
    expect(await runAuthorize(async () => ({ allow: true }), request)).toEqual({ ok: true });
  });
  it("refuses on false, a reason, a status, and a throw", async () => {
    expect(await runAuthorize(() => false, request)).toEqual({
      ok: false,
      reason: "play not authorized",
      status: 403,
    });
    expect(await runAuthorize(() => ({ allow: false, reason: "no token", status: 401 }), request)).toEqual({
      ok: false,
      reason: "no token",
      status: 401,
    });
    let logged: unknown;
    const verdict = await runAuthorize(
      async () => {
        throw new Error("db down");
      },
      request,
      (error) => {
        logged = error;
      },
    );
    expect(verdict.ok).toBe(false);
    expect((logged as Error).message).toBe("db down");
  });
});
