/** API protection: with a JWT secret, every call needs a valid token, else livego's 403 body. */
import { generateKeyPairSync } from "node:crypto";
import { StreamHub } from "@onair/core";
import { SignJWT, UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiHandler } from "../src/api/api-handler.js";
import { MemoryKeyStore } from "../src/keys/memory-key-store.js";
import { type ApiUnderTest, call, serveApi } from "./api-server.js";

const SECRET = "a shared secret for the onair API";

function sign(secret: string, options: { alg?: string; exp?: number | string; nbf?: number | string } = {}) {
  let jwt = new SignJWT({ sub: "ops" }).setProtectedHeader({ alg: options.alg ?? "HS256" }).setIssuedAt();
  if (options.exp !== undefined) jwt = jwt.setExpirationTime(options.exp);
  if (options.nbf !== undefined) jwt = jwt.setNotBefore(options.nbf);
  return jwt.sign(new TextEncoder().encode(secret));
}

describe("JWT on the control API", () => {
  const hub = new StreamHub();
  const keys = new MemoryKeyStore();
  let api: ApiUnderTest;

  beforeAll(async () => {
    api = await serveApi({
      hub,
      keys,
      jwt: { secret: SECRET },
      metrics: async () => ({ contentType: "text/plain", body: "x 1\n" }),
    });
  });
  afterAll(async () => {
    await api.close();
    hub.close();
    await keys.close();
    expect(api.errors).toEqual([]);
  });

  it("refuses a call without a token with 403 and livego's body, on every path", async () => {
    for (const path of [
      "/control/get?room=a",
      "/stat/livestat",
      "/control/push",
      "/metrics",
      "/no/such/path",
    ]) {
      const reply = await call(`${api.base}${path}`);
      expect(reply.httpStatus, path).toBe(403);
      expect(reply.body).toEqual({ status: 403, data: "Required authorization token not found" });
    }
    expect(keys.size).toBe(0);
  });

  it("accepts a valid HS256 token as Authorization: Bearer and as ?jwt=", async () => {
    const token = await sign(SECRET, { exp: "5m" });
    const bearer = await call(`${api.base}/control/get?room=a`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(bearer.httpStatus).toBe(200);
    expect(bearer.body.data).toMatch(/^[A-Za-z0-9]{48}$/);
    const lower = await call(`${api.base}/stat/livestat`, { headers: { authorization: `bearer ${token}` } });
    expect(lower.httpStatus).toBe(200);
    const param = await call(`${api.base}/control/get?room=a&jwt=${token}`);
    expect(param.body).toEqual(bearer.body);
    const metrics = await fetch(`${api.base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(await metrics.text()).toBe("x 1\n");
    // A valid token still gets a 404 for a path that does not exist.
    expect((await call(`${api.base}/nothing?jwt=${token}`)).httpStatus).toBe(404);
  });

  it("refuses tokens that are wrong in every way with 403", async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, string, string][] = [
      ["another secret", await sign("not the secret"), "signature is invalid"],
      ["expired", await sign(SECRET, { exp: now - 60 }), "Token is expired"],
      ["not yet valid", await sign(SECRET, { nbf: now + 3600 }), "Token is not valid yet"],
      [
        "another algorithm",
        await sign(SECRET, { alg: "HS512" }),
        "Error validating token algorithm: Expected HS256 signing method",
      ],
      [
        "alg none",
        new UnsecuredJWT({ sub: "ops" }).encode(),
        "Error validating token algorithm: Expected HS256 signing method",
      ],
      ["garbage", "not.a.token", "Token is invalid"],
      ["huge", "x".repeat(10_000), "Token is invalid"],
    ];
    for (const [what, token, message] of cases) {
      const header = await call(`${api.base}/control/get?room=a`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(header.httpStatus, what).toBe(403);
      expect(header.body, what).toEqual({ status: 403, data: message });
      const param = await call(`${api.base}/control/get?room=a&jwt=${encodeURIComponent(token)}`);
      expect(param.httpStatus, what).toBe(403);
    }
    // A tampered payload with the original signature.
    const [h, , s] = (await sign(SECRET)).split(".");
    const forged = `${h}.${Buffer.from(JSON.stringify({ sub: "root" })).toString("base64url")}.${s}`;
    expect((await call(`${api.base}/stat/livestat?jwt=${forged}`)).body.data).toBe("signature is invalid");
  });

  it("refuses an Authorization header that is not Bearer, even with a good ?jwt=", async () => {
    const token = await sign(SECRET);
    const basic = await call(`${api.base}/control/get?room=a&jwt=${token}`, {
      headers: { authorization: "Basic dXNlcjpwYXNz" },
    });
    expect(basic.httpStatus).toBe(403);
    expect(basic.body).toEqual({ status: 403, data: "Authorization header format must be Bearer {token}" });
  });

  it("verifies the configured algorithm: HS512, and RS256 with a PEM public key", async () => {
    const hs512 = await serveApi({ hub, keys, jwt: { secret: SECRET, algorithm: "HS512" } });
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const rs256 = await serveApi({
      hub,
      keys,
      jwt: { secret: publicKey.export({ type: "spki", format: "pem" }).toString(), algorithm: "RS256" },
    });
    try {
      const good512 = await sign(SECRET, { alg: "HS512" });
      expect((await call(`${hs512.base}/stat/livestat?jwt=${good512}`)).httpStatus).toBe(200);
      expect((await call(`${hs512.base}/stat/livestat?jwt=${await sign(SECRET)}`)).httpStatus).toBe(403);
      const rsToken = await new SignJWT({ sub: "ops" }).setProtectedHeader({ alg: "RS256" }).sign(privateKey);
      expect((await call(`${rs256.base}/stat/livestat?jwt=${rsToken}`)).httpStatus).toBe(200);
      // An HMAC token "signed" with the public key text is the classic confusion attack: refused.
      const confused = await sign(publicKey.export({ type: "spki", format: "pem" }).toString());
      expect((await call(`${rs256.base}/stat/livestat?jwt=${confused}`)).httpStatus).toBe(403);
    } finally {
      await hs512.close();
      await rs256.close();
    }
  });

  it("refuses unusable settings when the handler is made, with ERR_API_BAD_OPTION", () => {
    expect(() => createApiHandler({ hub, keys, jwt: { secret: SECRET, algorithm: "none" } })).toThrowError(
      expect.objectContaining({ code: "ERR_API_BAD_OPTION" }),
    );
    expect(() => createApiHandler({ hub, keys, jwt: { secret: "" } })).toThrowError(
      expect.objectContaining({ code: "ERR_API_BAD_OPTION" }),
    );
  });
});
