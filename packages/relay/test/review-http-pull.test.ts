/** Review: HTTP-FLV pull against hostile or broken remotes: typed errors, retries, bounds, timeouts. */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { StreamHub } from "@onair/core";
import { encodeFlvHeader } from "@onair/flv";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RelayError, RelayErrorCode, RelayPull } from "../src/index.js";
import { recordEvents } from "./fixtures.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function remote(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(answer);
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
  return `http://127.0.0.1:${port}/live/cam.flv?token=s3cret`;
}

function pull(url: string, options: Partial<ConstructorParameters<typeof RelayPull>[1]> = {}): RelayPull {
  const hub = new StreamHub({ batchWindowMs: 0 });
  const relay = new RelayPull(hub, {
    app: "here",
    name: "cam",
    url,
    reconnect: { initialDelayMs: 20, random: () => 0 },
    maxRetries: 1,
    ...options,
  });
  cleanups.push(() => hub.close());
  cleanups.push(() => relay.stop());
  return relay;
}

async function finished(relay: RelayPull): Promise<string[]> {
  const events = recordEvents(relay);
  relay.start();
  await vi.waitFor(() => expect(relay.state).toBe("stopped"), 5000);
  return events;
}

describe("HTTP-FLV pull against bad remotes (review)", () => {
  it("bytes that are not FLV: a typed error, retried, then given up", async () => {
    const url = await remote((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.write("<html><body>not a stream</body></html>");
    });
    const events = await finished(pull(url));
    expect(events.filter((e) => e.startsWith("disconnected"))).toEqual([
      "disconnected:ERR_FLV_SIGNATURE",
      "disconnected:ERR_FLV_SIGNATURE",
    ]);
    expect(events).toContain("retrying:2:20");
    expect(events.at(-1)).toBe("stopped:ERR_RELAY_GAVE_UP");
  });

  it("a tag announcing more than maxTagSize: refused at its header", async () => {
    const header = Buffer.alloc(11);
    header[0] = 9;
    header.writeUIntBE(2 * 1024 * 1024, 1, 3);
    const url = await remote((_req, res) => {
      res.writeHead(200);
      res.write(Buffer.concat([encodeFlvHeader({ audio: false, video: true }), header, Buffer.alloc(1000)]));
    });
    const events = await finished(pull(url, { maxTagSize: 1024 * 1024 }));
    expect(events[2]).toBe("disconnected:ERR_FLV_TAG_SIZE");
  });

  it("no answer within connectTimeoutMs, or nothing for idleTimeoutMs: ERR_RELAY_TIMEOUT saying which", async () => {
    const silent = await remote(() => {});
    const relay = pull(silent, { connectTimeoutMs: 100, maxRetries: 0 });
    await finished(relay);
    expect((relay.lastError as RelayError).code).toBe(RelayErrorCode.gaveUp);
    const cause = (relay.lastError as RelayError).cause as RelayError;
    expect(cause.code).toBe(RelayErrorCode.timeout);
    expect(cause.message).toContain("no answer for 100 ms");
    expect(cause.message).not.toContain("s3cret");

    const mute = await remote((_req, res) => {
      res.writeHead(200);
      res.write(encodeFlvHeader({ audio: true, video: true }));
    });
    const idle = pull(mute, { idleTimeoutMs: 100, maxRetries: 0 });
    await finished(idle);
    expect(((idle.lastError as RelayError).cause as RelayError).message).toContain(
      "nothing received for 100 ms",
    );
  });

  it("refuses a maxTagSize that cannot work at construction", () => {
    const hub = new StreamHub();
    cleanups.push(() => hub.close());
    for (const maxTagSize of [0, -1, Number.NaN]) {
      let error: unknown;
      try {
        new RelayPull(hub, { app: "a", name: "b", url: "http://h.invalid/a/b.flv", maxTagSize });
      } catch (e) {
        error = e;
      }
      expect(error, String(maxTagSize)).toBeInstanceOf(RelayError);
      expect((error as RelayError).code).toBe(RelayErrorCode.badOption);
    }
  });

  it("a remote that trickles bytes but never completes a tag: dropped after idleTimeoutMs with ERR_RELAY_TIMEOUT", async () => {
    const timers: NodeJS.Timeout[] = [];
    cleanups.push(() => {
      for (const t of timers) clearInterval(t);
    });
    const url = await remote((_req, res) => {
      res.writeHead(200);
      res.write(
        Buffer.concat([encodeFlvHeader({ audio: false, video: true }), Buffer.from([9, 0, 0x10, 0])]),
      );
      // One byte of the announced 4 KiB body every 20 ms: never idle, never a tag.
      timers.push(setInterval(() => res.write(Buffer.from([0])), 20));
    });
    const relay = pull(url, { idleTimeoutMs: 150, maxRetries: 0 });
    const started = performance.now();
    await finished(relay);
    expect(performance.now() - started).toBeLessThan(2000);
    const cause = (relay.lastError as RelayError).cause as RelayError;
    expect(cause.code).toBe(RelayErrorCode.timeout);
    expect(cause.message).toContain("no complete FLV tag for 150 ms");
  });
});
