/**
 * HlsSegmenter in its three variants (ts, fmp4, low-latency) fed short streams (tens of packets)
 * with small targets, windows and byte bounds, so that segments, parts, evictions and
 * discontinuities all happen within a case.
 *
 * Two kinds of stream:
 * - steady: video and/or audio at a fixed frame interval (video's at most PART-TARGET), in
 *   timestamp order, with discontinuity() calls, sequence header changes, jumps back and far
 *   forward, a wrap of the 32-bit clock and endSegment() — each followed by a keyframe, as a
 *   publisher that comes back or reconfigures sends one (small steps back, under the 500 ms that
 *   make a discontinuity, are in the chaotic streams: the segment in progress then ends at the
 *   newest timestamp seen, so a part ended right after one runs past PART-TARGET by the step);
 * - chaotic: jittered intervals, random keyframes, packets out of order, mutated and random
 *   bodies (refused codecs, end-of-sequence, empty frames, flags that lie), header changes of every
 *   kind, events anywhere. Packet flags are what ingest makes of the body (createPacketFromTagBody):
 *   the segmenter trusts them by design (hls-mux feeds flags that lie to the muxers).
 *
 * Oracle, after every step (the playlist parsed as text):
 * - write(), discontinuity(), endSegment(), close(), playlist() and has() never throw, and no
 *   error other than HlsError reaches the segmenter's catch (stats().lastError is an ERR_HLS_ code);
 * - EXT-X-MEDIA-SEQUENCE and EXT-X-DISCONTINUITY-SEQUENCE never decrease; a segment keeps its media
 *   sequence number (the one in its file name is the one its place gives) and its discontinuity
 *   sequence number from playlist to playlist, in progress (its parts) and complete;
 * - every EXTINF rounds to at most EXT-X-TARGETDURATION; low-latency, steady streams: every
 *   EXT-X-PART lasts at most PART-TARGET + 0.001 s (a chaotic stream's part can only end at its next
 *   lead frame, however late that comes);
 * - low-latency: lastMsn, lastPart and has() agree with the parts and segments listed;
 * - every segment, part and map the playlist names is a resource (TS: whole packets, PAT first;
 *   fMP4: moof + mdat fragments whose boxes add up; maps: ftyp + moov), and the preload hint is one;
 * - stats().bytes stays within maxBytesPerStream, or, with every complete segment evicted, within a
 *   quarter of it plus a few packets (the segment in progress); after close() within the bound,
 *   and 0 when no segment is left; 0 after dispose().
 */
import { createMediaPacket, type MediaPacket, type StreamInfo } from "@onair/core";
import { createPacketFromTagBody } from "@onair/flv";
import { HlsSegmenter, type HlsSegmenterOptions } from "@onair/hls";
import type { FuzzRandom, RandomPool } from "../fuzz-random.js";
import { expectThat, type FuzzTarget, type FuzzTargetFactory, hexOf, OracleFailure } from "../harness.js";
import { InputBuilder } from "../input-builder.js";
import {
  audioHeaders,
  hlsSeedBodies,
  hlsSeeds,
  refusedBodies,
  videoFrames,
  videoHeaders,
} from "./hls-seeds.js";
import { checkFragment, checkInitSegment, walkBoxes } from "./mp4-boxes.js";

const INFO: StreamInfo = { key: "live/fuzz", app: "live", name: "fuzz", url: "fuzz://live/fuzz", id: "fuzz" };
const VARIANTS = ["ts", "fmp4", "low-latency"] as const;
const NUMBERS = [0, 1, 2, 3, 4, 0x7f, 0xff, 0xffff, 0xffffff, 0xffffffff];

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");
const IDR = hex("65 88 84 00 33 ff");
const SLICE = hex("41 9a 02 04");
const IRAP = hex("26 01 af 09 40");
const TRAIL = hex("02 01 d0 09");
const AVC_HEADERS = [videoHeaders[0], videoHeaders[1]];
const HEVC_HEADERS = [videoHeaders[4], videoHeaders[5]];
const AAC_HEADERS = [audioHeaders[0], audioHeaders[3]];

/** A coded frame of `size` bytes: AVC or Enhanced hvc1, one NAL unit, 4-byte length. */
function videoBody(hevc: boolean, keyframe: boolean, size: number): Buffer {
  const nal = Buffer.alloc(Math.max(size, 6), 0x5a);
  (hevc ? (keyframe ? IRAP : TRAIL) : keyframe ? IDR : SLICE).copy(nal);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(nal.length);
  const head = hevc
    ? Buffer.concat([Buffer.from([0x80 | ((keyframe ? 1 : 2) << 4) | 3]), Buffer.from("hvc1")])
    : Buffer.from([keyframe ? 0x17 : 0x27, 1, 0, 0, 0]);
  return Buffer.concat([head, length, nal]);
}

function audioBody(mp3: boolean, size: number): Buffer {
  if (mp3) {
    const frame = Buffer.alloc(Math.max(size, 8), 0);
    frame.set([0xff, 0xfb, 0x90, 0x64]);
    return Buffer.concat([Buffer.from([0x2f]), frame]);
  }
  return Buffer.concat([Buffer.from([0xaf, 0x01]), Buffer.alloc(Math.max(size, 1), 0x21)]);
}

type Op =
  | { op: "write"; packet: MediaPacket }
  | { op: "discontinuity" }
  | { op: "endSegment" }
  | { op: "close" };

class HlsSegmenterTarget implements FuzzTarget {
  readonly #pool: RandomPool;
  readonly #input = new InputBuilder(1 << 12);
  #options: HlsSegmenterOptions = {};
  #steady = true;
  #ops: Op[] = [];
  // What the playlists said so far in this case.
  #mediaSequence = 0;
  #discontinuitySequence = 0;
  /** Media sequence number → its discontinuity sequence number. */
  readonly #dseqOf = new Map<number, number>();
  /** Files whose bytes were checked already. */
  readonly #checked = new Set<string>();
  #maxPayload = 0;

  constructor(pool: RandomPool) {
    this.#pool = pool;
  }

  describeInput(): string {
    const ops = this.#ops.map((op) => {
      if (op.op !== "write") return op.op;
      const p = op.packet;
      const body =
        p.payload.length > 24
          ? `${hexOf(p.payload.subarray(0, 24))}…(${p.payload.length})`
          : hexOf(p.payload);
      return `${p.kind[0]}@${p.timestamp}${p.keyframe ? "K" : ""}${p.sequenceHeader ? "S" : ""}:${body}`;
    });
    return `${JSON.stringify(this.#options)} ${this.#steady ? "steady" : "chaotic"}: ${ops.join(" ")}`;
  }

  run(random: FuzzRandom): string | undefined {
    const variant = random.pick(VARIANTS);
    const targetDurationMs = random.pick([100, 200, 500, 1000, 2000]);
    const options: HlsSegmenterOptions = {
      variant,
      targetDurationMs,
      partTargetMs: Math.min(targetDurationMs, random.pick([40, 50, 100, 200, 300])),
      windowSegments: 1 + random.below(4),
      maxBytesPerStream: random.pick([200, 1000, 4000, 20_000, 32 * 1024 * 1024]),
      mediaSequence: random.chance(0.8) ? 0 : random.below(1000),
      discontinuitySequence: random.chance(0.8) ? 0 : random.below(1000),
    };
    this.#options = options;
    this.#steady = random.chance(0.6);
    this.#ops = this.#steady ? this.#steadyOps(random, options) : this.#chaoticOps(random);
    return this.#execute(options);
  }

  // ---- Inputs ------------------------------------------------------------------------------

  #steadyOps(random: FuzzRandom, options: HlsSegmenterOptions): Op[] {
    const ops: Op[] = [];
    const write = (packet: MediaPacket): void => {
      ops.push({ op: "write", packet });
    };
    const video = random.chance(0.8);
    const audio = !video || random.chance(0.7);
    const hevc = random.chance(0.25);
    const mp3 = random.chance(0.2);
    const partTarget = options.partTargetMs as number;
    const videoMs = random.between(10, options.variant === "low-latency" ? partTarget : 300);
    const audioMs = mp3 ? 26 : 23;
    const keyChance = random.pick([1, 0.5, 0.2, 0.05]);
    const forwardJump = Math.max(5000, 3 * (options.targetDurationMs as number));
    const base = random.chance(0.8) ? random.below(1_000_000) : 2 ** 32 - random.below(3000);
    let nextVideo = base;
    let nextAudio = base;
    let forceKey = true;
    let header = 0;
    let eventBefore = false;
    let videoOut = false;
    let audioOut = false;
    if (video) write(createPacketFromTagBody("video", base, (hevc ? HEVC_HEADERS : AVC_HEADERS)[0]));
    if (audio && !mp3) write(createPacketFromTagBody("audio", base, AAC_HEADERS[0]));
    for (let i = 0, count = random.between(5, 60); i < count; i++) {
      const isVideo = video && (!audio || nextVideo < nextAudio);
      const started = (!video || videoOut) && (!audio || audioOut);
      // Events once each track has a frame out: the first packet after one (of either track) is what
      // notices a jump, and the keyframe follows.
      if ((isVideo || !video) && started && !eventBefore && random.chance(0.06)) {
        eventBefore = true; // one event between two packets: two jumps could cancel out into a gap
        // An event, then (video) a keyframe.
        forceKey = true;
        const t = isVideo ? nextVideo : nextAudio;
        let shift = 0;
        switch (random.below(6)) {
          case 0:
            ops.push({ op: "discontinuity" });
            break;
          case 1:
            header += 1;
            if (video)
              write(createPacketFromTagBody("video", t, (hevc ? HEVC_HEADERS : AVC_HEADERS)[header % 2]));
            else if (!mp3) write(createPacketFromTagBody("audio", t, AAC_HEADERS[header % 2]));
            break;
          case 2:
            // Back by more than 500 ms plus a frame interval, or (too near 0 for that) far forward.
            shift = t > 6000 ? -random.between(900, 5000) : forwardJump + random.between(1, 10_000);
            break;
          case 3:
            shift = forwardJump + random.between(1, 10_000);
            break;
          case 4:
            // The 32-bit clock wrapped (or the publisher restarted at 0).
            shift = t > 1000 ? -t + random.below(100) : forwardJump + random.between(1, 10_000);
            break;
          default:
            ops.push({ op: "endSegment" });
        }
        nextVideo = Math.max(0, nextVideo + shift);
        nextAudio = Math.max(0, nextAudio + shift);
        continue;
      }
      eventBefore = false;
      if (isVideo) {
        videoOut = true;
        const keyframe = forceKey || random.chance(keyChance);
        forceKey = false;
        write(
          createMediaPacket("video", nextVideo, videoBody(hevc, keyframe, random.between(6, 300)), {
            keyframe,
          }),
        );
        nextVideo += videoMs;
      } else {
        audioOut = true;
        write(createPacketFromTagBody("audio", nextAudio, audioBody(mp3, random.between(1, 200))));
        nextAudio += audioMs;
      }
    }
    if (random.chance(0.7)) ops.push({ op: "close" });
    return ops;
  }

  #chaoticOps(random: FuzzRandom): Op[] {
    const ops: Op[] = [];
    let t = random.chance(0.8) ? random.below(1_000_000) : 2 ** 32 - random.below(3000);
    const hevc = random.chance(0.25);
    for (let i = 0, count = random.between(5, 60); i < count; i++) {
      const roll = random.next();
      if (roll < 0.7) t += random.below(random.chance(0.8) ? 80 : 1500);
      else if (roll < 0.8) t -= random.below(random.chance(0.5) ? 600 : 6000);
      else if (roll < 0.85) t += random.below(20_000);
      else if (roll < 0.87) t = random.pick([0, 2 ** 32 - 1, 2 ** 32 + 5, random.below(100)]);
      t = Math.max(0, t);
      const what = random.next();
      if (what < 0.05) ops.push({ op: "discontinuity" });
      else if (what < 0.07) ops.push({ op: "endSegment" });
      else if (what < 0.1) {
        const kind = random.chance(0.7) ? "video" : "audio";
        const body = kind === "video" ? random.pick(videoHeaders) : random.pick(audioHeaders);
        ops.push({ op: "write", packet: createPacketFromTagBody(kind, t, body) });
      } else if (what < 0.45) {
        const keyframe = random.chance(0.3);
        ops.push({
          op: "write",
          packet: createMediaPacket("video", t, videoBody(hevc, keyframe, random.between(6, 400)), {
            keyframe,
          }),
        });
      } else if (what < 0.75) {
        ops.push({
          op: "write",
          packet: createPacketFromTagBody("audio", t, audioBody(random.chance(0.1), random.between(1, 200))),
        });
      } else {
        ops.push({ op: "write", packet: this.#oddPacket(random, t) });
      }
    }
    if (random.chance(0.7)) ops.push({ op: "close" });
    return ops;
  }

  /** A golden body as is or mutated, a refused codec, random bytes, an empty body. */
  #oddPacket(random: FuzzRandom, t: number): MediaPacket {
    const input = this.#input.clear();
    let kind: "video" | "audio" | "script";
    const roll = random.next();
    if (roll < 0.3) {
      const seed = random.pick(random.chance(0.3) ? refusedBodies : hlsSeeds);
      kind = seed.kind;
      input.append(seed.body);
    } else if (roll < 0.55) {
      kind = "video";
      input.append(random.pick(videoFrames)); // end of sequence, Annex B, other length sizes, command frames
    } else if (roll < 0.85) {
      const seed = random.pick(hlsSeeds);
      kind = seed.kind;
      input.append(seed.body).mutate(random, this.#pool, NUMBERS, hlsSeedBodies);
    } else {
      kind = random.pick(["video", "audio"] as const);
      input.random(random, this.#pool, random.length(100));
    }
    // Flags as ingest sets them (createPacketFromTagBody): the segmenter trusts them, by design
    // (a packet is parsed once); hls-mux feeds the muxers flags that lie.
    return createPacketFromTagBody(kind, t, Buffer.from(input.bytes));
  }

  // ---- Running and checking ----------------------------------------------------------------

  #execute(options: HlsSegmenterOptions): string | undefined {
    this.#mediaSequence = -1;
    this.#discontinuitySequence = -1;
    this.#dseqOf.clear();
    this.#checked.clear();
    this.#maxPayload = 0;
    const segmenter = new HlsSegmenter(INFO, options);
    let closed = false;
    let step = 0;
    try {
      for (const op of this.#ops) {
        switch (op.op) {
          case "write":
            this.#maxPayload = Math.max(this.#maxPayload, op.packet.payload.length);
            segmenter.write(op.packet);
            break;
          case "discontinuity":
            segmenter.discontinuity();
            break;
          case "endSegment":
            segmenter.endSegment();
            break;
          case "close":
            segmenter.close();
            closed = true;
        }
        step += 1;
        this.#check(segmenter, options, closed);
      }
    } catch (error) {
      if (error instanceof OracleFailure) {
        error.message = `after step ${step} (${this.#ops[step - 1]?.op}): ${error.message}`;
        throw error;
      }
      const failure = new OracleFailure(
        `the segmenter threw ${(error as Error).name}: ${(error as Error).message}`,
      );
      failure.cause = error;
      throw failure;
    }
    const lastError = segmenter.stats().lastError;
    segmenter.dispose();
    expectThat(segmenter.stats().bytes === 0, () => `${segmenter.stats().bytes} bytes held after dispose()`);
    return lastError;
  }

  #check(segmenter: HlsSegmenter, options: HlsSegmenterOptions, closed: boolean): void {
    const stats = segmenter.stats();
    expectThat(
      stats.lastError === undefined || stats.lastError.startsWith("ERR_HLS_"),
      () => `the segmenter caught a non-HlsError: ${stats.lastError}`,
    );
    const maxBytes = options.maxBytesPerStream as number;
    expectThat(stats.bytes >= 0, () => `${stats.bytes} bytes held`);
    if (stats.bytes > maxBytes) {
      expectThat(
        !closed && stats.segments === 0 && stats.bytes <= maxBytes / 4 + 8 * this.#maxPayload + 8192,
        () =>
          `${stats.bytes} bytes held with ${stats.segments} segments${closed ? " after close()" : ""}, bound ${maxBytes}`,
      );
    }
    if (closed && stats.segments === 0) {
      expectThat(stats.bytes === 0, () => `${stats.bytes} bytes held after close() with no segment left`);
    }
    this.#checkPlaylist(segmenter, segmenter.playlist(), options.variant === "low-latency");
  }

  #checkPlaylist(segmenter: HlsSegmenter, text: string, lowLatency: boolean): void {
    const lines = text.split("\n");
    let targetDuration = -1;
    let partTarget = -1;
    let mediaSequence = -1;
    let dseq = -1;
    let count = 0; // complete segments listed
    let partsOfLast = 0; // parts listed for the segment being read (complete or in progress)
    let lastCompleteParts = -1;
    let preloadHint: string | undefined;
    const number = (line: string, tag: string): number => Number(line.slice(tag.length));
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line.startsWith("#EXT-X-TARGETDURATION:")) targetDuration = number(line, "#EXT-X-TARGETDURATION:");
      else if (line.startsWith("#EXT-X-PART-INF:PART-TARGET="))
        partTarget = number(line, "#EXT-X-PART-INF:PART-TARGET=");
      else if (line.startsWith("#EXT-X-MEDIA-SEQUENCE:"))
        mediaSequence = number(line, "#EXT-X-MEDIA-SEQUENCE:");
      else if (line.startsWith("#EXT-X-DISCONTINUITY-SEQUENCE:"))
        dseq = number(line, "#EXT-X-DISCONTINUITY-SEQUENCE:");
      else if (line === "#EXT-X-DISCONTINUITY") {
        dseq += 1;
      } else if (line.startsWith("#EXT-X-MAP:")) {
        this.#checkResource(segmenter, attribute(line, "URI"), "map");
      } else if (line.startsWith("#EXT-X-PART:")) {
        this.#noteSegment(mediaSequence + count, dseq);
        const duration = Number(attribute(line, "DURATION"));
        if (this.#steady) {
          expectThat(
            duration <= partTarget + 0.001 + 1e-9,
            () => `EXT-X-PART DURATION ${duration} over PART-TARGET ${partTarget}`,
          );
        }
        this.#checkResource(segmenter, attribute(line, "URI"), "part");
        partsOfLast += 1;
      } else if (line.startsWith("#EXTINF:")) {
        const extinf = Number.parseFloat(line.slice("#EXTINF:".length));
        expectThat(
          Math.round(extinf) <= targetDuration,
          () => `EXTINF ${extinf} over TARGETDURATION ${targetDuration}`,
        );
        const msn = mediaSequence + count;
        this.#noteSegment(msn, dseq);
        const file = this.#checkResource(segmenter, lines[i + 1], "segment");
        const named = Number(file.slice(file.lastIndexOf("-") + 1, file.lastIndexOf(".")));
        expectThat(named === msn, () => `segment ${file} listed at media sequence number ${msn}`);
        if (lowLatency) {
          expectThat(segmenter.has(msn), () => `has(${msn}) is false for a listed segment`);
          if (partsOfLast > 0)
            expectThat(segmenter.has(msn, partsOfLast - 1), () => `has(${msn}, ${partsOfLast - 1}) is false`);
        }
        lastCompleteParts = partsOfLast;
        partsOfLast = 0;
        count += 1;
        i += 1;
      } else if (line.startsWith("#EXT-X-PRELOAD-HINT:")) {
        preloadHint = fileOf(attribute(line, "URI"));
        expectThat(segmenter.isPreloadHint(preloadHint), `the preload hint ${preloadHint} is not one`);
      }
    }
    expectThat(
      mediaSequence >= this.#mediaSequence,
      () => `MEDIA-SEQUENCE ${mediaSequence} after ${this.#mediaSequence}`,
    );
    this.#mediaSequence = mediaSequence;
    const firstDseq = Number(/#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/.exec(text)?.[1]);
    expectThat(
      firstDseq >= this.#discontinuitySequence,
      () => `DISCONTINUITY-SEQUENCE ${firstDseq} after ${this.#discontinuitySequence}`,
    );
    this.#discontinuitySequence = firstDseq;
    const lastMsn = segmenter.lastMsn;
    const lastPart = segmenter.lastPart;
    if (!lowLatency) {
      expectThat(lastPart === -1, `lastPart ${lastPart} without low latency`);
      if (count > 0)
        expectThat(
          lastMsn === mediaSequence + count - 1,
          () => `lastMsn ${lastMsn}, the last listed is ${mediaSequence + count - 1}`,
        );
      return;
    }
    const ended = text.includes("#EXT-X-ENDLIST");
    const inProgress = mediaSequence + count;
    if (partsOfLast > 0) {
      // Parts of the segment in progress are listed.
      expectThat(
        lastMsn === inProgress && lastPart === partsOfLast - 1,
        () =>
          `lastMsn/lastPart ${lastMsn}/${lastPart}, the playlist ends with part ${partsOfLast - 1} of ${inProgress}`,
      );
      expectThat(
        segmenter.has(inProgress, partsOfLast - 1),
        () => `has(${inProgress}, ${partsOfLast - 1}) is false`,
      );
      expectThat(!segmenter.has(inProgress, partsOfLast), () => `has(${inProgress}, ${partsOfLast}) is true`);
      expectThat(!segmenter.has(inProgress), () => `has(${inProgress}) is true for the segment in progress`);
    } else if (count > 0) {
      expectThat(
        (lastMsn === inProgress - 1 && lastPart === lastCompleteParts - 1) ||
          (!ended && lastMsn === inProgress && lastPart === -1),
        () =>
          `lastMsn/lastPart ${lastMsn}/${lastPart}, the playlist ends with segment ${inProgress - 1} of ${lastCompleteParts} parts`,
      );
      expectThat(
        !segmenter.has(inProgress, 0),
        () => `has(${inProgress}, 0) is true, none of its parts is listed`,
      );
    }
    if (!ended) expectThat(preloadHint !== undefined, "a live low-latency playlist without a preload hint");
  }

  /** A segment (by media sequence number) keeps its discontinuity sequence number. */
  #noteSegment(msn: number, dseq: number): void {
    const before = this.#dseqOf.get(msn);
    if (before === undefined) this.#dseqOf.set(msn, dseq);
    else
      expectThat(before === dseq, () => `segment ${msn} had discontinuity sequence ${before}, now ${dseq}`);
  }

  /** The file a URI names is a resource, and its bytes are what they should be; returns the file name. */
  #checkResource(segmenter: HlsSegmenter, uri: string | undefined, what: "map" | "part" | "segment"): string {
    expectThat(uri !== undefined, `a ${what} without a URI`);
    const file = fileOf(uri);
    const resource = segmenter.resource(file);
    expectThat(resource !== undefined, () => `the ${what} ${file} is listed but not there`);
    if (this.#checked.has(file)) return file;
    this.#checked.add(file);
    const bytes = resource.bytes;
    expectThat(bytes.length > 0, () => `the ${what} ${file} is empty`);
    let problem: string | undefined;
    if (what === "map") problem = checkInitSegment(bytes);
    else if (file.endsWith(".ts")) problem = tsProblem(bytes);
    else problem = fragmentsProblem(bytes);
    expectThat(problem === undefined, () => `${what} ${file}: ${problem}`);
    return file;
  }
}

function attribute(line: string, name: string): string | undefined {
  const match = new RegExp(`[:,]${name}=("[^"]*"|[^,]*)`).exec(line);
  if (match === null) return undefined;
  return match[1].startsWith('"') ? match[1].slice(1, -1) : match[1];
}

function fileOf(uri: string | undefined): string {
  const path = (uri ?? "").split("?")[0];
  return path.slice(path.lastIndexOf("/") + 1);
}

function tsProblem(bytes: Buffer): string | undefined {
  if (bytes.length % 188 !== 0) return `${bytes.length} bytes, not whole TS packets`;
  for (let at = 0; at < bytes.length; at += 188) if (bytes[at] !== 0x47) return `no sync byte at ${at}`;
  if ((bytes.readUInt16BE(1) & 0x1fff) !== 0) return "it does not start with a PAT";
  return undefined;
}

/** moof + mdat pairs, each a well-formed fragment. */
function fragmentsProblem(bytes: Buffer): string | undefined {
  const boxes = walkBoxes(bytes);
  if (typeof boxes === "string") return boxes;
  const top = boxes.filter((box) => box.depth === 0);
  if (top.length % 2 !== 0) return `${top.length} top-level boxes`;
  for (let i = 0; i < top.length; i += 2) {
    const samples = checkFragment(bytes, top[i].start, top[i + 1].end);
    if (typeof samples === "string") return `fragment ${i / 2}: ${samples}`;
  }
  return undefined;
}

export const hlsSegmenterTarget: FuzzTargetFactory = {
  name: "hls-segmenter",
  description:
    "HlsSegmenter, ts / fmp4 / low-latency (packets, discontinuities, close → playlists and resources)",
  // A case is a whole stream (tens of packets, a playlist parsed after each): about 2,700 cases/s.
  defaultCases: 200_000,
  create: (pool) => new HlsSegmenterTarget(pool),
};
