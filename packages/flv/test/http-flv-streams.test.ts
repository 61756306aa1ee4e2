/**
 * `GET /streams` is served to anyone (CORS `*` by default): client addresses stay out of it unless
 * `exposeAddresses` says otherwise.
 */
import { StreamHub, StreamSource } from "@onair/core";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../../../test-support/media-tools.js";
import { createHttpFlvServer, type HttpFlvServer, type ListedStream, listStreams } from "../src/index.js";
import { httpGet, json, webSocketOutcome } from "./http-flv-clients.js";

let hub: StreamHub;
let server: HttpFlvServer | undefined;

async function start(exposeAddresses?: boolean): Promise<number> {
  hub = new StreamHub({ batchWindowMs: 0 });
  hub.handleReader(
    new StreamSource({
      key: "live/a",
      app: "live",
      name: "a",
      url: "rtmp://localhost/live/a",
      id: "publisher-1",
      remoteAddress: "203.0.113.7:51000",
    }),
  );
  server = createHttpFlvServer({ handler: hub, host: "127.0.0.1", port: 0, exposeAddresses });
  const { port } = await server.listen();
  // A player, so the list has one.
  void webSocketOutcome(`ws://127.0.0.1:${port}/live/a.flv`);
  await waitFor(() => hub.get("live/a")?.writerCount === 1, 5000, "the player");
  return port;
}

afterEach(async () => {
  hub.close();
  await server?.close();
  server = undefined;
});

describe("GET /streams", () => {
  it("leaves every address out by default", async () => {
    const port = await start();
    const answer = await httpGet(port, "/streams");
    expect(answer.headers["access-control-allow-origin"]).toBe("*");
    const { streams } = json(answer) as { streams: ListedStream[] };
    expect(streams).toHaveLength(1);
    expect(streams[0].publisher).toEqual({ id: "publisher-1", url: "rtmp://localhost/live/a" });
    expect(streams[0].players).toHaveLength(1);
    expect(streams[0].players[0]).not.toHaveProperty("remoteAddress");
    expect(answer.body.toString()).not.toContain("203.0.113.7");
    expect(answer.body.toString()).not.toContain("remoteAddress");
  });

  it("lists addresses with exposeAddresses: true", async () => {
    const port = await start(true);
    const { streams } = json(await httpGet(port, "/streams")) as { streams: ListedStream[] };
    expect(streams[0].publisher?.remoteAddress).toBe("203.0.113.7:51000");
    expect(streams[0].players[0].remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it("listStreams leaves addresses out unless asked", async () => {
    await start();
    expect(listStreams(hub)[0].publisher).not.toHaveProperty("remoteAddress");
    expect(listStreams(hub, { exposeAddresses: true })[0].publisher?.remoteAddress).toBe("203.0.113.7:51000");
  });
});
