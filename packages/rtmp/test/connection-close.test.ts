/**
 * RtmpConnection.close() without an error ends the socket gently (pending bytes flushed) but gives
 * the peer a deadline: a peer that keeps sending after the close must not keep the socket open
 * (the server no longer counts it, so it would escape maxConnections and maxConnectionsPerIp).
 * A real loopback socket; fake timers for the deadline (the socket's own timers are not faked).
 */
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RtmpConnection } from "../src/transport/rtmp-connection.js";

describe("RtmpConnection clean close", () => {
  let listener: Server | undefined;
  const sockets: Socket[] = [];

  afterEach(async () => {
    vi.useRealTimers();
    for (const socket of sockets.splice(0)) socket.destroy();
    if (listener !== undefined) await new Promise((resolve) => listener?.close(resolve));
    listener = undefined;
  });

  /** A server-side socket and the client's end of it; the client keeps its half open after a FIN. */
  async function socketPair(): Promise<{ server: Socket; client: Socket }> {
    const started = createServer();
    listener = started;
    await new Promise<void>((resolve) => started.listen(0, "127.0.0.1", resolve));
    const accepted = once(started, "connection") as Promise<[Socket]>;
    const client = connect({
      port: (started.address() as AddressInfo).port,
      host: "127.0.0.1",
      allowHalfOpen: true,
    });
    client.on("error", () => {});
    const [server] = await accepted;
    sockets.push(client, server);
    return { server, client };
  }

  it("destroys the socket 5 s after a clean close even while the peer keeps sending", async () => {
    const { server, client } = await socketPair();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    const connection = new RtmpConnection(server, "server", {});
    connection.close();
    await once(client, "end");
    // A byte a second: each one reaches the server, which ignores it.
    for (let second = 0; second < 4; second++) {
      const read = once(server, "data");
      client.write(Buffer.from([second]));
      await read;
      vi.advanceTimersByTime(1000);
    }
    expect(server.destroyed).toBe(false);
    const read = once(server, "data");
    client.write(Buffer.from([4]));
    await read;
    vi.advanceTimersByTime(1000);
    expect(server.destroyed).toBe(true);
    await once(server, "close");
    // Nothing of the connection is left behind: no timer, no listener on the connection.
    expect(vi.getTimerCount()).toBe(0);
    expect(connection.listenerCount("close")).toBe(0);
  });

  it("a peer that closes at once leaves no deadline timer running", async () => {
    const { server, client } = await socketPair();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    const connection = new RtmpConnection(server, "server", {});
    connection.close();
    await once(client, "end");
    client.end();
    await once(server, "close");
    expect(vi.getTimerCount()).toBe(0);
  });
});
