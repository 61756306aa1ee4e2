/**
 * createHlsServer end to end in one process: a real StreamHub fed H.264/AAC packets, the server's
 * own HlsStreams segmenting them, and everything read back over HTTP — the playlist, the init
 * section, segments and parts (as mux.js's MP4 inspector and TS sync bytes see them), a blocking
 * reload and a preload hint released by new packets.
 */
import { createMediaPacket, type MediaPacket, StreamHub, StreamSource } from "@onair/core";
import muxjs from "mux.js";
import { afterEach, describe, expect, it } from "vitest";
import { createHlsServer, type HlsServer, type HlsServerOptions } from "../src/index.js";
import { httpRequest } from "./hls-fake-source.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");
/** libx264's parameter sets (1920x1080, constrained baseline). */
const AVC_RECORD = hex("0142c028ffe100196742c028da01e0089f97011000000300100000030320f1832a01000468ce0fc8");

function videoHeader(): MediaPacket {
  return createMediaPacket("video", 0, Buffer.concat([hex("17 00 000000"), AVC_RECORD]), {
    sequenceHeader: true,
  });
}

function videoFrame(ts: number, keyframe: boolean): MediaPacket {
  const nal = Buffer.alloc(300, keyframe ? 0x11 : 0x22);
  nal[0] = keyframe ? 0x65 : 0x41;
  nal[1] = 0x88;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(nal.length);
  const head = Buffer.from([keyframe ? 0x17 : 0x27, 1, 0, 0, 0]);
  return createMediaPacket("video", ts, Buffer.concat([head, length, nal]), { keyframe });
}

const audioHeader = (): MediaPacket =>
  createMediaPacket("audio", 0, hex("af 00 12 10"), { sequenceHeader: true });
const audioFrame = (ts: number): MediaPacket =>
  createMediaPacket("audio", ts, Buffer.concat([hex("af 01"), Buffer.alloc(80, 0x21)]));

/** 25 fps video with a keyframe every second, and AAC frames, over [from, to) ms. */
function pushMedia(source: StreamSource, from: number, to: number): void {
  let audio = Math.ceil(from / 23.22);
  for (let ts = from; ts < to; ts += 40) {
    source.push(videoFrame(ts, ts % 1000 === 0));
    for (; audio * 23.22 < ts + 40; audio++) source.push(audioFrame(Math.round(audio * 23.22)));
  }
}

function uris(playlist: string): string[] {
  const found: string[] = [];
  for (const line of playlist.split("\n")) {
    if (line === "") continue;
    const quoted = /URI="([^"]+)"/.exec(line);
    if (quoted !== null) found.push(quoted[1]);
    else if (!line.startsWith("#")) found.push(line);
  }
  return found;
}

function boxTypes(bytes: Buffer): string[] {
  return (muxjs.mp4.tools.inspect(new Uint8Array(bytes)) as { type: string }[]).map((box) => box.type);
}

let server: HlsServer | undefined;
let hub: StreamHub | undefined;

async function start(options: Partial<HlsServerOptions>): Promise<{ port: number; source: StreamSource }> {
  hub = new StreamHub({ batchWindowMs: 0 });
  server = createHlsServer({ handler: hub, host: "127.0.0.1", port: 0, ...options });
  const { port } = await server.listen();
  const source = new StreamSource({ key: "live/cam", app: "live", name: "cam", url: "", id: "publisher" });
  hub.handleReader(source);
  source.push(videoHeader());
  source.push(audioHeader());
  return { port, source };
}

afterEach(async () => {
  await server?.close();
  hub?.close();
  server = undefined;
});

describe("createHlsServer with a hub", () => {
  it("serves low-latency fMP4: playlist, init, segments, parts, a blocking reload and a preload hint", async () => {
    const { port, source } = await start({
      variant: "low-latency",
      targetDurationMs: 1000,
      partTargetMs: 200,
    });
    pushMedia(source, 0, 2500);
    const answer = await httpRequest(port, "/live/cam.m3u8");
    expect(answer.status).toBe(200);
    const playlist = answer.body.toString();
    expect(playlist).toContain("#EXT-X-PART-INF:PART-TARGET=0.200");
    expect(playlist).toContain("CAN-BLOCK-RELOAD=YES");
    const all = uris(playlist);
    const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(playlist)?.[1];
    expect(hint).toBeDefined();
    const files = all.filter((uri) => uri !== hint);
    expect(files.length).toBeGreaterThan(4);
    for (const uri of files) {
      expect(uri.startsWith("cam/")).toBe(true);
      const file = await httpRequest(port, `/live/${uri}`);
      expect(file.status, uri).toBe(200);
      expect(file.headers["content-type"], uri).toMatch(/^(video|audio)\/mp4$/);
      expect(file.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
      const types = boxTypes(file.body);
      if (uri.endsWith(".mp4")) expect(types.slice(0, 2), uri).toEqual(["ftyp", "moov"]);
      else expect(types, uri).toContain("moof");
    }

    // The next part is held until packets make it, and the hinted part with it.
    const mediaSequence = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist)?.[1]);
    const complete = playlist.split("\n").filter((line) => line.startsWith("#EXTINF")).length;
    const lastMsn = mediaSequence + complete; // the segment in progress
    const partsInProgress = playlist.slice(playlist.lastIndexOf("#EXTINF")).split("#EXT-X-PART:").length - 1;
    const reload = httpRequest(port, `/live/cam.m3u8?_HLS_msn=${lastMsn}&_HLS_part=${partsInProgress}`);
    const hinted = httpRequest(port, `/live/${hint}`);
    const deadline = Date.now() + 5000;
    while ((server?.stats().held ?? 0) < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    expect(server?.stats().held).toBe(2);
    pushMedia(source, 2500, 3200);
    const [released, part] = await Promise.all([reload, hinted]);
    expect(released.status).toBe(200);
    expect(released.body.toString()).toContain(`URI="${hint}"`);
    expect(part.status).toBe(200);
    expect(boxTypes(part.body)).toContain("moof");
    expect(server?.stats()).toMatchObject({ held: 0, heldStreams: 0 });
    expect(server?.stats().streams).toMatchObject({ streams: 1 });
  });

  it("serves MPEG-TS segments", async () => {
    const { port, source } = await start({ variant: "ts", targetDurationMs: 1000 });
    pushMedia(source, 0, 3100);
    const answer = await httpRequest(port, "/live/cam.m3u8");
    expect(answer.status).toBe(200);
    const playlist = answer.body.toString();
    expect(playlist).not.toContain("EXT-X-PART");
    const segments = uris(playlist);
    expect(segments.length).toBeGreaterThanOrEqual(2);
    for (const uri of segments) {
      expect(uri).toMatch(/^cam\/.+\.ts$/);
      const segment = await httpRequest(port, `/live/${uri}`);
      expect(segment.status).toBe(200);
      expect(segment.headers["content-type"]).toBe("video/mp2t");
      expect(segment.body.length % 188).toBe(0);
      for (let at = 0; at < segment.body.length; at += 188) expect(segment.body[at]).toBe(0x47);
    }
    expect((await httpRequest(port, "/live/other.m3u8")).status).toBe(404);
  });
});
