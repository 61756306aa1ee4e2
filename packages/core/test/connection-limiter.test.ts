import { describe, expect, it } from "vitest";
import { ConnectionLimiter } from "../src/connection-limiter.js";

describe("ConnectionLimiter", () => {
  it("admits up to the per-IP limit, exempts loopback by default, and frees on release", () => {
    const limiter = new ConnectionLimiter({ maxConnections: 10, maxConnectionsPerIp: 2 });
    expect([limiter.admit("10.0.0.1"), limiter.admit("10.0.0.1"), limiter.admit("10.0.0.1")]).toEqual([
      undefined,
      undefined,
      "perIp",
    ]);
    for (let i = 0; i < 5; i++) expect(limiter.admit("127.0.0.1")).toBeUndefined();
    expect(limiter.count).toBe(7);
    limiter.release("10.0.0.1");
    expect(limiter.admit("10.0.0.1")).toBeUndefined();
    expect(limiter.count).toBe(7);
  });

  it("refuses past maxConnections before looking at the address, counting nothing for a refusal", () => {
    const limiter = new ConnectionLimiter({
      maxConnections: 2,
      maxConnectionsPerIp: 1,
      perIpExemptAddresses: [],
    });
    expect(limiter.admit("a")).toBeUndefined();
    expect(limiter.admit("a")).toBe("perIp");
    expect(limiter.admit("127.0.0.1")).toBeUndefined();
    expect(limiter.admit("127.0.0.1")).toBe("maxConnections");
    expect(limiter.count).toBe(2);
    limiter.release("a");
    limiter.release("127.0.0.1");
    expect(limiter.count).toBe(0);
    expect([limiter.admit("a"), limiter.admit("127.0.0.1")]).toEqual([undefined, undefined]);
  });
});
