/** Review: a pull connection that was refused or stopped must not hand the hub another reader. */
import { createServer, type Server } from "node:http";
import { StreamHub } from "@onair/core";
import { encodeFlvHeader, encodeFlvTag } from "@onair/flv";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RelayPull } from "../src/index.js";
import { aacHeader, avcHeader, gopPackets, publish, recordEvents } from "./fixtures.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An HTTP server answering every request with a whole FLV stream (many tags) in one write, then holding it open. */
async function flvServer(): Promise<string> {
  const packets = [avcHeader(), aacHeader(), ...gopPackets(0, 2)];
  const body = Buffer.concat([
    encodeFlvHeader({ audio: true, video: true }),
    ...packets.map((p) => encodeFlvTag(p.kind, p.timestamp, p.payload)),
  ]);
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "video/x-flv" });
    res.write(body);
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
  return `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}/live/cam.flv`;
}

function hub(): StreamHub {
  const h = new StreamHub({ batchWindowMs: 0 });
  cleanups.push(() => h.close());
  return h;
}

describe("RelayPull hands the hub one reader per connection (review)", () => {
  it("a refused reader (key busy) is not offered again for each later tag of the same chunk", async () => {
    const url = await flvServer();
    const local = hub();
    const squatter = publish(local, "here", "cam");
    cleanups.push(() => squatter.end());
    const pull = new RelayPull(local, { app: "here", name: "cam", url, maxRetries: 0 });
    const events = recordEvents(pull);
    pull.start();
    await vi.waitFor(() => expect(pull.state).toBe("stopped"), 5000);
    expect(events).toEqual([
      "connecting:1",
      "connected",
      "disconnected:ERR_STREAM_BUSY",
      "stopped:ERR_RELAY_GAVE_UP",
    ]);
    // One connection, one refusal: not one per tag the remote sent.
    expect(local.counters().refused).toEqual({ ERR_STREAM_BUSY: 1 });
  });

  it("stop() from a 'live' listener leaves no reader live in the hub", async () => {
    const url = await flvServer();
    const local = hub();
    const pull = new RelayPull(local, { app: "here", name: "cam", url });
    pull.on("live", () => pull.stop());
    pull.start();
    await vi.waitFor(() => expect(pull.state).toBe("stopped"), 5000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pull.reader).toBeUndefined();
    expect(local.isLive("here/cam")).toBe(false);
    expect(local.counters().packetsIn).toBe(0);
  });
});
