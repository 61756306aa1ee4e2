/**
 * Review: an HTTP-FLV pull honours connectTimeoutMs while the TCP connect itself hangs (a remote
 * whose SYNs go unanswered), not only once the socket is connected.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { StreamHub } from "@onair/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type RelayError, RelayErrorCode, RelayPull } from "../src/index.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * A port whose connects hang: a child process listens with a backlog of 1 (0 would mean the default) and then blocks its
 * event loop, so it never accepts; once filler connections fill the kernel's accept queue, further
 * SYNs are dropped and a connect stays pending.
 */
async function blackHole(): Promise<number> {
  const child: ChildProcess = spawn(process.execPath, [
    "-e",
    `const s = require("node:net").createServer().listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
       process.stdout.write(String(s.address().port) + "\\n");
       setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20000), 50);
     });`,
  ]);
  cleanups.push(() => child.kill("SIGKILL"));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once("data", (data: Buffer) => resolve(Number(String(data).trim())));
    child.once("error", reject);
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const fillers: Socket[] = [];
  cleanups.push(() => {
    for (const s of fillers) s.destroy();
  });
  for (let i = 0; i < 4; i++) {
    const socket = connect(port, "127.0.0.1");
    socket.on("error", () => {});
    fillers.push(socket);
  }
  await vi.waitFor(() => expect(fillers.some((s) => s.connecting)).toBe(true), 3000);
  return port;
}

describe("HTTP-FLV pull connect timeout (review)", () => {
  it("gives up a connect that hangs after connectTimeoutMs with ERR_RELAY_TIMEOUT", async () => {
    const port = await blackHole();
    const hub = new StreamHub();
    cleanups.push(() => hub.close());
    const pull = new RelayPull(hub, {
      app: "here",
      name: "cam",
      url: `http://127.0.0.1:${port}/live/cam.flv`,
      connectTimeoutMs: 300,
      maxRetries: 0,
    });
    cleanups.push(() => pull.stop());
    const started = performance.now();
    pull.start();
    await vi.waitFor(() => expect(pull.state).toBe("stopped"), 3000);
    expect(performance.now() - started).toBeLessThan(2000);
    const cause = (pull.lastError as RelayError).cause as RelayError;
    expect(cause.code).toBe(RelayErrorCode.timeout);
    expect(cause.message).toContain("no answer for 300 ms");
  });
});
