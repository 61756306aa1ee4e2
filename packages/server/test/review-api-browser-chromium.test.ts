/// <reference lib="dom" />
/**
 * Review, in Debian's Chromium: a page on another site (http://localhost:P, another site than
 * http://127.0.0.1) fires the API's GETs and POSTs with <img>, fetch(no-cors) and an <iframe>,
 * as a CSRF would; the channel key must be unchanged after. And a DNS-rebinding name
 * (rebind.test mapped to 127.0.0.1 by Chromium's resolver rules) gets 403, not the key.
 */
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, hasChromium } from "../../../test-support/browser.js";
import { createServer, type OnairServer } from "../src/index.js";

describe.runIf(hasChromium)("the API against other sites' pages in Chromium (review)", () => {
  let server: OnairServer;
  let apiPort: number;
  let attacker: Server;
  let attackerPort: number;
  let browser: Awaited<ReturnType<typeof chromium.launch>>;

  beforeAll(async () => {
    server = createServer({ host: "127.0.0.1", rtmpPort: 0, flvPort: 0, apiPort: 0, hls: false });
    const addresses = await server.listen();
    apiPort = addresses.api?.port ?? 0;
    const api = `http://127.0.0.1:${apiPort}`;
    const page = `<!doctype html><html><body><script>
      const api = ${JSON.stringify(api)};
      new Image().src = api + "/control/reset?room=live";
      fetch(api + "/control/delete?room=live", { mode: "no-cors" }).catch(() => {});
      fetch(api + "/control/reset?room=live", { mode: "no-cors", method: "POST" }).catch(() => {});
      const frame = document.createElement("iframe");
      frame.src = api + "/control/delete?room=live";
      document.body.append(frame);
      const done = () => { document.title = "fired"; };
      frame.onload = done;
      setTimeout(done, 1500);
    </script></body></html>`;
    attacker = createHttpServer((_, res) => {
      res.writeHead(200, { "Content-Type": "text/html" });
      res.end(page);
    });
    await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
    attackerPort = (attacker.address() as AddressInfo).port;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP rebind.test 127.0.0.1",
      ],
    });
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (attacker ? attacker.close(() => resolve()) : resolve()));
    await server?.close();
  });

  it("a cross-site page cannot reset or delete a channel key", async () => {
    const keys = server.keys;
    if (keys === undefined) throw new Error("no key store");
    const key = await keys.get("live");
    const page = await browser.newPage();
    try {
      // localhost and 127.0.0.1 are different sites to the browser.
      await page.goto(`http://localhost:${attackerPort}/`);
      await page.waitForFunction(() => document.title === "fired", undefined, { timeout: 10_000 });
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await page.close();
    }
    expect(await keys.roomOf(key)).toBe("live");
    expect(await keys.get("live")).toBe(key);
  });

  it("a DNS-rebinding name gets 403 and no key; the same API by 127.0.0.1 answers", async () => {
    const page = await browser.newPage();
    try {
      const rebound = await page.goto(`http://rebind.test:${apiPort}/control/get?room=live`);
      expect(rebound?.status()).toBe(403);
      expect(await rebound?.text()).not.toMatch(/[A-Za-z0-9]{48}/);
      const direct = await page.goto(`http://127.0.0.1:${apiPort}/control/get?room=live`);
      expect(direct?.status()).toBe(200);
      expect(await direct?.text()).toMatch(/"data":"[A-Za-z0-9]{48}"/);
    } finally {
      await page.close();
    }
  });
});
