/**
 * The dashboard without a browser: codec descriptions from byte vectors (ffmpeg's FLV headers),
 * the stats feed's numbers from a real StreamHub with packets of known sizes under a fake clock,
 * and the routes behind the API handler (page, assets, Server-Sent Events, JWT, limits).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createMediaPacket, StreamHub, type StreamInfo, StreamSource, type StreamWriter } from "@onair/core";
import { createPacketFromTagBody } from "@onair/flv";
import { SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApiHandler } from "../src/api/api-handler.js";
import { createDashboard, type Dashboard } from "../src/dashboard/dashboard.js";
import { LiveStatsFeed } from "../src/dashboard/live-stats-feed.js";
import {
  describeStream,
  parseAudioSpecificConfig,
  parseOnMetaData,
} from "../src/dashboard/stream-description.js";
import { MemoryKeyStore } from "../src/keys/memory-key-store.js";

// Tag bodies of `ffmpeg -f lavfi -i testsrc=size=640x360:rate=30 -f lavfi -i sine=sample_rate=48000
// -ac 2 -c:v libx264 -preset ultrafast -c:a aac -f flv` (ffmpeg 5.1).
const ON_METADATA = Buffer.from(
  "02000a6f6e4d65746144617461080000000d00086475726174696f6e003fcc49ba5e353f7d000577696474680040840000000000000006686569676874004076800000000000000d766964656f646174617261746500000000000000000000096672616d657261746500403e000000000000000c766964656f636f646563696400401c000000000000000d617564696f646174617261746500405f400000000000000f617564696f73616d706c65726174650040e7700000000000000f617564696f73616d706c6573697a65004030000000000000000673746572656f0101000c617564696f636f64656369640040240000000000000007656e636f64657202000d4c61766635392e32372e313030000866696c6573697a650040d0620000000000000009",
  "hex",
);
// AVC sequence header: Baseline (66), level 3.0, SPS for 640x360.
const AVC_HEADER = Buffer.from(
  "17000000000142c01effe100196742c01eda0280bfe5c044000003000400000300f03c58ba8001000468ce0fc8",
  "hex",
);
// AAC sequence header: AudioSpecificConfig 0x1190 = AAC LC, 48 kHz, 2 channels.
const AAC_HEADER = Buffer.from("af001190", "hex");

const script = (payload: Buffer) => createPacketFromTagBody("script", 0, payload);
const video = (payload: Buffer, timestamp = 0) => createPacketFromTagBody("video", timestamp, payload);
const audio = (payload: Buffer, timestamp = 0) => createPacketFromTagBody("audio", timestamp, payload);

describe("stream descriptions", () => {
  it("reads codec, profile, size and frame rate from ffmpeg's headers", () => {
    const description = describeStream({
      metadata: script(ON_METADATA),
      video: video(AVC_HEADER),
      audio: audio(AAC_HEADER),
    });
    expect(description).toEqual({
      video: { codec: "h264", profile: "Baseline", level: "3.0", width: 640, height: 360, fps: 30 },
      audio: { codec: "aac", sampleRate: 48000, channels: 2 },
      encoder: "Lavf59.27.100",
    });
  });

  it("takes the size from onMetaData without a parsable SPS, and audio without metadata from the config", () => {
    const noSps = Buffer.from(AVC_HEADER.subarray(0, 11));
    noSps[10] = 0xe0; // no SPS
    expect(
      describeStream({ metadata: script(ON_METADATA), video: video(noSps), audio: undefined }).video,
    ).toEqual({
      codec: "h264",
      profile: "Baseline",
      level: "3.0",
      width: 640,
      height: 360,
      fps: 30,
    });
    expect(describeStream({ metadata: undefined, video: undefined, audio: audio(AAC_HEADER) })).toEqual({
      audio: { codec: "aac", sampleRate: 48000, channels: 2 },
    });
  });

  it("never throws on garbage: truncated headers, bad AMF, nothing", () => {
    expect(describeStream({ metadata: undefined, video: undefined, audio: undefined })).toEqual({});
    for (let cut = 0; cut < AVC_HEADER.length; cut++) {
      expect(() =>
        describeStream({ metadata: undefined, video: video(AVC_HEADER.subarray(0, cut)), audio: undefined }),
      ).not.toThrow();
    }
    for (let cut = 0; cut < ON_METADATA.length; cut += 7) {
      expect(() => parseOnMetaData(ON_METADATA.subarray(0, cut))).not.toThrow();
    }
    const bogus = createMediaPacket("script", 0, Buffer.from("02000a6f6e4d6574614461746108ffffffff", "hex"));
    expect(describeStream({ metadata: bogus, video: undefined, audio: undefined })).toEqual({});
  });

  it("parses AudioSpecificConfigs, with the escape for an explicit rate", () => {
    expect(parseAudioSpecificConfig(Buffer.from([0x12, 0x10]))).toEqual({ sampleRate: 44100, channels: 2 });
    expect(parseAudioSpecificConfig(Buffer.from([0x11, 0x88]))).toEqual({ sampleRate: 48000, channels: 1 });
    // objectType 2, index 15, rate 0x00BB80 (48000), channels 1: 00010 1111 000000001011101110000000 0001
    expect(parseAudioSpecificConfig(Buffer.from([0x17, 0x80, 0x5d, 0xc0, 0x08]))).toEqual({
      sampleRate: 48000,
      channels: 1,
    });
    expect(parseAudioSpecificConfig(Buffer.from([0x12]))).toEqual({});
  });
});

function info(key: string, id: string, remoteAddress?: string): StreamInfo {
  const [app, name] = key.split("/");
  return { key, app, name, url: `rtmp://127.0.0.1/${key}`, id, ...(remoteAddress ? { remoteAddress } : {}) };
}

/** A writer that takes everything (what the hub counts is what it hands to write()). */
function writer(key: string, id: string, remoteAddress?: string): StreamWriter & { closed: boolean } {
  const closers: ((error?: Error) => void)[] = [];
  const w = {
    info: info(key, id, remoteAddress),
    closed: false,
    bufferedBytes: 0,
    start() {},
    write() {},
    flush() {},
    close(error?: Error) {
      if (w.closed) return;
      w.closed = true;
      for (const c of closers) c(error);
    },
    onClose(listener: (error?: Error) => void) {
      closers.push(listener);
    },
  };
  return w;
}

describe("the stats feed", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("samples once an interval: kbit/s, frame rate, viewers, codecs and history from the hub", () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const hub = new StreamHub({ batchWindowMs: 0 });
    const feed = new LiveStatsFeed({ hub, historySamples: 4 });
    const source = new StreamSource(info("live/a", "rtmp-pub-1", "10.0.0.1:5000"));
    hub.handleReader(source);
    source.push(script(ON_METADATA));
    source.push(video(AVC_HEADER));
    source.push(audio(AAC_HEADER));
    hub.handleWriter(writer("live/a", "http-flv-7", "10.0.0.2:6000"));
    hub.handleWriter(writer("live/a", "hls-segmenter-1"));
    const frame = Buffer.alloc(1000);
    frame[0] = 0x17; // AVC keyframes, NALU packets (the players start at once)
    frame[1] = 1;
    const sound = Buffer.alloc(200);
    sound[0] = 0xaf;
    sound[1] = 1;
    const second = (frames: number) => {
      for (let i = 0; i < frames; i++) {
        source.push(video(frame, i * 40));
        source.push(audio(sound, i * 40));
      }
      vi.advanceTimersByTime(1000);
    };
    const headerBytes = ON_METADATA.length + AVC_HEADER.length + AAC_HEADER.length;
    second(25);
    let sample = feed.latest;
    expect(sample?.time).toBe(1_001_000);
    let stream = sample?.streams[0];
    // The stream started within the interval: all it received counts, headers included.
    expect(stream?.kbpsIn).toBe(Math.round(((headerBytes + 25 * 1200) * 8) / 1000));
    expect(stream?.videoKbps).toBe(Math.round(((AVC_HEADER.length + 25 * 1000) * 8) / 1000));
    expect(stream?.audioKbps).toBe(Math.round(((AAC_HEADER.length + 25 * 200) * 8) / 1000));
    expect(stream).toMatchObject({
      key: "live/a",
      app: "live",
      name: "a",
      live: true,
      publisher: { id: "rtmp-pub-1", protocol: "rtmp", address: "10.0.0.1:5000", since: 1_000_000 },
      uptimeS: 1,
      video: { codec: "h264", width: 640, height: 360, fps: 30 },
      audio: { codec: "aac", sampleRate: 48000, channels: 2 },
      playerCount: 1,
      writerCount: 2,
    });
    expect(stream?.players.map((p) => [p.protocol, p.address])).toEqual([
      ["http-flv", "10.0.0.2:6000"],
      ["hls", null],
    ]);

    second(30);
    second(30);
    sample = feed.latest;
    stream = sample?.streams[0];
    expect(stream?.kbpsIn).toBe(Math.round((30 * 1200 * 8) / 1000));
    // 30 frames a second over the last two intervals (the first sample's count is the base).
    expect(stream?.fps).toBe(30);
    expect(stream?.players[0].kbps).toBe(Math.round((30 * 1200 * 8) / 1000));
    expect(sample?.server).toMatchObject({ streams: 1, live: 1, players: 1 });

    second(0);
    second(0);
    // Four samples kept, oldest first.
    const history = feed.history();
    expect(history.time).toEqual([1_002_000, 1_003_000, 1_004_000, 1_005_000]);
    expect(history.streams["live/a"].kbpsIn).toEqual([288, 288, 0, 0]);
    expect(history.streams["live/a"].players).toEqual([1, 1, 1, 1]);

    // A stream that went is forgotten; one seen later has nulls before its first sample.
    hub.handleReader(new StreamSource(info("live/b", "rtmp-pub-2")));
    source.end();
    hub.close();
    vi.advanceTimersByTime(1000);
    feed.close();
    vi.advanceTimersByTime(5000);
    expect(feed.latest?.time).toBe(1_006_000);
  });

  it("gives a stream already running when the feed starts no spike", () => {
    vi.useFakeTimers({ now: 5_000 });
    const hub = new StreamHub({ batchWindowMs: 0 });
    const source = new StreamSource(info("live/a", "rtmp-pub-1"));
    hub.handleReader(source);
    source.push(video(Buffer.alloc(100_000, 0x27)));
    vi.advanceTimersByTime(10_000);
    const feed = new LiveStatsFeed({ hub });
    expect(feed.sample().streams[0].kbpsIn).toBe(0);
    source.push(video(Buffer.alloc(1000, 0x27)));
    vi.advanceTimersByTime(1000);
    expect(feed.latest?.streams[0].kbpsIn).toBe(8);
    feed.close();
    hub.close();
  });
});

interface Served {
  base: string;
  server: Server;
  dashboard: Dashboard;
  close(): Promise<void>;
}

async function serve(options: { jwt?: string; maxClients?: number } = {}): Promise<Served> {
  const hub = new StreamHub();
  const dashboard = createDashboard({
    hub,
    intervalMs: 50,
    endpoints: () => ({ flvPort: 7001, hlsPort: 7002, rtmpPort: 1935 }),
    ...(options.maxClients === undefined ? {} : { maxClients: options.maxClients }),
  });
  const handler = createApiHandler({
    hub,
    keys: new MemoryKeyStore(),
    dashboard,
    ...(options.jwt === undefined ? {} : { jwt: { secret: options.jwt } }),
  });
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    server,
    dashboard,
    close: async () => {
      dashboard.close();
      hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Reads Server-Sent Events from `url` until `count` have come; returns them parsed. */
async function readEvents(url: string, count: number): Promise<{ event: string; data: unknown }[]> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  const events: { event: string; data: unknown }[] = [];
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    let end = text.indexOf("\n\n");
    while (end !== -1) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      const name = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (name !== undefined && data !== undefined) events.push({ event: name, data: JSON.parse(data) });
      end = text.indexOf("\n\n");
    }
  }
  await reader.cancel();
  return events;
}

describe("the dashboard's routes behind the API handler", () => {
  const opened: Served[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  it("serves the page, its assets from node_modules and the stats stream; nothing else", async () => {
    const served = await serve();
    opened.push(served);
    const page = await fetch(`${served.base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('src="/dashboard/dashboard.js"');
    expect(html).not.toContain("{{TOKEN_QUERY}}");
    for (const [asset, type, marker] of [
      ["dashboard.js", "text/javascript", "/stat/events"],
      ["dashboard.css", "text/css", ".panel"],
      ["uPlot.js", "text/javascript", "uPlot"],
      ["uPlot.css", "text/css", ".uplot"],
      ["mpegts.js", "text/javascript", "mpegts"],
      ["hls.js", "text/javascript", "Hls"],
    ]) {
      const response = await fetch(`${served.base}/dashboard/${asset}`);
      expect(response.status, asset).toBe(200);
      expect(response.headers.get("content-type"), asset).toBe(`${type}; charset=utf-8`);
      expect(await response.text(), asset).toContain(marker);
    }
    // Paths outside the table are the API's (404), never a file.
    for (const path of ["/dashboard/../package.json", "/dashboard/index.html", "/dashboard/%2e%2e/x.js"]) {
      const response = await fetch(`${served.base}${path}`);
      expect(response.status, path).toBe(404);
      await response.body?.cancel();
    }
    const post = await fetch(`${served.base}/`, { method: "POST" });
    expect(post.status).toBe(405);
    await post.body?.cancel();

    const events = await readEvents(`${served.base}/stat/events`, 4);
    expect(events.map((e) => e.event)).toEqual(["hello", "history", "stats", "stats"]);
    expect(events[0].data).toEqual({
      version: 1,
      intervalMs: 50,
      historySamples: 300,
      endpoints: { flvPort: 7001, hlsPort: 7002, rtmpPort: 1935 },
    });
    expect(events[2].data).toMatchObject({ server: { streams: 0, players: 0 }, streams: [], relays: [] });
  });

  it("with a JWT secret: 403 without the token; ?jwt= opens the page and goes on to its assets", async () => {
    const secret = "a secret for the dashboard routes";
    const served = await serve({ jwt: secret });
    opened.push(served);
    for (const path of ["/", "/dashboard/dashboard.js", "/stat/events"]) {
      const response = await fetch(`${served.base}${path}`);
      expect(response.status, path).toBe(403);
      expect(await response.json(), path).toEqual({
        status: 403,
        data: "Required authorization token not found",
      });
    }
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode(secret));
    const html = await (await fetch(`${served.base}/?jwt=${token}`)).text();
    expect(html).toContain(`src="/dashboard/dashboard.js?jwt=${token}"`);
    expect(html).toContain(`href="/dashboard/uPlot.css?jwt=${token}"`);
    expect((await fetch(`${served.base}/dashboard/uPlot.js?jwt=${token}`)).status).toBe(200);
    const events = await readEvents(`${served.base}/stat/events?jwt=${token}`, 2);
    expect(events.slice(0, 2).map((e) => e.event)).toEqual(["hello", "history"]);
  });

  it("cuts a stats stream when its token expires; reconnecting with it is refused", async () => {
    const secret = "expiring-secret";
    const served = await serve({ jwt: secret });
    opened.push(served);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(Math.floor(Date.now() / 1000) + 2)
      .sign(new TextEncoder().encode(secret));
    const started = Date.now();
    const stream = await fetch(`${served.base}/stat/events?jwt=${token}`);
    expect(stream.status).toBe(200);
    // The body ends (the server cut it) at the token's expiry, not before and not much after.
    await stream.text().catch(() => "");
    const lasted = Date.now() - started;
    expect(lasted).toBeGreaterThan(500);
    expect(lasted).toBeLessThan(4000);
    expect((await fetch(`${served.base}/stat/events?jwt=${token}`)).status).toBe(403);
  });

  it("refuses pages past maxClients and ends every stream on close", async () => {
    const served = await serve({ maxClients: 1 });
    opened.push(served);
    const first = await fetch(`${served.base}/stat/events`);
    expect(first.status).toBe(200);
    await vi.waitFor(() => expect(served.dashboard.feed.clients).toBe(1));
    const second = await fetch(`${served.base}/stat/events`);
    expect(second.status).toBe(503);
    await second.body?.cancel();
    served.dashboard.close();
    served.dashboard.close();
    // The first page's stream ends (its body completes).
    const text = await first.text();
    expect(text).toContain("event: hello");
    expect(served.dashboard.feed.clients).toBe(0);
  });
});
