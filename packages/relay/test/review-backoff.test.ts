/**
 * Review: the backoff starts again only after a connection that stayed live, so a remote that
 * accepts, sends a little and closes at once cannot defeat the backoff (or maxRetries).
 */
import { createServer, type ServerResponse } from "node:http";
import { StreamHub } from "@onair/core";
import { encodeFlvHeader, encodeFlvTag } from "@onair/flv";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RelayPull } from "../src/index.js";
import { aacHeader, avcHeader, gopPackets, recordEvents } from "./fixtures.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const FLV = Buffer.concat([
  encodeFlvHeader({ audio: true, video: true }),
  ...[avcHeader(), aacHeader(), ...gopPackets(0, 1)].map((p) => encodeFlvTag(p.kind, p.timestamp, p.payload)),
]);

/** Answers each request with FLV; "flap" ends it at once, "hold" keeps it open (ended with the returned `open`). */
async function remote(modes: ("flap" | "hold")[]): Promise<{ url: string; open: ServerResponse[] }> {
  const open: ServerResponse[] = [];
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "video/x-flv" });
    if ((modes.shift() ?? "flap") === "flap") res.end(FLV);
    else {
      res.write(FLV);
      open.push(res);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/live/cam.flv`, open };
}

/** Waits for real I/O without moving the fake clock. */
async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = performance.now();
  while (!predicate()) {
    if (performance.now() - start > timeoutMs) throw new Error("timed out");
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const delays = (events: string[]) =>
  events.filter((e) => e.startsWith("retrying:")).map((e) => Number(e.split(":")[2]));

describe("backoff reset needs a connection that stayed live (review)", () => {
  it("a remote that goes live and closes at once gets growing delays, and maxRetries still applies", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const { url } = await remote([]);
    const hub = new StreamHub({ batchWindowMs: 0 });
    cleanups.push(() => hub.close());
    const pull = new RelayPull(hub, {
      app: "here",
      name: "cam",
      url,
      reconnect: { initialDelayMs: 100, factor: 2, random: () => 0 },
      maxRetries: 3,
    });
    cleanups.push(() => pull.stop());
    const events = recordEvents(pull);
    pull.start();
    for (let retry = 1; retry <= 3; retry++) {
      await until(() => delays(events).length === retry);
      await vi.advanceTimersByTimeAsync(delays(events)[retry - 1]);
    }
    await until(() => pull.state === "stopped");
    expect(events.filter((e) => e === "live")).toHaveLength(4);
    expect(delays(events)).toEqual([100, 200, 400]);
    expect(events.at(-1)).toBe("stopped:ERR_RELAY_GAVE_UP");
  });

  it("after a connection live for at least initialDelayMs, the delays start again from it", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const { url, open } = await remote(["flap", "flap", "hold", "flap"]);
    const hub = new StreamHub({ batchWindowMs: 0 });
    cleanups.push(() => hub.close());
    const pull = new RelayPull(hub, {
      app: "here",
      name: "cam",
      url,
      reconnect: { initialDelayMs: 100, factor: 2, random: () => 0 },
    });
    cleanups.push(() => pull.stop());
    const events = recordEvents(pull);
    pull.start();
    await until(() => delays(events).length === 1);
    await vi.advanceTimersByTimeAsync(100);
    await until(() => delays(events).length === 2);
    await vi.advanceTimersByTimeAsync(200);
    await until(() => open.length === 1 && pull.state === "live");
    await vi.advanceTimersByTimeAsync(100); // live for initialDelayMs: a good connection
    open[0].end();
    await until(() => delays(events).length === 3);
    expect(delays(events)).toEqual([100, 200, 100]);
  });
});
