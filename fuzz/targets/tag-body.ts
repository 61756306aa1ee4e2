/**
 * FLV tag body parsing: parseVideoTagHeader, parseAudioTagHeader, createPacketFromTagBody and
 * parseAvcDecoderConfig on random bodies, mutated golden bodies and avcC records, and
 * structure-aware Enhanced RTMP headers (ModEx chains with 8- and 16-bit sizes, multitrack
 * signalling, known and unknown FourCCs).
 *
 * Oracle: the parsers throw only FlvError (truncated); createPacketFromTagBody never throws,
 * keeps the payload and sets the same flags as the parser (both false when it fails); a header
 * never claims more bytes than the body has; a keyframe is never a sequence header; an avcC gives
 * a NAL length size of 1..4 and a picture size that is undefined or positive integers.
 */
import type { MediaKind } from "@onair/core";
import {
  createPacketFromTagBody,
  FlvError,
  parseAudioTagHeader,
  parseAvcDecoderConfig,
  parseVideoTagHeader,
} from "@onair/flv";
import type { FuzzRandom, RandomPool } from "../fuzz-random.js";
import { expectThat, type FuzzTarget, type FuzzTargetFactory, hexOf, typedErrorCode } from "../harness.js";
import { InputBuilder } from "../input-builder.js";
import { avcDecoderConfigs, seedBodies, seedBodiesOnly } from "./flv-seeds.js";

const VIDEO_FOURCCS = ["avc1", "hvc1", "av01", "vp09", "vvc1", "xxxx"].map((t) => Buffer.from(t, "latin1"));
const AUDIO_FOURCCS = ["mp4a", ".mp3", "Opus", "fLaC", "ac-3", "ec-3", "zzzz"].map((t) =>
  Buffer.from(t, "latin1"),
);
const isFlvCode = (code: string): boolean => code.startsWith("ERR_FLV_");

type Subject = "video" | "audio" | "script" | "avcC";

class TagBodyTarget implements FuzzTarget {
  readonly #pool: RandomPool;
  readonly #input = new InputBuilder(1 << 16);
  readonly #numbers = [0, 1, 2, 5, 6, 7, 0x0f, 0x1f, 0xff, 0xffff, 0x7fffff, 0x800000, 0xffffff, 4096, 4097];
  #subject: Subject = "video";

  constructor(pool: RandomPool) {
    this.#pool = pool;
  }

  describeInput(): string {
    return `${this.#subject}: ${hexOf(this.#input.bytes)}`;
  }

  run(random: FuzzRandom): string | undefined {
    const input = this.#input.clear();
    const roll = random.next();
    if (roll < 0.15) {
      this.#subject = random.pick(["video", "audio", "avcC"] as const);
      input.random(random, this.#pool, random.length(64));
    } else if (roll < 0.55) {
      const seed = random.pick(seedBodies);
      this.#subject = seed.kind;
      input.append(seed.body);
      input.mutate(random, this.#pool, this.#numbers, seedBodiesOnly);
      // The Enhanced paths in particular: set the ExHeader bit / sound format 9.
      if (input.length > 0 && random.chance(0.3)) {
        input.buffer[0] = seed.kind === "audio" ? 0x90 | (input.buffer[0] & 0x0f) : input.buffer[0] | 0x80;
      }
    } else if (roll < 0.7) {
      this.#subject = "avcC";
      input.append(random.pick(avcDecoderConfigs));
      input.mutate(random, this.#pool, this.#numbers, avcDecoderConfigs);
    } else {
      this.#subject = random.chance(0.5) ? "video" : "audio";
      this.#enhancedHeader(random, this.#subject === "video");
      if (random.chance(0.3)) input.mutate(random, this.#pool, this.#numbers, seedBodiesOnly);
    }
    const body = input.bytes;
    return this.#subject === "avcC" ? this.#checkAvcConfig(body) : this.#checkBody(this.#subject, body);
  }

  #checkBody(kind: MediaKind, body: Buffer): string | undefined {
    const packet = createPacketFromTagBody(kind, 1234, body);
    expectThat(
      packet.payload === body && packet.kind === kind && packet.timestamp === 1234,
      "the packet changed",
    );
    if (kind === "script") return undefined;
    try {
      if (kind === "video") {
        const header = parseVideoTagHeader(body);
        expectThat(
          header.headerLength >= 1 && header.headerLength <= body.length,
          `headerLength ${header.headerLength}`,
        );
        expectThat(header.enhanced === ((body[0] & 0x80) !== 0), "enhanced is not the IsExHeader bit");
        expectThat(
          !(header.keyframe && (header.sequenceHeader || header.endOfSequence)),
          "a keyframe sequence header",
        );
        expectThat(
          Number.isInteger(header.compositionTime) && Math.abs(header.compositionTime) <= 0x800000,
          `composition time ${header.compositionTime}`,
        );
        expectThat(
          packet.keyframe === header.keyframe && packet.sequenceHeader === header.sequenceHeader,
          "createPacketFromTagBody and parseVideoTagHeader disagree",
        );
      } else {
        const header = parseAudioTagHeader(body);
        expectThat(
          header.headerLength >= 1 && header.headerLength <= body.length,
          `headerLength ${header.headerLength}`,
        );
        expectThat(header.soundFormat === body[0] >> 4, "soundFormat is not the high nibble");
        expectThat(header.enhanced === (header.soundFormat === 9), "enhanced is not sound format 9");
        expectThat(
          packet.sequenceHeader === header.sequenceHeader && !packet.keyframe,
          "createPacketFromTagBody and parseAudioTagHeader disagree",
        );
      }
    } catch (error) {
      const code = typedErrorCode(error, FlvError, isFlvCode);
      expectThat(!packet.keyframe && !packet.sequenceHeader, "flags set on a body the parser refused");
      return `${kind}:${code}`;
    }
    return undefined;
  }

  #checkAvcConfig(record: Buffer): string | undefined {
    try {
      const config = parseAvcDecoderConfig(record);
      expectThat(config.nalUnitLengthSize >= 1 && config.nalUnitLengthSize <= 4, "NAL length size");
      expectThat(
        (config.width === undefined && config.height === undefined) ||
          (Number.isSafeInteger(config.width) &&
            Number.isSafeInteger(config.height) &&
            (config.width ?? 0) > 0 &&
            (config.height ?? 0) > 0),
        () => `picture size ${config.width}x${config.height}`,
      );
    } catch (error) {
      return `avcC:${typedErrorCode(error, FlvError, isFlvCode)}`;
    }
    return undefined;
  }

  /** An Enhanced RTMP header: ModEx chain, maybe multitrack, a FourCC, then random bytes. */
  #enhancedHeader(random: FuzzRandom, video: boolean): void {
    const input = this.#input;
    const modEx = 7;
    const multitrack = video ? 6 : 5;
    let packetType = random.chance(0.3) ? modEx : random.chance(0.2) ? multitrack : random.below(16);
    input.byte(video ? 0x80 | (random.below(8) << 4) | packetType : 0x90 | packetType);
    for (let chain = 0; packetType === modEx && chain < 4; chain++) {
      const size = random.chance(0.8) ? 1 + random.below(8) : random.pick([256, 257, 1000, 65_536]);
      if (size > 256) input.byte(255).uintBE(size - 1, 2);
      else input.byte(size - 1);
      input.random(random, this.#pool, random.chance(0.9) ? size : random.below(size));
      packetType = random.chance(0.3) ? modEx : random.below(16);
      input.byte((random.below(16) << 4) | packetType);
    }
    const fourCcs = video ? VIDEO_FOURCCS : AUDIO_FOURCCS;
    if (packetType === multitrack) {
      const multitrackType = random.below(4);
      input.byte((multitrackType << 4) | random.below(16));
      for (let track = 0, tracks = 1 + random.below(3); track < tracks; track++) {
        if (multitrackType !== 2 || track === 0) input.append(random.pick(fourCcs));
        input.byte(random.below(256));
        if (multitrackType !== 0) input.uintBE(random.below(32), 3);
      }
    } else if (random.chance(0.9)) {
      input.append(random.pick(fourCcs));
    }
    input.random(random, this.#pool, random.length(40));
  }
}

export const tagBodyTarget: FuzzTargetFactory = {
  name: "tag-body",
  description: "parseVideoTagHeader, parseAudioTagHeader, createPacketFromTagBody, parseAvcDecoderConfig",
  create: (pool) => new TagBodyTarget(pool),
};
