import { createServer as createTcpServer } from "node:net";
import { afterEach, expect, it } from "vitest";
import { OnairServer } from "../src/onair-server.js";

let server: OnairServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createTcpServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

it("a push to a host that refuses is logged as retrying with its cause, without the remote's stream key", async () => {
  server = new OnairServer({
    host: "127.0.0.1",
    rtmpPort: 0,
    flvPort: 0,
    rtmpNoAuth: true,
    hls: false,
    api: false,
  });
  await server.listen();
  const lines: string[] = [];
  server.on("log", (line) => lines.push(line));
  const port = await closedPort();
  const relay = server.relays.startPush({
    app: "live",
    name: "cam",
    url: `rtmp://127.0.0.1:${port}/live/SECRET-STREAM-KEY?token=abc`,
  });
  await new Promise<void>((resolve) => relay.once("retrying", () => resolve()));
  relay.stop();
  expect(lines[0]).toMatch(
    new RegExp(
      `^relay push live/cam to rtmp://127\\.0\\.0\\.1:${port}/live/… retrying in \\d+ ms \\(attempt 2\\): ECONNREFUSED$`,
    ),
  );
  expect(lines.at(-1)).toBe(`relay push live/cam to rtmp://127.0.0.1:${port}/live/… stopped`);
  expect(lines.join("\n")).not.toMatch(/SECRET|token/);
});
