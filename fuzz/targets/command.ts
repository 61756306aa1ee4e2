/**
 * The RTMP command layer: decodeCommand and decodeData on random messages (types 20, 17, 18, 15
 * and others; bodies from the golden AMF vectors, captured ffmpeg commands, mutations and random
 * bytes), and commandMessage / dataMessage → decode round trips on random values.
 *
 * Oracle: only RtmpProtocolError with an AMF or command code; a decoded command has a string
 * name, a number transaction id and an array of arguments.
 */
import { isDeepStrictEqual } from "node:util";
import {
  type AmfValue,
  commandMessage,
  dataMessage,
  decodeCommand,
  decodeData,
  encodeAmf0,
  MessageType,
  type RtmpCommand,
  RtmpErrorCode,
  type RtmpMessage,
  RtmpProtocolError,
} from "@onair/rtmp";
import { amf0Vectors, amf3Vectors } from "../../packages/rtmp/test/amf-vectors.js";
import type { FuzzRandom, RandomPool } from "../fuzz-random.js";
import { expectThat, type FuzzTarget, type FuzzTargetFactory, hexOf, typedErrorCode } from "../harness.js";
import { InputBuilder } from "../input-builder.js";
import { chooseLimits, expectedAfterDecoding, isAmfCode, LimitChecker, randomValue } from "./amf.js";

const TYPES = [
  MessageType.commandAmf0,
  MessageType.commandAmf3,
  MessageType.dataAmf0,
  MessageType.dataAmf3,
] as const;
const NAMES = [
  "connect",
  "createStream",
  "publish",
  "play",
  "deleteStream",
  "_result",
  "_error",
  "onStatus",
  "@setDataFrame",
  "",
];
const isCommandCode = (code: string): boolean => isAmfCode(code) || code === RtmpErrorCode.command;

/** Command bodies as peers send them: name, transaction id, command object, arguments. */
function commandBodies(): Buffer[] {
  const objects = amf0Vectors.filter((v) => v.values.length === 1).map((v) => v.bytes);
  const bodies = [
    encodeAmf0([
      "connect",
      1,
      { app: "live", tcUrl: "rtmp://localhost/live", flashVer: "FMLE/3.0", objectEncoding: 0 },
    ]),
    encodeAmf0(["publish", 5, null, "stream", "live"]),
    encodeAmf0(["play", 4, null, "stream", -2000, -1, true]),
    encodeAmf0(["createStream", 2, null]),
    encodeAmf0(["@setDataFrame", "onMetaData", { width: 1280, height: 720, framerate: 30 }]),
  ];
  for (const name of ["connect", "onStatus"]) {
    for (const object of objects.slice(0, 12)) bodies.push(Buffer.concat([encodeAmf0([name, 0]), object]));
  }
  return [
    ...bodies,
    ...amf0Vectors.map((v) => v.bytes),
    ...amf3Vectors.map((v) => Buffer.concat([Buffer.of(0x11), v.bytes])),
  ];
}

class CommandTarget implements FuzzTarget {
  readonly #pool: RandomPool;
  readonly #input = new InputBuilder(1 << 18);
  readonly #bodies = commandBodies();
  readonly #checker = new LimitChecker();
  readonly #numbers = [0xffff, 0xffffffff, 0x7fffffff, 0x10000];
  readonly #message: RtmpMessage = {
    chunkStreamId: 3,
    typeId: 20,
    messageStreamId: 0,
    timestamp: 0,
    payload: Buffer.alloc(0),
  };
  #roundTrip: RtmpCommand | AmfValue[] | undefined;

  constructor(pool: RandomPool) {
    this.#pool = pool;
  }

  describeInput(): string {
    return `type ${this.#message.typeId}${this.#roundTrip === undefined ? "" : ", round trip"}: ${hexOf(this.#message.payload)}`;
  }

  run(random: FuzzRandom): string | undefined {
    this.#roundTrip = undefined;
    const message = this.#message;
    message.typeId = random.chance(0.95) ? random.pick(TYPES) : random.below(256);
    const limits = chooseLimits(random);
    const input = this.#input.clear();
    const amf3Form = message.typeId === MessageType.commandAmf3 || message.typeId === MessageType.dataAmf3;
    // Types 17 and 15 start with a format byte (0).
    if (amf3Form && random.chance(0.9)) input.byte(random.chance(0.9) ? 0 : random.below(256));
    const roll = random.next();
    if (roll < 0.15) {
      input.random(random, this.#pool, random.length(300));
    } else if (roll < 0.8) {
      input.append(random.pick(this.#bodies));
      if (random.chance(0.3)) input.append(random.pick(this.#bodies));
      input.mutate(random, this.#pool, this.#numbers, this.#bodies);
    } else {
      this.#roundTripMessage(random, amf3Form);
      return this.#checkRoundTrip();
    }
    message.payload = input.bytes;

    const isCommand =
      message.typeId === MessageType.commandAmf0 || message.typeId === MessageType.commandAmf3;
    try {
      if (isCommand || random.chance(0.3)) {
        const command = decodeCommand(message, limits);
        expectThat(
          typeof command.name === "string" &&
            typeof command.transactionId === "number" &&
            Array.isArray(command.args),
          "decodeCommand returned a malformed command",
        );
        this.#checker.check([command.commandObject, ...command.args], limits);
      } else {
        this.#checker.check(decodeData(message, limits), limits);
      }
    } catch (error) {
      return typedErrorCode(error, RtmpProtocolError, isCommandCode);
    }
    return undefined;
  }

  /** A command or data message from random values, in the message and in `#roundTrip`. */
  #roundTripMessage(random: FuzzRandom, amf3Form: boolean): void {
    const args = Array.from({ length: random.below(4) }, () => randomValue(random, 0, false));
    let built: RtmpMessage;
    const isCommand = random.chance(0.6);
    if (isCommand) {
      const command: RtmpCommand = {
        name: random.pick(NAMES),
        transactionId: random.pick([0, 1, 2.5, 2 ** 40]),
        commandObject: random.chance(0.5) ? null : randomValue(random, 1, false),
        args,
      };
      built = commandMessage(command, random.below(3));
      this.#roundTrip = command;
    } else {
      built = dataMessage(args, random.below(3));
      this.#roundTrip = args;
    }
    // Not through the input buffer: long strings may not fit it.
    if (isCommand) this.#message.typeId = amf3Form ? MessageType.commandAmf3 : MessageType.commandAmf0;
    else this.#message.typeId = amf3Form ? MessageType.dataAmf3 : MessageType.dataAmf0;
    this.#message.payload = amf3Form ? Buffer.concat([Buffer.of(0), built.payload]) : built.payload;
  }

  #checkRoundTrip(): undefined {
    const expected = this.#roundTrip;
    const message = this.#message;
    if (Array.isArray(expected)) {
      const values = decodeData(message);
      expectThat(
        isDeepStrictEqual(values, expected.map(expectedAfterDecoding)),
        "dataMessage → decodeData changed the values",
      );
    } else if (expected !== undefined) {
      const command = decodeCommand(message);
      const want: RtmpCommand = {
        name: expected.name,
        transactionId: expected.transactionId,
        // A missing command object decodes as null.
        commandObject:
          expected.commandObject === undefined ? null : expectedAfterDecoding(expected.commandObject),
        args: expected.args.map(expectedAfterDecoding),
      };
      expectThat(isDeepStrictEqual(command, want), "commandMessage → decodeCommand changed the command");
    }
    return undefined;
  }
}

export const commandTarget: FuzzTargetFactory = {
  name: "command",
  description: "decodeCommand / decodeData (and commandMessage / dataMessage round trips)",
  create: (pool) => new CommandTarget(pool),
};
