/**
 * Review: the control API on loopback without a JWT must not be usable by a web page the operator
 * happens to visit — a cross-site <img src="http://127.0.0.1:8090/control/reset?room=…"> (CSRF),
 * or a page on an attacker's domain re-resolved to 127.0.0.1 (DNS rebinding), which then reads
 * /control/get as "same-origin". Requests from curl, scripts and the dashboard itself still work.
 */
import { request } from "node:http";
import { StreamHub } from "@onair/core";
import { SignJWT } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { createDashboard } from "../src/dashboard/dashboard.js";
import { MemoryKeyStore } from "../src/keys/memory-key-store.js";
import { type ApiUnderTest, serveApi } from "./api-server.js";

interface Raw {
  status: number;
  body: string;
}

/** A request with exactly the headers given (fetch would not let us set Host or Sec-Fetch-*). */
function raw(base: string, path: string, headers: Record<string, string>, method = "GET"): Promise<Raw> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("the control API refuses other sites' pages (review)", () => {
  let api: ApiUnderTest | undefined;
  let closeDashboard: (() => void) | undefined;
  afterEach(async () => {
    closeDashboard?.();
    await api?.close();
  });

  async function start(jwt?: { secret: string }) {
    const hub = new StreamHub();
    const keys = new MemoryKeyStore();
    const dashboard = createDashboard({ hub });
    closeDashboard = () => {
      dashboard.close();
      hub.close();
    };
    api = await serveApi({ hub, keys, dashboard, ...(jwt === undefined ? {} : { jwt }) });
    return { keys, base: api.base, host: new URL(api.base).host };
  }

  it("a cross-site GET (an <img> or fetch from another site) cannot reset, delete or read keys", async () => {
    const { keys, base, host } = await start();
    const key = await keys.get("live");
    for (const path of ["/control/reset?room=live", "/control/delete?room=live", "/control/get?room=live"]) {
      const reply = await raw(base, path, {
        Host: host,
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Mode": "no-cors",
        "Sec-Fetch-Dest": "image",
      });
      expect(reply.status, path).toBe(403);
      expect(JSON.parse(reply.body)).toMatchObject({ status: 403 });
    }
    // A same-site page (another port on localhost) is another origin too.
    const sameSite = await raw(base, "/control/reset?room=live", {
      Host: host,
      "Sec-Fetch-Site": "same-site",
      "Sec-Fetch-Mode": "cors",
    });
    expect(sameSite.status).toBe(403);
    // A top-level navigation from another site to an API path is refused as well.
    const navigation = await raw(base, "/control/reset?room=live", {
      Host: host,
      "Sec-Fetch-Site": "cross-site",
      "Sec-Fetch-Mode": "navigate",
      "Sec-Fetch-Dest": "document",
    });
    expect(navigation.status).toBe(403);
    expect(await keys.roomOf(key)).toBe("live");
  });

  it("the stats stream and /stat/livestat are not readable from another site", async () => {
    const { base, host } = await start();
    for (const path of ["/stat/events", "/stat/livestat"]) {
      const reply = await raw(base, path, {
        Host: host,
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Mode": "cors",
      });
      expect(reply.status, path).toBe(403);
    }
  });

  it("a browser without Sec-Fetch-* headers is judged by Origin: another origin is refused", async () => {
    const { keys, base, host } = await start();
    const key = await keys.get("live");
    const reply = await raw(
      base,
      "/control/reset?room=live",
      { Host: host, Origin: "http://evil.example" },
      "POST",
    );
    expect(reply.status).toBe(403);
    const opaque = await raw(base, "/control/reset?room=live", { Host: host, Origin: "null" }, "POST");
    expect(opaque.status).toBe(403);
    expect(await keys.roomOf(key)).toBe("live");
    const own = await raw(base, "/control/get?room=live", { Host: host, Origin: `http://${host}` }, "POST");
    expect(own.status).toBe(200);
  });

  it("DNS rebinding: on loopback without a JWT, a Host that is not a loopback name is refused", async () => {
    const { keys, base } = await start();
    await keys.get("live");
    const port = new URL(base).port;
    const rebound = await raw(base, "/control/get?room=live", {
      Host: `evil.example:${port}`,
      "Sec-Fetch-Site": "same-origin",
      "Sec-Fetch-Mode": "cors",
    });
    expect(rebound.status).toBe(403);
    expect(rebound.body).not.toMatch(/[A-Za-z0-9]{48}/);
    const page = await raw(base, "/", { Host: `evil.example:${port}`, "Sec-Fetch-Site": "none" });
    expect(page.status).toBe(403);
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `LOCALHOST:${port}`,
      `app.localhost:${port}`,
    ]) {
      const ok = await raw(base, "/control/get?room=live", { Host: host });
      expect(ok.status, host).toBe(200);
    }
  });

  it("with a JWT, a valid token is what counts (a proxy may pass its own Host)", async () => {
    const secret = "review-secret";
    const { base } = await start({ secret });
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(secret));
    const proxied = await raw(base, "/control/get?room=live", {
      Host: "live.example.com",
      Authorization: `Bearer ${token}`,
    });
    expect(proxied.status).toBe(200);
    // Still no cross-site requests, token or not.
    const crossSite = await raw(base, `/control/reset?room=live&jwt=${token}`, {
      Host: "live.example.com",
      "Sec-Fetch-Site": "cross-site",
      "Sec-Fetch-Mode": "no-cors",
    });
    expect(crossSite.status).toBe(403);
  });

  it("curl, scripts, the dashboard's own requests and a link to the dashboard page still work", async () => {
    const { base, host } = await start();
    expect((await raw(base, "/control/get?room=live", { Host: host })).status).toBe(200);
    const dashboardCall = await raw(
      base,
      "/control/reset?room=live",
      { Host: host, Origin: `http://${host}`, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors" },
      "POST",
    );
    expect(dashboardCall.status).toBe(200);
    const typed = await raw(base, "/", {
      Host: host,
      "Sec-Fetch-Site": "none",
      "Sec-Fetch-Mode": "navigate",
    });
    expect(typed.status).toBe(200);
    // A link on another site (a wiki, a chat) opens the page; the page itself asks same-origin.
    const linked = await raw(base, "/", {
      Host: host,
      "Sec-Fetch-Site": "cross-site",
      "Sec-Fetch-Mode": "navigate",
      "Sec-Fetch-Dest": "document",
    });
    expect(linked.status).toBe(200);
    expect(linked.body).toContain("<html");
  });
});
