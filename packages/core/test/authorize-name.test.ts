/** runAuthorize carries a hook's `{ allow: true, name }` (publish under another name) to the server. */
import { describe, expect, it } from "vitest";
import { type AuthorizeRequest, type AuthorizeResult, runAuthorize } from "../src/index.js";

const request: AuthorizeRequest = {
  action: "publish",
  protocol: "rtmp",
  app: "live",
  name: "secret-key",
  query: new URLSearchParams(),
  remoteAddress: "127.0.0.1:5000",
};

describe("runAuthorize with a name", () => {
  it("passes the hook's name on with the allow", async () => {
    expect(await runAuthorize(() => ({ allow: true, name: "room1" }), request)).toEqual({
      ok: true,
      name: "room1",
    });
  });

  it("gives no name when the hook gave none", async () => {
    expect(await runAuthorize(() => ({ allow: true }), request)).toEqual({ ok: true });
    expect(await runAuthorize(() => true, request)).toEqual({ ok: true });
  });

  it("drops a name that is not a string (a hook written in plain JS)", async () => {
    const hook = () => ({ allow: true, name: 42 }) as unknown as AuthorizeResult;
    expect(await runAuthorize(hook, request)).toEqual({ ok: true });
  });

  it("still refuses with the reason when the hook refuses", async () => {
    expect(await runAuthorize(() => ({ allow: false, reason: "invalid channel key" }), request)).toEqual({
      ok: false,
      reason: "invalid channel key",
      status: 403,
    });
  });
});
