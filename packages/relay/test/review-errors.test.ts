/** Review: every error a relay reports carries a stable code, even when the layer below gave a bare Error. */
import { createServer, type Socket } from "node:net";
import { StreamHub } from "@onair/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RelayError, RelayErrorCode, RelayPull, RelayPush } from "../src/index.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("error codes (review)", () => {
  it("a remote that accepts TCP and closes at once: ERR_RELAY_REMOTE_ENDED naming the remote, the cause kept", async () => {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.resume(); // read the client's FIN, so this side closes too
      socket.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const hub = new StreamHub();
    cleanups.push(() => hub.close());
    for (const relay of [
      new RelayPull(hub, {
        app: "a",
        name: "b",
        url: `rtmp://127.0.0.1:${port}/live/b?token=s3cret`,
        maxRetries: 0,
      }),
      new RelayPush(hub, {
        app: "a",
        name: "b",
        url: `rtmp://127.0.0.1:${port}/live/b?token=s3cret`,
        maxRetries: 0,
      }),
    ]) {
      const seen: (Error | undefined)[] = [];
      relay.on("disconnected", (error) => seen.push(error));
      relay.start();
      await vi.waitFor(() => expect(relay.state).toBe("stopped"), 5000);
      expect(seen).toHaveLength(1);
      const error = seen[0] as RelayError;
      expect(typeof (error as { code?: unknown }).code).toBe("string");
      if (!(error instanceof RelayError)) continue; // a Node system error (ECONNRESET) has its own code
      expect(error.code).toBe(RelayErrorCode.remoteEnded);
      expect(error.message).toContain(`rtmp://127.0.0.1:${port}/live/b`);
      expect(error.message).not.toContain("s3cret");
      expect(error.cause).toBeInstanceOf(Error);
    }
  });
});
