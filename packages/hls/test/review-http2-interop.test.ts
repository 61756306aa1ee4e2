/** Review findings in the HLS server over HTTP/2 with TLS (openssl makes the certificate): each test failed before its fix. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect } from "node:http2";
import { join } from "node:path";
import { StreamHub } from "@onair/core";
import { describe, expect, it } from "vitest";
import { hasCommand, requireTool, tempDir } from "../../../test-support/media-tools.js";
import { createHlsServer } from "../src/index.js";
import { FakeDirectory } from "./hls-fake-source.js";

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
