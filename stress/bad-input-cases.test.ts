/**
 * Bad peers one at a time, against an in-process OnairServer on loopback (real sockets, real time,
 * short waits): a publisher killed in the middle of a message, a player reset while the server
 * writes to it, a player that reads one byte a second, and a hub listener that throws.
 *
 * Publishers and RTMP players are ./raw-rtmp.ts sessions, written from the spec rather than with
 * onair's own client, so they can stop anywhere; HTTP-FLV players are plain sockets.
 */
import { request } from "node:http";
import type { Socket } from "node:net";
import { OnairServer, type OnairServerOptions } from "@onair/server";
import { afterEach, describe, expect, it, vi } from "vitest";
import { waitFor } from "../test-support/media-tools.js";
import { recordFigures } from "./figures.js";
import {
  chunkHeader,
  connectTcp,
  encodeChunks,
  MessageTypeId,
  RAW_CHUNK_SIZE,
  RawRtmpSession,
  ReceivedBytes,
  startMediaPump,
} from "./raw-rtmp.js";

const HOST = "127.0.0.1";
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Running {
  server: OnairServer;
  rtmpPort: number;
  flvPort: number;
}

/** Everything a test opened, closed after it whatever happened. */
const cleanups: (() => void | Promise<void>)[] = [];
/** Errors that escaped to the process while a test ran. */
const escaped: unknown[] = [];
const onEscape = (error: unknown): void => {
  escaped.push(error);
};

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  process.off("uncaughtException", onEscape);
  process.off("unhandledRejection", onEscape);
  escaped.length = 0;
});

async function startOnair(options: OnairServerOptions = {}): Promise<Running> {
  process.on("uncaughtException", onEscape);
  process.on("unhandledRejection", onEscape);
  const server = new OnairServer({
    host: HOST,
    rtmpPort: 0,
    flvPort: 0,
    // Open publishing, and no HLS or API listener: these cases are about RTMP and HTTP-FLV.
    rtmpNoAuth: true,
    hls: false,
    api: false,
    ...options,
    // No republish grace: these tests want the end of a stream to reach its players at once.
    hub: { batchWindowMs: 0, republishGraceMs: 0, ...options.hub },
  });
  cleanups.push(() => server.close());
  const { rtmp, flv } = await server.listen();
  return { server, rtmpPort: rtmp.port, flvPort: flv.port };
}

async function rawSession(running: Running): Promise<RawRtmpSession> {
  const session = await RawRtmpSession.open(HOST, running.rtmpPort, "live");
  cleanups.push(() => {
    session.socket.destroy();
  });
  return session;
}

async function publishing(running: Running, name: string, frameBytes = 2_000, fps = 25, gop = 25) {
  const session = await rawSession(running);
  await session.publish(name);
  const pump = startMediaPump(session, { frameBytes, fps, gop });
  cleanups.push(() => pump.stop());
  return { session, pump };
}

/** An HTTP-FLV player that reads everything and counts it. */
function httpFlvPlayer(running: Running, name: string): { bytes(): number; ended: Promise<string> } {
  let bytes = 0;
  const ended = new Promise<string>((resolve) => {
    const req = request({ host: HOST, port: running.flvPort, path: `/live/${name}.flv` }, (res) => {
      res.on("data", (data: Buffer) => {
        bytes += data.length;
      });
      res.once("end", () => resolve("end"));
      res.once("error", () => resolve("error"));
      res.once("close", () => resolve("close"));
    });
    req.once("error", () => resolve("request error"));
    req.end();
    cleanups.push(() => {
      req.destroy();
    });
  });
  return { bytes: () => bytes, ended };
}

/** A raw HTTP-FLV request on a socket the test controls (to pause it, reset it, read it slowly). */
async function rawFlvSocket(running: Running, name: string): Promise<Socket> {
  const socket = await connectTcp(HOST, running.flvPort);
  cleanups.push(() => {
    socket.destroy();
  });
  socket.write(`GET /live/${name}.flv HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
  return socket;
}

/** Bytes every RTMP connection holds for messages not yet complete (the per-server budget's use). */
function partialMessageBytes(server: OnairServer): number {
  return server.rtmp.stats().partialMessageBytes;
}

function playerCount(server: OnairServer, key: string): number {
  return (
    server.hub
      .streams()
      .find((stream) => stream.key === key)
      ?.stats().players.length ?? 0
  );
}

describe("bad peers, one at a time", () => {
  it("a publisher killed mid-message ends its stream cleanly and gives back what it held", async () => {
    const running = await startOnair();
    const { session: publisher, pump } = await publishing(running, "cut");
    const flvPlayer = httpFlvPlayer(running, "cut");
    const rtmpPlayer = await rawSession(running);
    await rtmpPlayer.play("cut");
    await waitFor(() => flvPlayer.bytes() > 10_000, 5_000, "the HTTP-FLV player to receive media");

    // Half of a 1 MiB video message, then the socket is gone.
    pump.stop();
    const message = encodeChunks(
      6,
      MessageTypeId.video,
      publisher.streamId,
      pump.timestamp(),
      Buffer.alloc(1024 * 1024, 0x27),
      RAW_CHUNK_SIZE,
    );
    publisher.socket.write(message.subarray(0, message.length / 2));
    await waitFor(
      () => partialMessageBytes(running.server) >= 256 * 1024,
      5_000,
      "the server to hold the half message",
    );
    const heldMidMessage = partialMessageBytes(running.server);
    publisher.socket.destroy();

    expect(await Promise.race([flvPlayer.ended, sleep(5_000).then(() => "still open")])).not.toBe(
      "still open",
    );
    await rtmpPlayer.received.until(
      () => /NetStream\.Play\.(UnpublishNotify|Stop)/.test(rtmpPlayer.received.bytes().toString("latin1")),
      5_000,
      "the RTMP player to be told the stream ended",
    );
    await waitFor(() => !running.server.hub.isLive("live/cut"), 5_000, "the stream to end");
    // Only the RTMP player's connection is left, and the half message is released with its connection.
    await waitFor(
      () => running.server.rtmp.connectionCount === 1,
      5_000,
      "the publisher's connection to close",
    );
    const heldAfter = partialMessageBytes(running.server);
    recordFigures("bad-input-publisher-killed", { heldMidMessage, heldAfter });
    expect(heldAfter).toBe(0);

    // The key is free again: a new publisher takes it and a new player gets media.
    await publishing(running, "cut");
    const again = httpFlvPlayer(running, "cut");
    await waitFor(() => again.bytes() > 10_000, 5_000, "a new player on the republished key");
    expect(escaped).toEqual([]);
  });

  it("a player reset while the server writes to it leaves the stream and its other players alone", async () => {
    const running = await startOnair();
    // 20 KB frames at 25 fps: the server is writing to every player all the time.
    await publishing(running, "reset", 20_000);
    const bystander = httpFlvPlayer(running, "reset");
    const flvVictim = await rawFlvSocket(running, "reset");
    const flvVictimBytes = new ReceivedBytes(flvVictim, 1024);
    const rtmpVictim = await rawSession(running);
    await rtmpVictim.play("reset");
    await waitFor(
      () => flvVictimBytes.total > 100_000 && rtmpVictim.received.total > 100_000,
      5_000,
      "the victims to receive media",
    );
    expect(playerCount(running.server, "live/reset")).toBe(3);

    flvVictim.resetAndDestroy();
    rtmpVictim.socket.resetAndDestroy();
    await waitFor(
      () => playerCount(running.server, "live/reset") === 1,
      5_000,
      "the reset players to be removed",
    );
    const before = bystander.bytes();
    await sleep(1_000);
    expect(bystander.bytes() - before, "the bystander keeps receiving").toBeGreaterThan(100_000);
    expect(running.server.hub.isLive("live/reset")).toBe(true);
    expect(escaped).toEqual([]);
  });

  /**
   * The 1-byte-a-second reader, as a player from the start of the stream and as one joining late
   * in a long GOP (1.5 s at 5 MB/s): the cached GOP it is sent on joining counts against its bound too.
   */
  it.each([
    { joins: "at the start of the stream", gop: 25, joinAfterMs: 0 },
    // A 7.5 MB GOP (under the hub's 8 MiB GOP cache cap), joined when ~6.5 MB of it is cached.
    { joins: "a 7.5 MB GOP late", gop: 75, joinAfterMs: 1_300 },
  ])(
    "a player reading one byte a second, joining $joins, is closed by the slow-player policy within its byte bound",
    async ({ gop, joinAfterMs }) => {
      const slowPlayer = { skipBytes: 256 * 1024, closeBytes: 1024 * 1024, closeAfterMs: 2_000 };
      const running = await startOnair({ hub: { slowPlayer } });
      const frameBytes = 100_000;
      // 5 MB/s, so the kernel's socket buffers (several MB on loopback) fill within seconds.
      await publishing(running, "slow", frameBytes, 50, gop);
      await sleep(joinAfterMs);
      const writers: { info: { id: string }; bufferedBytes: number }[] = [];
      const handleWriter = running.server.hub.handleWriter.bind(running.server.hub);
      vi.spyOn(running.server.hub, "handleWriter").mockImplementation((writer) => {
        writers.push(writer);
        handleWriter(writer);
      });
      const stopped: string[] = [];
      running.server.hub.on("stop", (info) => stopped.push(info.id));
      const bystander = httpFlvPlayer(running, "slow");

      const slowReader = await rawFlvSocket(running, "slow");
      slowReader.pause();
      let bytesRead = 0;
      const reading = setInterval(() => {
        if (slowReader.read(1) !== null) bytesRead++;
      }, 1_000);
      cleanups.push(() => clearInterval(reading));
      await waitFor(() => writers.length === 2, 5_000, "both players to reach the hub");
      const slowWriter = writers[1];
      let maxBuffered = 0;
      const sampling = setInterval(() => {
        maxBuffered = Math.max(maxBuffered, slowWriter.bufferedBytes);
      }, 10);
      cleanups.push(() => clearInterval(sampling));

      const started = Date.now();
      // closeAfterMs of skipping, plus the time for the kernel's buffers to fill first.
      const closed = await waitFor(
        () => stopped.includes(slowWriter.info.id),
        15_000,
        "the slow player to be closed",
      )
        .then(() => true)
        .catch(() => false);
      recordFigures(`bad-input-one-byte-a-second-gop-${gop}`, {
        closed,
        closedAfterMs: closed ? Date.now() - started : undefined,
        maxBufferedBytes: maxBuffered,
        bound: slowPlayer.closeBytes + frameBytes,
        bytesRead,
        bystanderBytes: bystander.bytes(),
      });
      expect(closed, "closed by the slow-player policy").toBe(true);
      // Its queue never held more than the close limit plus the one frame that crossed it.
      expect(maxBuffered).toBeLessThanOrEqual(slowPlayer.closeBytes + frameBytes + 1024);
      expect(maxBuffered).toBeGreaterThan(0);
      const before = bystander.bytes();
      await sleep(500);
      expect(bystander.bytes(), "the reading player goes on").toBeGreaterThan(before);
      expect(escaped).toEqual([]);
    },
    40_000,
  );

  it("a throwing hub listener neither stops the stream nor escapes to the process", async () => {
    const running = await startOnair();
    let thrown = 0;
    const throwing = (): never => {
      thrown++;
      throw new Error("a hub listener that throws");
    };
    const events = ["publish", "play", "stop", "unpublish"] as const;
    for (const event of events) running.server.hub.on(event, throwing);
    // Off before the server closes, so nothing thrown here can reach the next test.
    cleanups.push(() => {
      for (const event of events) running.server.hub.off(event, throwing);
    });
    const { session: publisher } = await publishing(running, "throws");
    const player = httpFlvPlayer(running, "throws");
    await waitFor(() => player.bytes() > 10_000, 5_000, "the player to receive media despite the listeners");
    const rtmpPlayer = await rawSession(running);
    await rtmpPlayer.play("throws");
    await rtmpPlayer.received.until(
      () => rtmpPlayer.received.total > 10_000,
      5_000,
      "the RTMP player's media",
    );
    publisher.socket.destroy();
    await waitFor(() => !running.server.hub.isLive("live/throws"), 5_000, "the stream to end");
    await sleep(100); // let any rejection from an async emit path surface
    expect(thrown).toBeGreaterThanOrEqual(3);
    expect(escaped).toEqual([]);
  });

  it("half a chunk header and an announced message left hanging at close cost nothing afterwards", async () => {
    const running = await startOnair();
    const sockets: Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const session = await rawSession(running);
      // A 16 MiB message announced, 1 KB of it sent, then the peer vanishes.
      session.socket.write(
        Buffer.concat([chunkHeader(5, MessageTypeId.video, 1, 0, 0xffffff), Buffer.alloc(1024)]),
      );
      sockets.push(session.socket);
    }
    await waitFor(() => partialMessageBytes(running.server) >= 20 * 1024, 5_000, "the server to hold 20 KB");
    for (const socket of sockets) socket.resetAndDestroy();
    await waitFor(() => running.server.rtmp.connectionCount === 0, 5_000, "every connection to close");
    expect(partialMessageBytes(running.server)).toBe(0);
    expect(escaped).toEqual([]);
  });
});
