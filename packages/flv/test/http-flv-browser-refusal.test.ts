/// <reference lib="dom" />
/**
 * What a browser sees of a refusal: a page's fetch reads the 401/403 JSON, and its WebSocket reads
 * the close code and reason (a failed upgrade would show it only 1006).
 */
import { createMediaPacket, StreamHub, StreamSource } from "@onair/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasChromium, launchChromium } from "../../../test-support/browser.js";
import { createHttpFlvServer, type HttpFlvServer } from "../src/index.js";

describe.skipIf(!hasChromium)("Chromium reads HTTP-FLV and WS-FLV refusals", () => {
  let hub: StreamHub;
  let server: HttpFlvServer;
  let port: number;
  let browser: Awaited<ReturnType<typeof launchChromium>>;

  beforeAll(async () => {
    hub = new StreamHub({ batchWindowMs: 0 });
    const source = new StreamSource({ key: "live/a", app: "live", name: "a", url: "", id: "src" });
    hub.handleReader(source);
    source.push(createMediaPacket("video", 0, Buffer.alloc(1000, 0x17), { keyframe: true }));
    server = createHttpFlvServer({
      handler: hub,
      host: "127.0.0.1",
      port: 0,
      authorize: ({ query }) => {
        const token = query.get("token");
        if (token === null) return { allow: false, reason: "a token is required", status: 401 };
        return token === "good" || { allow: false, reason: "wrong token", status: 403 };
      },
    });
    port = (await server.listen()).port;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    hub.close();
    await server.close();
  });

  it("a page reads the status and JSON of a refused HTTP-FLV request, and the close code of a refused WS-FLV", async () => {
    const page = await browser.context.newPage();
    await page.goto(`http://127.0.0.1:${port}/streams`); // same origin as the streams
    const seen = await page.evaluate(async (base) => {
      const refused = await fetch(`http://${base}/live/a.flv`);
      const wrong = await fetch(`http://${base}/live/a.flv?token=bad`);
      const close = (url: string) =>
        new Promise<{ code: number; reason: string; messages: number }>((resolve) => {
          const ws = new WebSocket(url);
          let messages = 0;
          ws.onmessage = () => {
            messages += 1;
            ws.close(1000);
          };
          ws.onclose = (event) => resolve({ code: event.code, reason: event.reason, messages });
        });
      return {
        http: { status: refused.status, body: await refused.json() },
        wrong: { status: wrong.status, body: await wrong.json() },
        ws: await close(`ws://${base}/live/a.flv`),
        wsWrong: await close(`ws://${base}/live/a.flv?token=bad`),
        wsAllowed: await close(`ws://${base}/live/a.flv?token=good`),
      };
    }, `127.0.0.1:${port}`);
    expect(seen.http).toEqual({
      status: 401,
      body: { error: "unauthorized", code: "ERR_FLV_UNAUTHORIZED", reason: "a token is required" },
    });
    expect(seen.wrong.status).toBe(403);
    expect(seen.wrong.body).toMatchObject({ reason: "wrong token" });
    expect(seen.ws).toEqual({ code: 4401, reason: "a token is required", messages: 0 });
    expect(seen.wsWrong).toEqual({ code: 4403, reason: "wrong token", messages: 0 });
    expect(seen.wsAllowed.messages).toBe(1);
  }, 60_000);
});
