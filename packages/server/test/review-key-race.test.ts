/**
 * Review: a publish is checked against the channel keys first and then waits for the hooks after
 * them (the on_publish webhook: up to its timeout). A /control/reset or /control/delete of the
 * room in that time must still refuse it: "the old key stops working at once", and a deleted
 * channel must not come back live a moment later.
 */
import { createServer as createHttpServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { AuthorizeRequest } from "@onair/core";
import { afterEach, describe, expect, it } from "vitest";
import { createServer, type OnairServer } from "../src/index.js";

describe("a key reset or deleted while the publish's hooks run (review)", () => {
  let server: OnairServer | undefined;
  let hook: ReturnType<typeof createHttpServer> | undefined;
  afterEach(async () => {
    await server?.close();
    hook?.closeAllConnections();
    await new Promise<void>((resolve) => (hook ? hook.close(() => resolve()) : resolve()));
  });

  /** An on_publish endpoint that answers 200 only when told to. */
  async function heldHook(): Promise<{ url: string; pending: ServerResponse[] }> {
    const pending: ServerResponse[] = [];
    hook = createHttpServer((req, res) => {
      req.resume();
      req.on("end", () => pending.push(res));
    });
    await new Promise<void>((resolve) => hook?.listen(0, "127.0.0.1", resolve));
    return { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/on_publish`, pending };
  }

  const publish = (name: string): AuthorizeRequest => ({
    action: "publish",
    protocol: "rtmp",
    app: "live",
    name,
    query: new URLSearchParams(),
    remoteAddress: "127.0.0.1:5000",
  });

  async function whileHeld(change: (room: string) => Promise<unknown>): Promise<unknown> {
    const { url, pending } = await heldHook();
    server = createServer({
      host: "127.0.0.1",
      rtmpPort: 0,
      flvPort: 0,
      hls: false,
      api: false,
      webhooks: { onPublish: url },
    });
    await server.listen();
    const keys = server.keys;
    const authorize = server.authorize;
    if (keys === undefined || authorize === undefined) throw new Error("no keys or hook");
    const key = await keys.get("room1");
    const verdict = Promise.resolve(authorize(publish(key)));
    for (let i = 0; i < 100 && pending.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(pending).toHaveLength(1);
    await change("room1");
    for (const res of pending) res.end("ok");
    return verdict;
  }

  it("reset: the old key is refused even though it was valid when the publish began", async () => {
    const verdict = await whileHeld((room) => (server as OnairServer).keys?.reset(room) as Promise<string>);
    expect(verdict).toMatchObject({ allow: false });
  });

  it("delete: the channel does not go live after it was deleted", async () => {
    const verdict = await whileHeld((room) => (server as OnairServer).keys?.delete(room) as Promise<boolean>);
    expect(verdict).toMatchObject({ allow: false });
  });

  it("a key still valid after the hooks goes live as its room", async () => {
    const verdict = await whileHeld(async () => undefined);
    expect(verdict).toEqual({ allow: true, name: "room1" });
  });
});
