/** A server that cannot open one of its ports lets go of the others and says which flag to change. */
import { createServer, type Server } from "node:net";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { freePort, run } from "../../../test-support/media-tools.js";
import { OnairServer, ServerStartError } from "../src/index.js";
import { runCli } from "./cli-process.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));

function occupy(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

const blockers: Server[] = [];
afterEach(async () => {
  await Promise.all(blockers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

describe("OnairServer.listen failures", () => {
  it("closes the RTMP listener when the FLV port is taken, and names --flv-port", async () => {
    const rtmpPort = await freePort();
    const flvPort = await freePort();
    blockers.push(await occupy(flvPort));
    const server = new OnairServer({ host: "127.0.0.1", rtmpPort, flvPort, hls: false, api: false });
    const error = await server.listen().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ServerStartError);
    expect((error as ServerStartError).code).toBe("ERR_SERVER_LISTEN");
    expect((error as Error).message).toContain(`127.0.0.1:${flvPort}`);
    expect((error as Error).message).toContain("--flv-port");
    expect((error as Error).message).toContain("already in use");
    // The RTMP port it had opened is free again.
    expect(await canListen(rtmpPort)).toBe(true);
    expect(server.rtmp.address()).toBeUndefined();
  });

  it("names --rtmp-port when the RTMP port is taken, and opens nothing", async () => {
    const rtmpPort = await freePort();
    const flvPort = await freePort();
    blockers.push(await occupy(rtmpPort));
    const server = new OnairServer({ host: "127.0.0.1", rtmpPort, flvPort, hls: false, api: false });
    await expect(server.listen()).rejects.toThrow(/--rtmp-port/);
    expect(await canListen(flvPort)).toBe(true);
  });

  it("names --api-port when the API port is taken, and lets go of RTMP, HTTP-FLV and HLS", async () => {
    const [rtmpPort, flvPort, hlsPort, apiPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    blockers.push(await occupy(apiPort));
    const server = new OnairServer({ host: "127.0.0.1", rtmpPort, flvPort, hlsPort, apiPort });
    await expect(server.listen()).rejects.toThrow(
      `cannot listen for the API on 127.0.0.1:${apiPort}: the port is already in use (another onair, or another server?). Choose another port with --api-port.`,
    );
    for (const port of [rtmpPort, flvPort, hlsPort]) expect(await canListen(port)).toBe(true);
  });

  it("the CLI prints one line naming the flag, no stack trace, and exits 1", async () => {
    const rtmpPort = await freePort();
    const flvPort = await freePort();
    blockers.push(await occupy(flvPort));
    const cli = run("node", [
      "--conditions=source",
      "--import",
      "tsx",
      `${root}packages/server/src/cli.ts`,
      "--host",
      "127.0.0.1",
      "--rtmp-port",
      String(rtmpPort),
      "--flv-port",
      String(flvPort),
      "--no-hls",
      "--no-api",
    ]);
    expect(await cli.exited).toBe(1);
    const stderr = cli.stderr().trim();
    expect(stderr).toBe(
      `onair: cannot listen for HTTP-FLV on 127.0.0.1:${flvPort}: the port is already in use (another onair, or another server?). Choose another port with --flv-port.`,
    );
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it("a Redis that cannot be reached: one line naming redis_addr, exit 1, no port left open", async () => {
    const [redisPort, rtmpPort] = [await freePort(), await freePort()];
    const result = await runCli({ config: { redis_addr: `127.0.0.1:${redisPort}`, rtmp_port: rtmpPort } });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `onair: cannot use Redis at 127.0.0.1:${redisPort} for channel keys: cannot connect to Redis at 127.0.0.1:${redisPort}: connect ECONNREFUSED 127.0.0.1:${redisPort}. Check redis_addr (--redis-addr) and redis_pwd.`,
    );
    expect(result.stdout).not.toContain("listening");
    expect(await canListen(rtmpPort)).toBe(true);
  });
});
