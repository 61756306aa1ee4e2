/** Review findings in the HLS HTTP layer: each test failed before its fix. */
import type { ServerResponse } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { hlsHandler } from "../src/index.js";
import { FakeDirectory, FakeResponse, FakeSource, fakeRequest } from "./hls-fake-source.js";

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

afterEach(() => {
  process.off("unhandledRejection", onUnhandled);
  unhandled.length = 0;
});

/** Lets promise callbacks (the authorize hook's verdict) and the unhandled-rejection check run. */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 20));

describe("review: a source that throws behind the authorize hook", () => {
  it("costs the request a 500, not an unhandled rejection", async () => {
    process.on("unhandledRejection", onUnhandled);
    const directory = new FakeDirectory();
    const source = directory.add(new FakeSource("live/a"));
    source.completeSegment();
    source.playlist = () => {
      throw new Error("a bug in a source");
    };
    const handler = hlsHandler(directory, { authorize: () => true });
    const res = new FakeResponse();
    handler(fakeRequest("/live/a.m3u8?token=x"), res as unknown as ServerResponse);
    await settle();
    expect(unhandled).toEqual([]);
    expect(res.status).toBe(500);
    handler.close();
  });
});
