/**
 * The HLS muxers, TsMuxer and Fmp4Muxer, fed a few media packets per case: golden FLV tag bodies
 * (AVC and HEVC sequence headers and frames, avcC without parameter sets and Annex B keyframes,
 * AAC AudioSpecificConfigs and frames, MP3, AV1/Opus/multitrack), the same mutated (NAL unit
 * lengths and record fields near their limits), frames of NAL units with lying lengths, random
 * bytes, empty bodies, and now and then flags that disagree with the body; timestamps that walk,
 * jump and wrap; fMP4 flushed at random points.
 *
 * Oracle: only HlsError is thrown (by push, flush, initSegment; configuresVideo never throws); TS
 * output is whole 188-byte packets, each starting with the sync byte; an fMP4 init segment is
 * ftyp + moov and a fragment moof + mdat whose box sizes add up and whose trun sample sizes and
 * data offsets match the mdat; memory follows the input: one push writes at most 5 × (its body and
 * the longest body before it) + 1.2 KiB of TS, the fMP4 muxer queues at most 5 × the bytes pushed
 * since its last flush, and a fragment is its samples plus 16 bytes each and 1 KiB; and the muxer
 * stays usable: after the garbage, a valid sequence header and keyframe (and AAC) still mux.
 */
import { createMediaPacket, type MediaPacket } from "@onair/core";
import { createPacketFromTagBody } from "@onair/flv";
import { Fmp4Muxer, HlsError, TsMuxer } from "@onair/hls";
import type { FuzzRandom, RandomPool } from "../fuzz-random.js";
import { expectThat, type FuzzTarget, type FuzzTargetFactory, hexOf, typedErrorCode } from "../harness.js";
import { InputBuilder } from "../input-builder.js";
import {
  hlsSeedBodies,
  hlsSeeds,
  validAacFrame,
  validAacHeader,
  validAvcHeader,
  validAvcKeyframe,
  validHevcHeader,
  validHevcKeyframe,
  validMp3Frame,
} from "./hls-seeds.js";
import { checkFragment, checkInitSegment } from "./mp4-boxes.js";

const isHlsCode = (code: string): boolean => code.startsWith("ERR_HLS_");
const TS_PACKET = 188;
/** NAL unit lengths and record fields near the limits of 1, 2 and 4-byte fields. */
const NUMBERS = [0, 1, 2, 3, 4, 5, 0x1f, 0x20, 0x7f, 0xff, 0x100, 0xffff, 0x10000, 0xffffff, 0xffffffff];

/** The first bytes of coded frames whose NAL units follow: AVC, legacy HEVC, Enhanced hvc1 (with and without CTS). */
const FRAME_HEADS = [
  Buffer.from("1701000000", "hex"),
  Buffer.from("2701000000", "hex"),
  Buffer.from("1c01000000", "hex"),
  Buffer.concat([Buffer.from([0x91]), Buffer.from("hvc1"), Buffer.from("000000", "hex")]),
  Buffer.concat([Buffer.from([0xa3]), Buffer.from("hvc1")]),
];

interface Step {
  packet: MediaPacket;
  /** fMP4: flush after it (with this end, or undefined), or not (false). */
  flush: number | undefined | false;
}

class HlsMuxTarget implements FuzzTarget {
  readonly #pool: RandomPool;
  readonly #input = new InputBuilder(1 << 15);
  #fmp4 = false;
  #steps: Step[] = [];

  constructor(pool: RandomPool) {
    this.#pool = pool;
  }

  describeInput(): string {
    const steps = this.#steps.map(
      (step) =>
        `${step.packet.kind}@${step.packet.timestamp}${step.packet.keyframe ? "K" : ""}${step.packet.sequenceHeader ? "S" : ""}:${hexOf(step.packet.payload)}${step.flush === false ? "" : ` flush(${step.flush})`}`,
    );
    return `${this.#fmp4 ? "fmp4" : "ts"}: ${steps.join(" | ")}`;
  }

  run(random: FuzzRandom): string | undefined {
    this.#fmp4 = random.chance(0.5);
    const steps: Step[] = [];
    let ts = random.chance(0.9)
      ? random.below(100_000)
      : random.pick([0, 2 ** 32 - 100, 2 ** 33 - 50, 2 ** 31]);
    // Often a valid configuration first, so that mutated frames reach the frame paths.
    if (random.chance(0.6)) {
      const hevc = random.chance(0.3);
      steps.push(this.#step("video", ts, hevc ? validHevcHeader : validAvcHeader, false));
      if (random.chance(0.7)) steps.push(this.#step("audio", ts, validAacHeader, false));
    }
    for (let i = 0, count = 1 + random.below(random.chance(0.8) ? 6 : 16); i < count; i++) {
      const roll = random.next();
      if (roll < 0.7) ts += random.below(60);
      else if (roll < 0.8) ts -= random.below(2000);
      else if (roll < 0.9) ts += random.below(2 ** 24);
      else ts = random.pick([0, 2 ** 32 - 1, 2 ** 32, 2 ** 33 - 1, 2 ** 33 + 7, ts * 2]);
      ts = Math.max(0, ts);
      steps.push(this.#randomStep(random, ts));
    }
    this.#steps = steps;
    return this.#fmp4 ? this.#runFmp4(random, steps) : this.#runTs(steps);
  }

  #step(
    kind: "video" | "audio" | "script",
    ts: number,
    body: Buffer,
    flush: number | undefined | false,
  ): Step {
    return { packet: createPacketFromTagBody(kind, ts, body), flush };
  }

  #randomStep(random: FuzzRandom, ts: number): Step {
    const input = this.#input.clear();
    const roll = random.next();
    let kind: "video" | "audio" | "script";
    if (roll < 0.3) {
      const seed = random.pick(hlsSeeds);
      kind = seed.kind;
      input.append(seed.body);
    } else if (roll < 0.7) {
      const seed = random.pick(hlsSeeds);
      kind = seed.kind;
      input.append(seed.body);
      input.mutate(random, this.#pool, NUMBERS, hlsSeedBodies);
    } else if (roll < 0.85) {
      // A coded frame of NAL units whose lengths may lie.
      kind = "video";
      input.append(random.pick(FRAME_HEADS));
      for (let n = 0, units = 1 + random.below(4); n < units; n++) {
        const size = random.pick([1, 2, 4, 4, 4]);
        const actual = random.below(40);
        const claimed = random.chance(0.6) ? actual : random.pick(NUMBERS);
        input.uintBE(claimed % 2 ** (8 * size), size);
        if (actual > 0) input.byte(random.pick([0x65, 0x41, 0x67, 0x68, 0x26, 0x02, 0x40, 0x42, 0x44, 0x09]));
        input.random(random, this.#pool, Math.max(0, actual - 1));
      }
    } else if (roll < 0.95) {
      kind = random.pick(["video", "audio"] as const);
      input.random(random, this.#pool, random.length(200));
    } else {
      kind = random.pick(["video", "audio", "script"] as const);
    }
    const body = Buffer.from(input.bytes);
    const flush = random.chance(0.25)
      ? random.chance(0.5)
        ? undefined
        : ts + random.between(-50, 100)
      : false;
    if (random.chance(0.1)) {
      // Flags that disagree with the body (a hostile or buggy upstream).
      return {
        packet: createMediaPacket(kind, ts, body, {
          keyframe: random.chance(0.5),
          sequenceHeader: random.chance(0.5),
        }),
        flush,
      };
    }
    return { packet: createPacketFromTagBody(kind, ts, body), flush };
  }

  #runTs(steps: Step[]): string | undefined {
    const muxer = new TsMuxer({ pcrDelayMs: 100 });
    let code: string | undefined;
    checkTs(muxer.startSegment(), 0, "startSegment");
    /** The longest body muxed so far: a keyframe repeats its sequence header's parameter sets. */
    let longest = 0;
    for (const { packet } of steps) {
      let out: Buffer;
      try {
        out = muxer.push(packet);
      } catch (error) {
        code ??= typedErrorCode(error, HlsError, isHlsCode);
        continue;
      }
      longest = Math.max(longest, packet.payload.length);
      checkTs(out, 5 * (packet.payload.length + longest) + 1200, "push");
    }
    checkTs(muxer.startSegment(), 0, "startSegment");
    // Still usable: a valid configuration and frames mux.
    for (const body of [validAvcHeader, validAacHeader])
      muxer.push(createPacketFromTagBody(body === validAvcHeader ? "video" : "audio", 0, body));
    for (const [kind, body] of [
      ["video", validAvcKeyframe],
      ["audio", validAacFrame],
    ] as const) {
      const out = muxer.push(createPacketFromTagBody(kind, 1000, body));
      expectThat(out.length >= TS_PACKET, `a valid ${kind} frame after the case gave ${out.length} bytes`);
      checkTs(out, 4 * TS_PACKET + 5 * (body.length + 200), "push");
    }
    const tracks = muxer.tracks;
    expectThat(
      tracks.video === 0x1b && tracks.audio === 0x0f,
      () => `tracks ${JSON.stringify(tracks)} after H.264 and AAC headers`,
    );
    return code;
  }

  #runFmp4(random: FuzzRandom, steps: Step[]): string | undefined {
    // Sometimes a tight maxPendingBytes, to reach ERR_HLS_FRAGMENT_TOO_LARGE.
    const tight = random.chance(0.2);
    const muxer = new Fmp4Muxer({ maxPendingBytes: tight ? 1 + random.below(400) : undefined });
    let code: string | undefined;
    let sinceFlush = 0;
    let pushed = 0;
    let sampleBytes = 0;
    const flush = (endMs: number | undefined): void => {
      const pendingBytes = muxer.pendingBytes;
      const pendingSamples = muxer.pendingSamples;
      const fragment = muxer.flush(endMs);
      sinceFlush = 0;
      expectThat(muxer.pendingSamples === 0 && muxer.pendingBytes === 0, "samples left queued after flush()");
      if (pendingSamples === 0) {
        expectThat(fragment.length === 0, "a fragment without samples");
        return;
      }
      expectThat(
        fragment.length <= pendingBytes + 16 * pendingSamples + 1024,
        () => `a fragment of ${fragment.length} bytes for ${pendingSamples} samples of ${pendingBytes} bytes`,
      );
      const samples = checkFragment(fragment);
      expectThat(typeof samples === "number", () => `fragment: ${samples}`);
      expectThat(
        samples === pendingSamples,
        () => `a fragment of ${samples} samples, ${pendingSamples} were queued`,
      );
      sampleBytes += pendingBytes;
    };
    for (const { packet, flush: flushAfter } of steps) {
      muxer.configuresVideo(packet); // never throws (a question)
      const versionBefore = muxer.initVersion;
      try {
        muxer.push(packet);
      } catch (error) {
        code ??= typedErrorCode(error, HlsError, isHlsCode);
      }
      sinceFlush += packet.payload.length;
      pushed += packet.payload.length;
      expectThat(
        muxer.pendingBytes <= 5 * sinceFlush + 64,
        () => `${muxer.pendingBytes} bytes queued from ${sinceFlush} bytes pushed since the last flush`,
      );
      if (muxer.initVersion !== versionBefore) {
        let init: Buffer | undefined;
        try {
          init = muxer.initSegment();
        } catch (error) {
          code ??= typedErrorCode(error, HlsError, isHlsCode);
        }
        if (init !== undefined) {
          const problem = checkInitSegment(init);
          expectThat(problem === undefined, () => `init segment: ${problem}`);
          expectThat(
            init.length <= 4096 + 4 * pushed,
            () => `an init segment of ${init.length} bytes from ${pushed} bytes pushed`,
          );
        }
      }
      if (flushAfter !== false) flush(flushAfter);
    }
    flush(undefined);
    // Still usable: a valid configuration and frames mux into a fragment.
    const hevc = random.chance(0.3);
    const mp3 = random.chance(0.3);
    const valid: MediaPacket[] = [
      createPacketFromTagBody("video", 0, hevc ? validHevcHeader : validAvcHeader),
      createPacketFromTagBody("video", 1000, hevc ? validHevcKeyframe : validAvcKeyframe),
      mp3
        ? createPacketFromTagBody("audio", 1000, validMp3Frame)
        : createPacketFromTagBody("audio", 0, validAacHeader),
      createPacketFromTagBody("audio", 1026, mp3 ? validMp3Frame : validAacFrame),
    ];
    for (const packet of valid) {
      try {
        muxer.push(packet);
      } catch (error) {
        // Only a tight maxPendingBytes may refuse a valid frame.
        const refused = typedErrorCode(error, HlsError, isHlsCode);
        expectThat(tight && refused === "ERR_HLS_FRAGMENT_TOO_LARGE", `a valid packet refused: ${refused}`);
      }
    }
    const init = muxer.initSegment();
    expectThat(
      init !== undefined && checkInitSegment(init) === undefined,
      "no valid init segment after valid headers",
    );
    const tracks = muxer.tracks;
    expectThat(
      tracks.video === (hevc ? "hvc1" : "avc1") && tracks.audio === (mp3 ? "mp3" : "mp4a"),
      () => `tracks ${JSON.stringify(tracks)} after valid headers`,
    );
    const want = mp3 ? 3 : 2;
    expectThat(
      tight || muxer.pendingSamples === want,
      () => `${muxer.pendingSamples} samples queued from ${want} valid frames`,
    );
    flush(1040);
    expectThat(tight || sampleBytes > 0, "nothing muxed");
    return code;
  }
}

/** Whole TS packets with sync bytes, at most `bound` bytes (0: two, PAT and PMT). */
function checkTs(out: Buffer, bound: number, what: string): void {
  expectThat(out.length % TS_PACKET === 0, () => `${what} gave ${out.length} bytes, not whole TS packets`);
  for (let at = 0; at < out.length; at += TS_PACKET) {
    expectThat(out[at] === 0x47, () => `${what}: no sync byte at ${at}`);
  }
  const limit = bound === 0 ? 2 * TS_PACKET : bound;
  expectThat(out.length <= limit, () => `${what} gave ${out.length} bytes, over ${limit}`);
}

export const hlsMuxTarget: FuzzTargetFactory = {
  name: "hls-mux",
  description: "TsMuxer and Fmp4Muxer (media packets → MPEG-TS, fMP4 init segments and fragments)",
  create: (pool) => new HlsMuxTarget(pool),
};
