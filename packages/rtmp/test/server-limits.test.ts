/** The RTMP server's connection limits: each refusal closes the connection and is counted. */
import { connect, type Socket } from "node:net";
import { StreamHub } from "@onair/core";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../../../test-support/media-tools.js";
import {
  createRtmpServer,
  HandshakeClient,
  RtmpClient,
  type RtmpRefusalReason,
  type RtmpServer,
  type RtmpServerOptions,
} from "../src/index.js";

describe("RTMP server limits", () => {
  let server: RtmpServer | undefined;
  let hub: StreamHub | undefined;
  const sockets: Socket[] = [];
  const clients: RtmpClient[] = [];

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    for (const client of clients.splice(0)) client.close();
    await server?.close();
    hub?.close();
    server = undefined;
  });

  async function start(options: Partial<RtmpServerOptions>) {
    hub = new StreamHub();
    const started = createRtmpServer({ handler: hub, host: "127.0.0.1", port: 0, ...options });
    server = started;
    const refusals: RtmpRefusalReason[] = [];
    started.on("refused", (_remote, reason) => refusals.push(reason));
    const { port } = await started.listen();
    return { server: started, port, refusals };
  }

  /** A raw TCP connection; resolves once the server has counted it one way or the other. */
  function open(port: number): { socket: Socket; closed: Promise<void> } {
    const socket = connect(port, "127.0.0.1");
    socket.on("error", () => {});
    sockets.push(socket);
    return { socket, closed: new Promise((resolve) => socket.once("close", () => resolve())) };
  }

  it("closes connections past maxConnections at accept and counts them", async () => {
    const { server, port, refusals } = await start({ maxConnections: 2 });
    open(port);
    open(port);
    await waitFor(() => server.stats().accepted === 2, 5000, "two accepted");
    const third = open(port);
    await third.closed;
    expect(server.stats()).toEqual({
      connections: 2,
      partialMessageBytes: 0,
      accepted: 2,
      refused: {
        maxConnections: 1,
        maxConnectionsPerIp: 0,
        handshakeTimeout: 0,
        idleTimeout: 0,
        messageTimeout: 0,
        protocolError: 0,
        badName: 0,
        unauthorized: 0,
      },
    });
    expect(refusals).toEqual(["maxConnections"]);
    // A slot freed is a slot taken again.
    sockets[0].destroy();
    await waitFor(() => server.connectionCount === 1, 5000, "one left");
    open(port);
    await waitFor(() => server.stats().accepted === 3, 5000, "third accepted");
  });

  it("closes connections past maxConnectionsPerIp from one address and counts them", async () => {
    const { server, port, refusals } = await start({ maxConnectionsPerIp: 2, perIpExemptAddresses: [] });
    open(port);
    open(port);
    await waitFor(() => server.stats().accepted === 2, 5000, "two accepted");
    await open(port).closed;
    expect(server.stats().refused.maxConnectionsPerIp).toBe(1);
    expect(refusals).toEqual(["maxConnectionsPerIp"]);
    sockets[0].destroy();
    await waitFor(() => server.connectionCount === 1, 5000, "one left");
    open(port);
    await waitFor(() => server.stats().accepted === 3, 5000, "the address may connect again");
  });

  it("allows 256 connections per address by default (the same default as HTTP-FLV)", async () => {
    const { server, port, refusals } = await start({ perIpExemptAddresses: [] });
    for (let i = 0; i < 256; i++) open(port);
    await waitFor(() => server.stats().accepted === 256, 5000, "256 accepted");
    await open(port).closed;
    expect(server.stats().refused.maxConnectionsPerIp).toBe(1);
    expect(refusals).toEqual(["maxConnectionsPerIp"]);
  });

  it("does not limit loopback per address by default", async () => {
    const { server, port } = await start({ maxConnectionsPerIp: 1 });
    open(port);
    open(port);
    open(port);
    await waitFor(() => server.stats().accepted === 3, 5000, "three accepted");
    expect(server.stats().refused.maxConnectionsPerIp).toBe(0);
  });

  it("close() frees every socket at once, a peer that keeps its half open included", async () => {
    const { server, port } = await start({});
    const socket = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    socket.on("error", () => {});
    sockets.push(socket);
    await waitFor(() => server.stats().connections === 1, 5000, "accepted");
    const serverClosed = server.close().then(() => "closed");
    // Without the destroy, the server's socket would wait out the 5 s deadline of a clean close.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve("still open after 2 s"), 2000);
    });
    expect(await Promise.race([serverClosed, late])).toBe("closed");
    clearTimeout(timer);
  });

  it("counts a handshake that never finishes", async () => {
    const { server, port, refusals } = await start({ handshakeTimeoutMs: 50 });
    const silent = open(port);
    silent.socket.write(Buffer.from([3])); // C0 only, then nothing
    await silent.closed;
    await waitFor(() => server.stats().refused.handshakeTimeout === 1, 5000, "counted");
    expect(refusals).toEqual(["handshakeTimeout"]);
    expect(server.stats().connections).toBe(0);
  });

  it("counts a connection silent past idleTimeoutMs after the handshake", async () => {
    const { server, port, refusals } = await start({ idleTimeoutMs: 1000 });
    const client = await RtmpClient.connect(`rtmp://127.0.0.1:${port}/live`, { idleTimeoutMs: 600_000 });
    clients.push(client);
    await waitFor(() => client.closed, 10_000, "the server to close the silent client");
    await waitFor(() => server.stats().refused.idleTimeout === 1, 5000, "counted");
    expect(refusals).toEqual(["idleTimeout"]);
  });

  it("reports the bytes held for partial messages, and returns them when the connection goes", async () => {
    const { server, port } = await start({});
    const { socket } = open(port);
    const handshake = new HandshakeClient();
    await new Promise<void>((resolve) => {
      socket.once("connect", () => socket.write(handshake.start()));
      socket.on("data", (chunk: Buffer) => {
        const step = handshake.push(chunk);
        if (step.output !== undefined) socket.write(step.output);
        if (step.done) resolve();
      });
    });
    // A type-0 header announcing a 1000-byte command on chunk stream 3, then 100 bytes of it.
    const header = Buffer.from([0x03, 0, 0, 0, 0x00, 0x03, 0xe8, 0x14, 0, 0, 0, 0]);
    socket.write(Buffer.concat([header, Buffer.alloc(100, 0x05)]));
    await waitFor(() => server.stats().partialMessageBytes >= 100, 5000, "the partial message counted");
    expect(server.stats().partialMessageBytes).toBeLessThanOrEqual(1000);
    socket.destroy();
    await waitFor(() => server.stats().connections === 0, 5000, "closed");
    expect(server.stats().partialMessageBytes).toBe(0);
  });

  it("counts refusals for a bad name and by authorize, each told to the client", async () => {
    const { server, port, refusals } = await start({
      authorize: ({ action }) => action === "play" || { allow: false, reason: "no publishing here" },
    });
    const badApp = await RtmpClient.connect(`rtmp://127.0.0.1:${port}/a/b`).catch((e: unknown) => e);
    expect(badApp).toMatchObject({ status: "NetConnection.Connect.Rejected" });
    const client = await RtmpClient.connect(`rtmp://127.0.0.1:${port}/live`);
    clients.push(client);
    await expect(client.play("..")).rejects.toMatchObject({ status: "NetStream.Play.Failed" });
    const other = await RtmpClient.connect(`rtmp://127.0.0.1:${port}/live`);
    clients.push(other);
    await expect(other.publish("cam")).rejects.toMatchObject({
      status: "NetStream.Publish.Unauthorized",
      message: expect.stringContaining("no publishing here"),
    });
    expect(server.stats().refused).toMatchObject({ badName: 2, unauthorized: 1 });
    expect(refusals).toEqual(["badName", "badName", "unauthorized"]);
  });

  it("counts a connection closed for a protocol error", async () => {
    const { server, port, refusals } = await start({});
    const client = await RtmpClient.connect(`rtmp://127.0.0.1:${port}/live`);
    clients.push(client);
    // A second connect on a connected session breaks the protocol (ERR_RTMP_STATE).
    await client.call("connect", { app: "live" }).catch(() => {});
    await waitFor(() => server.stats().refused.protocolError === 1, 5000, "counted");
    expect(refusals).toEqual(["protocolError"]);
    expect(client.closed).toBe(true);
  });
});
