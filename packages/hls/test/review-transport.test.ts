/** Review findings in the HLS HTTP layer: each test failed before its fix. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { connect } from "node:http2";
import { join } from "node:path";
import { StreamHub } from "@onair/core";
import { afterEach, describe, expect, it } from "vitest";
import { hasCommand, requireTool, tempDir } from "../../../test-support/media-tools.js";
import { createHlsServer, hlsHandler } from "../src/index.js";
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

const hasOpenssl = requireTool("openssl", hasCommand("openssl"));

describe.skipIf(!hasOpenssl)("review: HTTP/2 streams per connection", () => {
  it("limits concurrent streams, so one connection cannot take every held-request slot", async () => {
    const dir = tempDir("onair-hls-review-tls-");
    const keyPath = join(dir.path, "key.pem");
    const certPath = join(dir.path, "cert.pem");
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1"].concat([
        "-keyout",
        keyPath,
        "-out",
        certPath,
      ]),
      { stdio: "ignore" },
    );
    const hub = new StreamHub();
    const server = createHlsServer({
      handler: hub,
      streams: new FakeDirectory(),
      host: "127.0.0.1",
      port: 0,
      tls: { cert: readFileSync(certPath), key: readFileSync(keyPath) },
    });
    const { port } = await server.listen();
    const session = connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    try {
      const settings = await new Promise<{ maxConcurrentStreams?: number }>((resolve, reject) => {
        session.once("remoteSettings", resolve);
        session.once("error", reject);
      });
      expect(settings.maxConcurrentStreams).toBeLessThanOrEqual(128);
    } finally {
      session.destroy();
      await server.close();
      hub.close();
      dir.remove();
    }
  });
});
