/**
 * A seconds-long slice of `pnpm fuzz` for every `pnpm test`: each parser under a fixed seed (the
 * same cases every run, with checks that the generators still reach the parser's error paths and
 * its clean path) and under a seed from the clock (new cases every run; the seed is in the test
 * name and printed, so a failure replays with `pnpm fuzz --parser NAME --seed S --case N`).
 * Then the harness itself: a planted bug is caught, reported with its case, and replays.
 */
import { OnairError } from "@onair/core";
import { RtmpProtocolError } from "@onair/rtmp";
import { describe, expect, it } from "vitest";
import { FuzzRandom } from "./fuzz-random.js";
import {
  type FuzzReport,
  type FuzzTargetFactory,
  formatFailure,
  formatReport,
  OracleFailure,
  runTarget,
  typedErrorCode,
} from "./harness.js";
import { fuzzTargets } from "./targets/index.js";

const FIXED_SEED = 0x0a1b2c3d;
const CLOCK_SEED = (Date.now() % 2 ** 32) >>> 0;

/** Cases per parser under the fixed seed (3 to 4 s in all on an idle 2-core machine, about 10 s on a busy one); the clock seed runs a quarter. */
const FIXED_CASES: Record<string, number> = {
  handshake: 6000,
  chunk: 15_000,
  amf0: 20_000,
  amf3: 20_000,
  command: 20_000,
  flv: 6000,
  "tag-body": 40_000,
  "flv-path": 20_000,
  "hls-path": 30_000,
  "hls-mux": 15_000,
  "hls-segmenter": 3000,
};

/** Error codes the fixed seed must reach at least this many distinct ones of: the generators still get deep. */
const MIN_DISTINCT_CODES: Record<string, number> = {
  handshake: 1,
  chunk: 6,
  amf0: 5,
  amf3: 5,
  command: 5,
  flv: 4,
  "tag-body": 3,
  "flv-path": 1,
  "hls-path": 2,
  "hls-mux": 4,
  "hls-segmenter": 3,
};

/** A bound so a slow machine stops a run short rather than the suite timing out. */
const SECONDS_CAP = 8;

function expectNoFailure(report: FuzzReport): void {
  console.log(`${formatReport(report)}\n  seed ${report.seed}`);
  if (report.failure !== undefined) expect.fail(formatFailure(report));
}

describe(`fuzz slice, fixed seed ${FIXED_SEED}`, () => {
  it("covers every parser", () => {
    expect(Object.keys(FIXED_CASES).sort()).toEqual(fuzzTargets.map((t) => t.name).sort());
  });

  for (const target of fuzzTargets) {
    it(`${target.name}: ${FIXED_CASES[target.name]} cases`, () => {
      const report = runTarget(target, {
        seed: FIXED_SEED,
        cases: FIXED_CASES[target.name],
        seconds: SECONDS_CAP,
      });
      expectNoFailure(report);
      expect(report.cases).toBeGreaterThan(FIXED_CASES[target.name] / 10);
      expect(report.clean).toBeGreaterThan(0);
      expect(report.errorCodes.size).toBeGreaterThanOrEqual(MIN_DISTINCT_CODES[target.name]);
    });
  }
});

describe(`fuzz slice, clock seed ${CLOCK_SEED}`, () => {
  for (const target of fuzzTargets) {
    it(`${target.name}: ${Math.round(FIXED_CASES[target.name] / 4)} cases (replay: pnpm fuzz --parser ${target.name} --seed ${CLOCK_SEED} --case N)`, () => {
      const report = runTarget(target, {
        seed: CLOCK_SEED,
        cases: Math.round(FIXED_CASES[target.name] / 4),
        seconds: SECONDS_CAP,
      });
      expectNoFailure(report);
    });
  }
});

describe("the harness", () => {
  /** A parser with a bug: a TypeError when the first byte of its input is 0x2a and the second odd. */
  const planted: FuzzTargetFactory = {
    name: "planted",
    description: "a parser with a planted bug",
    create: (pool) => {
      let input = Buffer.alloc(0);
      return {
        run(random: FuzzRandom) {
          const from = random.below(pool.bytes.length - 8);
          input = pool.bytes.subarray(from, from + 8);
          try {
            if (input[0] === 0x2a && input[1] % 2 === 1)
              throw new TypeError("Cannot read properties of undefined");
            if (input[0] < 0x80) throw new RtmpProtocolError("ERR_RTMP_AMF_TYPE", "bad marker");
          } catch (error) {
            return typedErrorCode(error, RtmpProtocolError);
          }
          return undefined;
        },
        describeInput: () => input.toString("hex"),
      };
    },
  };

  it("catches a planted bug, names the case and its input, and the case replays alone", () => {
    const report = runTarget(planted, { seed: 7, cases: 100_000 });
    const failure = report.failure;
    expect(failure).toBeDefined();
    expect(failure?.message).toContain("unexpected TypeError");
    expect(failure?.input.slice(0, 2)).toBe("2a");
    expect(report.cases).toBe((failure?.caseIndex ?? 0) + 1);
    expect(formatFailure(report)).toContain(`--seed 7 --case ${failure?.caseIndex}`);
    expect(failure?.stack).toContain("TypeError");

    const replay = runTarget(planted, { seed: 7, firstCase: failure?.caseIndex, cases: 1 });
    expect(replay.failure?.input).toBe(failure?.input);
    const next = runTarget(planted, { seed: 7, firstCase: (failure?.caseIndex ?? 0) + 1, cases: 1 });
    expect(next.failure).toBeUndefined();
  });

  it("accepts only the parser's own typed error", () => {
    expect(typedErrorCode(new RtmpProtocolError("ERR_RTMP_COMMAND", "x"), RtmpProtocolError)).toBe(
      "ERR_RTMP_COMMAND",
    );
    expect(() => typedErrorCode(new RangeError("offset out of range"), RtmpProtocolError)).toThrow(
      OracleFailure,
    );
    expect(() => typedErrorCode(new OnairError("ERR_OTHER", "another layer's"), RtmpProtocolError)).toThrow(
      OracleFailure,
    );
    expect(() =>
      typedErrorCode(new RtmpProtocolError("ERR_RTMP_COMMAND", "x"), RtmpProtocolError, (code) =>
        code.startsWith("ERR_RTMP_AMF"),
      ),
    ).toThrow(OracleFailure);
  });

  it("gives each case its own stream, the same every time", () => {
    const random = new FuzzRandom();
    const draw = (seed: number, index: number) => {
      random.reseed(seed, index);
      return [random.uint32(), random.uint32()];
    };
    expect(draw(1, 5)).toEqual(draw(1, 5));
    expect(draw(1, 5)).not.toEqual(draw(1, 6));
    expect(draw(1, 5)).not.toEqual(draw(2, 5));
  });
});
