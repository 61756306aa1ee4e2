/** The control API in-process: a real StreamHub, the memory key store, the relay registry. */
import {
  createMediaPacket,
  type MediaPacket,
  StreamHub,
  type StreamInfo,
  StreamSource,
  type StreamWriter,
} from "@onair/core";
import { RelayRegistry } from "@onair/relay";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MemoryKeyStore } from "../src/keys/memory-key-store.js";
import { type ApiUnderTest, call, serveApi } from "./api-server.js";

/** A player that keeps what it is given, and can be told to end. */
class RecordingWriter implements StreamWriter {
  packets: MediaPacket[] = [];
  closed: Error | undefined | "open" = "open";
  bufferedBytes = 0;
  #listeners: ((error?: Error) => void)[] = [];
  constructor(readonly info: StreamInfo) {}
  start(): void {}
  write(packet: MediaPacket): void {
    this.packets.push(packet);
  }
  flush(): void {}
  close(error?: Error): void {
    if (this.closed !== "open") return;
    this.closed = error;
    for (const listener of this.#listeners) listener(error);
  }
  onClose(listener: (error?: Error) => void): void {
    this.#listeners.push(listener);
  }
}

function info(key: string, id: string, url = `rtmp://127.0.0.1/${key}`): StreamInfo {
  const [app, name] = key.split("/");
  return { key, app, name, url, id };
}

describe("control API", () => {
  let hub: StreamHub;
  let keys: MemoryKeyStore;
  let relays: RelayRegistry;
  let api: ApiUnderTest;

  beforeEach(async () => {
    hub = new StreamHub({ batchWindowMs: 0 });
    keys = new MemoryKeyStore();
    relays = new RelayRegistry(hub, { reconnect: { initialDelayMs: 50, maxDelayMs: 100 } });
    api = await serveApi({ hub, keys, relays });
  });
  afterEach(async () => {
    relays.close();
    hub.close();
    await keys.close();
    await api.close();
    expect(api.errors).toEqual([]);
  });

  it("/control/get makes the room's key on the first ask and gives the same one after", async () => {
    const first = await call(`${api.base}/control/get?room=movie`);
    expect(first.httpStatus).toBe(200);
    expect(first.contentType).toMatch(/^application\/json/);
    expect(first.body.status).toBe(200);
    expect(first.body.data).toMatch(/^[A-Za-z0-9]{48}$/);
    const again = await call(`${api.base}/control/get?room=movie`);
    expect(again.body).toEqual(first.body);
    expect(await keys.roomOf(first.body.data as string)).toBe("movie");
  });

  it("/control/reset gives a new key and the old one is no key any more", async () => {
    const old = (await call(`${api.base}/control/get?room=movie`)).body.data as string;
    const reset = await call(`${api.base}/control/reset?room=movie`);
    expect(reset.body.status).toBe(200);
    expect(reset.body.data).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(reset.body.data).not.toBe(old);
    expect(await keys.roomOf(old)).toBeUndefined();
    expect((await call(`${api.base}/control/get?room=movie`)).body.data).toBe(reset.body.data);
  });

  it("/control/delete says Ok for a room with a key, then 404 room not found", async () => {
    await call(`${api.base}/control/get?room=movie`);
    expect((await call(`${api.base}/control/delete?room=movie`)).body).toEqual({ status: 200, data: "Ok" });
    const again = await call(`${api.base}/control/delete?room=movie`);
    expect(again.httpStatus).toBe(404);
    expect(again.body).toEqual({ status: 404, data: "room not found" });
  });

  it("/control/delete ends the live channel: its publisher and its players, at once", async () => {
    await call(`${api.base}/control/get?room=movie`);
    const closedWith: (Error | undefined)[] = [];
    const source = new StreamSource(info("live/movie", "pub1"), (error) => closedWith.push(error));
    hub.handleReader(source);
    const player = new RecordingWriter(info("live/movie", "play1"));
    hub.handleWriter(player);
    const elsewhere = new StreamSource(info("live/other", "pub2"));
    hub.handleReader(elsewhere);
    expect((await call(`${api.base}/control/delete?room=movie`)).body.data).toBe("Ok");
    expect(closedWith).toHaveLength(1);
    expect(closedWith[0]).toMatchObject({ code: "ERR_API_CHANNEL_DELETED" });
    expect(player.closed).toBeUndefined();
    expect(hub.get("live/movie")).toBeUndefined();
    expect(hub.isLive("live/other")).toBe(true);
  });

  it("answers 400 with livego's usage line for a missing room, and 400 for a room that cannot be a stream name", async () => {
    for (const path of ["/control/get", "/control/reset", "/control/delete"]) {
      const missing = await call(`${api.base}${path}`);
      expect(missing.httpStatus).toBe(400);
      expect(missing.body).toEqual({ status: 400, data: `url: ${path}?room=<ROOM_NAME>` });
      const empty = await call(`${api.base}${path}?room=`);
      expect(empty.httpStatus).toBe(400);
      for (const room of ["a%2Fb", "..", "a%00b", "x".repeat(300)]) {
        const bad = await call(`${api.base}${path}?room=${room}`);
        expect(bad.httpStatus).toBe(400);
        expect(bad.body.status).toBe(400);
        expect(typeof bad.body.data).toBe("string");
        expect(bad.text).not.toMatch(/\bat \S+ \(/); // no stack trace
      }
    }
    expect(keys.size).toBe(0);
  });

  it("reads a POSTed form like livego's ParseForm, and refuses an oversized one", async () => {
    const posted = await call(`${api.base}/control/get`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "room=posted",
    });
    expect(posted.body.status).toBe(200);
    expect(await keys.roomOf(posted.body.data as string)).toBe("posted");
    const big = await call(`${api.base}/control/get`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `room=x&pad=${"y".repeat(20_000)}`,
    });
    expect(big.httpStatus).toBe(413);
  });

  it("answers unknown paths with 404 JSON, other methods with 405, HEAD without a body", async () => {
    const unknown = await call(`${api.base}/control/nothing?room=a`);
    expect(unknown.httpStatus).toBe(404);
    expect(unknown.body.status).toBe(404);
    const root = await call(`${api.base}/`);
    expect(root.httpStatus).toBe(404);
    const put = await fetch(`${api.base}/control/get?room=a`, { method: "PUT" });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, HEAD, POST");
    expect(await put.json()).toMatchObject({ status: 405 });
    const head = await fetch(`${api.base}/control/get?room=headroom`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    // A path that looks like a URL with a host is still just a path.
    const protocolRelative = await call(`${api.base}//evil.example/control/get?room=a`);
    expect(protocolRelative.httpStatus).toBe(404);
  });

  it("/stat/livestat lists every publisher and player with their video and audio bytes", async () => {
    const source = new StreamSource(info("live/movie", "pub1"));
    hub.handleReader(source);
    const early = new RecordingWriter(info("live/movie", "play1", "http://127.0.0.1:7001/live/movie.flv"));
    hub.handleWriter(early);
    const video = (n: number, key = false) =>
      createMediaPacket("video", n * 40, Buffer.alloc(1000 + n), { keyframe: key });
    const audio = (n: number) => createMediaPacket("audio", n * 23, Buffer.alloc(200));
    source.push(createMediaPacket("video", 0, Buffer.alloc(30), { sequenceHeader: true }));
    source.push(createMediaPacket("audio", 0, Buffer.alloc(4), { sequenceHeader: true }));
    source.push(video(0, true));
    for (let i = 1; i <= 9; i++) {
      source.push(video(i));
      source.push(audio(i));
    }
    const late = new RecordingWriter(info("live/movie", "play2"));
    hub.handleWriter(late);
    source.push(video(10));
    hub.handleReader(new StreamSource(info("live/other", "pub2")));

    const stat = await call(`${api.base}/stat/livestat`);
    expect(stat.body.status).toBe(200);
    const data = stat.body.data as {
      publishers: Record<string, unknown>[];
      players: Record<string, unknown>[];
    };
    const videoSent = 30 + [...Array(11).keys()].reduce((sum, n) => sum + 1000 + n, 0);
    const audioSent = 4 + 9 * 200;
    const publisher = data.publishers.find((p) => p.stream_id === "pub1");
    expect(publisher).toMatchObject({
      key: "live/movie",
      url: "rtmp://127.0.0.1/live/movie",
      video_total_bytes: videoSent,
      audio_total_bytes: audioSent,
    });
    expect(typeof publisher?.video_speed).toBe("number");
    expect(typeof publisher?.audio_speed).toBe("number");
    expect(data.publishers.map((p) => p.stream_id).sort()).toEqual(["pub1", "pub2"]);
    const first = data.players.find((p) => p.stream_id === "play1");
    expect(first).toMatchObject({
      key: "live/movie",
      url: "http://127.0.0.1:7001/live/movie.flv",
      video_total_bytes: videoSent,
      audio_total_bytes: audioSent,
    });
    // What each player was really given, counted by the player itself.
    const given = (w: RecordingWriter, kind: string) =>
      w.packets.filter((p) => p.kind === kind).reduce((sum, p) => sum + p.payload.length, 0);
    expect(first?.video_total_bytes).toBe(given(early, "video"));
    const second = data.players.find((p) => p.stream_id === "play2");
    expect(second?.video_total_bytes).toBe(given(late, "video"));
    expect(second?.audio_total_bytes).toBe(given(late, "audio"));

    const one = await call(`${api.base}/stat/livestat?room=other`);
    expect(one.body.data).toEqual({
      publishers: [expect.objectContaining({ stream_id: "pub2", key: "live/other" })],
      players: [],
    });
    const none = await call(`${api.base}/stat/livestat?room=nobody`);
    expect(none.body.data).toEqual({ publishers: [], players: [] });
    expect((await call(`${api.base}/stat/livestat?room=a%2Fb`)).httpStatus).toBe(400);
  });

  it("/control/push and /control/pull start and stop relays, and check their parameters", async () => {
    const url = "rtmp://127.0.0.1:1/live/remote";
    const push = await call(
      `${api.base}/control/push?oper=start&app=live&name=movie&url=${encodeURIComponent(url)}`,
    );
    expect(push.body).toEqual({ status: 200, data: `push url start ${url} ok` });
    expect(relays.list()).toEqual([expect.objectContaining({ kind: "push", key: "live/movie", url })]);
    const pull = await call(
      `${api.base}/control/pull?oper=start&app=live&name=pulled&url=${encodeURIComponent(url)}`,
    );
    expect(pull.body.status).toBe(200);
    expect(
      relays
        .list()
        .map((r) => r.kind)
        .sort(),
    ).toEqual(["pull", "push"]);

    const stopPush = await call(
      `${api.base}/control/push?oper=stop&app=live&name=movie&url=${encodeURIComponent(url)}`,
    );
    expect(stopPush.body).toEqual({ status: 200, data: `push url stop ${url} ok` });
    const again = await call(`${api.base}/control/push?oper=stop&app=live&name=movie`);
    expect(again.httpStatus).toBe(404);
    expect(again.body.data).toBe("session key[push:live/movie] not exist, please check it again.");
    expect((await call(`${api.base}/control/pull?oper=stop&app=live&name=pulled`)).body.status).toBe(200);
    expect(relays.list()).toEqual([]);

    for (const query of [
      "",
      "oper=start&app=live&name=movie",
      "oper=start&app=live&url=rtmp://h/a/b",
      "oper=go&app=live&name=movie&url=rtmp://h/a/b",
      "oper=start&app=li%2Fve&name=movie&url=rtmp://h/a/b",
      "oper=start&app=live&name=movie&url=ftp://h/a/b",
      "oper=start&app=live&name=movie&url=not a url",
    ]) {
      for (const kind of ["push", "pull"]) {
        const reply = await call(`${api.base}/control/${kind}?${query}`);
        expect(reply.httpStatus, `${kind}?${query}`).toBe(400);
        expect(reply.body.status).toBe(400);
        expect(typeof reply.body.data).toBe("string");
      }
    }
    expect(relays.list()).toEqual([]);
  });

  it("answers 501 to relay commands when the server has no relays", async () => {
    const bare = await serveApi({ hub, keys });
    try {
      const reply = await call(
        `${bare.base}/control/push?oper=start&app=live&name=a&url=rtmp://127.0.0.1:1/live/a`,
      );
      expect(reply.httpStatus).toBe(501);
      expect(reply.body.status).toBe(501);
    } finally {
      await bare.close();
    }
  });

  it("answers 503 when the key store fails and 500 for a bug, never with a stack trace", async () => {
    const closedKeys = new MemoryKeyStore();
    await closedKeys.close();
    const broken = await serveApi({
      hub,
      keys: closedKeys,
      stats: () => {
        throw new Error("a bug in a stats source");
      },
    });
    try {
      const unavailable = await call(`${broken.base}/control/get?room=a`);
      expect(unavailable.httpStatus).toBe(503);
      expect(unavailable.body).toEqual({ status: 503, data: "the key store is unavailable" });
      const bug = await call(`${broken.base}/stat/livestat`);
      expect(bug.httpStatus).toBe(500);
      expect(bug.body).toEqual({ status: 500, data: "internal error" });
      expect(bug.text).not.toContain("a bug in a stats source");
      expect(broken.errors).toHaveLength(2);
    } finally {
      await broken.close();
    }
  });

  it("serves /metrics from the metrics source, as it gives it", async () => {
    const withMetrics = await serveApi({
      hub,
      keys,
      metrics: async () => ({ contentType: "text/plain; version=0.0.4", body: "onair_streams 2\n" }),
    });
    try {
      const response = await fetch(`${withMetrics.base}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4");
      expect(await response.text()).toBe("onair_streams 2\n");
    } finally {
      await withMetrics.close();
    }
    expect((await call(`${api.base}/metrics`)).httpStatus).toBe(404);
  });

  it("adds the publishers and players of other sources (HLS viewers) to /stat/livestat", async () => {
    const rooms: (string | undefined)[] = [];
    const extra = await serveApi({
      hub,
      keys,
      stats: (room) => {
        rooms.push(room);
        return {
          players: [
            {
              key: "live/movie",
              url: "http://127.0.0.1:7002/live/movie.m3u8",
              stream_id: "hls-1",
              video_total_bytes: 5,
              video_speed: 0,
              audio_total_bytes: 1,
              audio_speed: 0,
            },
          ],
        };
      },
    });
    try {
      const stat = await call(`${extra.base}/stat/livestat?room=movie`);
      expect(rooms).toEqual(["movie"]);
      expect(stat.body.data).toEqual({
        publishers: [],
        players: [expect.objectContaining({ stream_id: "hls-1" })],
      });
    } finally {
      await extra.close();
    }
  });
});
