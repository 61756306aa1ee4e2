/**
 * Review: the ready server's one authorize hook (apps → channel keys → webhooks → the user's)
 * tells the hooks after the keys the room, never the key: the on_publish body, the user's hook
 * and what the publisher is refused with hold no key.
 */
import type { AuthorizeRequest } from "@onair/core";
import { afterEach, describe, expect, it } from "vitest";
import { createServer, type OnairServer } from "../src/index.js";
import { startWebhookReceiver, type WebhookReceiver } from "./webhook-receiver.js";

describe("channel keys stay out of the hooks after them (review)", () => {
  let server: OnairServer | undefined;
  let receiver: WebhookReceiver | undefined;
  afterEach(async () => {
    await server?.close();
    await receiver?.close();
  });

  it("on_publish and the user's hook get APP/ROOM; an unknown key reaches neither", async () => {
    receiver = await startWebhookReceiver();
    const userSaw: string[] = [];
    server = createServer({
      host: "127.0.0.1",
      rtmpPort: 0,
      flvPort: 0,
      hls: false,
      api: false,
      webhooks: { onPublish: `${receiver.base}/on_publish` },
      authorize: ({ action, app, name }) => {
        userSaw.push(`${action} ${app}/${name}`);
        return true;
      },
    });
    await server.listen();
    const keys = server.keys;
    const authorize = server.authorize;
    if (keys === undefined || authorize === undefined) throw new Error("no keys or hook");
    const key = await keys.get("room7");
    const request = (name: string): AuthorizeRequest => ({
      action: "publish",
      protocol: "rtmp",
      app: "live",
      name,
      query: new URLSearchParams("x=1"),
      remoteAddress: "127.0.0.1:5000",
    });
    expect(await authorize(request(key))).toEqual({ allow: true, name: "room7" });
    const wrong = await authorize(request(`${key.slice(0, -1)}x`));
    expect(wrong).toMatchObject({ allow: false });
    expect(JSON.stringify(wrong)).not.toContain(key.slice(0, 40));
    const hooks = receiver.on("/on_publish");
    expect(hooks).toHaveLength(1);
    expect(hooks[0].body).toMatchObject({ key: "live/room7", app: "live", name: "room7" });
    expect(JSON.stringify(hooks[0].body)).not.toContain(key);
    expect(userSaw).toEqual(["publish live/room7"]);
  });
});
