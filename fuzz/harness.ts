/**
 * The fuzz harness: runs one target for a number of cases (or seconds), each case from its own
 * reseeded stream so that `--seed S --case N` replays it alone, and tallies what the parser said.
 *
 * A target's `run` builds its input, feeds the parser and checks the oracle. It returns the code
 * of the typed error the parser threw (or undefined when it parsed cleanly) and throws on any
 * oracle failure: an untyped exception, a broken memory bound, a round trip that did not hold.
 */
import { OnairError } from "@onair/core";
import { FuzzRandom, RandomPool } from "./fuzz-random.js";

export interface FuzzTarget {
  /** Runs one case. Returns the typed error code the parser threw, or undefined; throws on an oracle failure. */
  run(random: FuzzRandom): string | undefined;
  /** The current case's input, for the failure report (hex, or text for URLs). */
  describeInput(): string;
}

export interface FuzzTargetFactory {
  /** What `--parser` takes. */
  name: string;
  /** What it fuzzes, for the report. */
  description: string;
  /** Cases `pnpm fuzz` runs without --cases or --seconds, when not 1,000,000 (a target whose cases are whole streams). */
  defaultCases?: number;
  create(pool: RandomPool): FuzzTarget;
}

/** An oracle did not hold. */
export class OracleFailure extends Error {
  override name = "OracleFailure";
}

/** Fails the case when `condition` is false. */
export function expectThat(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new OracleFailure(typeof message === "string" ? message : message());
}

/**
 * The code of `error` when it is the parser's own typed error (an instance of `errorClass`, with
 * a code passing `codeOk`); anything else is a bug, reported as an OracleFailure that names it.
 */
export function typedErrorCode(
  error: unknown,
  errorClass: abstract new (...args: never[]) => OnairError,
  codeOk: (code: string) => boolean = () => true,
): string {
  if (error instanceof errorClass && typeof error.code === "string" && codeOk(error.code)) return error.code;
  if (error instanceof OracleFailure) throw error;
  const described =
    error instanceof Error
      ? `${error.name}${error instanceof OnairError ? ` ${error.code}` : ""}: ${error.message}`
      : String(error);
  const failure = new OracleFailure(`unexpected ${described}`);
  failure.cause = error;
  throw failure;
}

export interface FuzzFailure {
  caseIndex: number;
  message: string;
  /** The input, hex (or text), cut to a readable length. */
  input: string;
  inputLength: number;
  stack: string | undefined;
}

export interface FuzzReport {
  name: string;
  seed: number;
  firstCase: number;
  cases: number;
  seconds: number;
  /** Cases that parsed without a typed error. */
  clean: number;
  /** Typed error code → cases that ended in it. */
  errorCodes: Map<string, number>;
  /** The slowest case, to see a parser that nearly hangs. */
  slowestCase: { caseIndex: number; milliseconds: number };
  failure: FuzzFailure | undefined;
}

export interface RunOptions {
  seed: number;
  /** How many cases (default: until `seconds` runs out). */
  cases?: number;
  /** Stop after this many seconds even if `cases` are not all run. */
  seconds?: number;
  /** Start at this case index (to replay one case: firstCase N, cases 1). */
  firstCase?: number;
  /** A case slower than this fails the run: the parser must terminate promptly. Default 5000 ms. */
  caseTimeLimitMs?: number;
  /** Print the whole input of a failing case, not the first 4 KiB of hex. */
  fullInput?: boolean;
}

const MAX_INPUT_CHARS = 2048;

export function runTarget(factory: FuzzTargetFactory, options: RunOptions): FuzzReport {
  const seed = options.seed >>> 0;
  const firstCase = options.firstCase ?? 0;
  const cases = options.cases ?? Number.POSITIVE_INFINITY;
  const timeLimit = options.caseTimeLimitMs ?? 5000;
  const target = factory.create(new RandomPool(seed));
  const random = new FuzzRandom();
  const report: FuzzReport = {
    name: factory.name,
    seed,
    firstCase,
    cases: 0,
    seconds: 0,
    clean: 0,
    errorCodes: new Map(),
    slowestCase: { caseIndex: firstCase, milliseconds: 0 },
    failure: undefined,
  };
  // Capturing a stack is most of what a thrown typed error costs; a failing case is run again
  // with stacks on, for the report.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const started = performance.now();
  const deadline =
    options.seconds === undefined ? Number.POSITIVE_INFINITY : started + options.seconds * 1000;
  let caseStarted = started;
  try {
    for (let index = firstCase; index - firstCase < cases; index++) {
      if ((index & 255) === 0 && performance.now() > deadline) break;
      random.reseed(seed, index);
      try {
        const code = target.run(random);
        if (code === undefined) report.clean += 1;
        else report.errorCodes.set(code, (report.errorCodes.get(code) ?? 0) + 1);
        const now = performance.now();
        const took = now - caseStarted;
        caseStarted = now;
        if (took > report.slowestCase.milliseconds)
          report.slowestCase = { caseIndex: index, milliseconds: took };
        if (took > timeLimit)
          throw new OracleFailure(`case took ${Math.round(took)} ms (limit ${timeLimit} ms)`);
      } catch (caught) {
        report.cases += 1;
        Error.stackTraceLimit = stackTraceLimit;
        const error = rerun(target, random, seed, index) ?? caught;
        const input = target.describeInput();
        report.failure = {
          caseIndex: index,
          message: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
          input:
            options.fullInput || input.length <= MAX_INPUT_CHARS
              ? input
              : `${input.slice(0, MAX_INPUT_CHARS)}…`,
          inputLength: input.length,
          stack: error instanceof Error ? describeStack(error) : undefined,
        };
        break;
      }
      report.cases += 1;
    }
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

/** Run case `index` again (stacks on now); its error, or undefined if it passed this time. */
function rerun(target: FuzzTarget, random: FuzzRandom, seed: number, index: number): unknown {
  random.reseed(seed, index);
  try {
    target.run(random);
  } catch (error) {
    return error;
  }
  return undefined;
}

/** The stack of `error` and of its cause, the untyped exception an oracle caught. */
function describeStack(error: Error): string | undefined {
  const cause = error.cause instanceof Error ? `\ncaused by ${error.cause.stack}` : "";
  return `${error.stack}${cause}`;
}

/** One line per target: cases, time, rate, error codes. */
export function formatReport(report: FuzzReport): string {
  const rate = report.seconds > 0 ? Math.round(report.cases / report.seconds) : report.cases;
  const codes = [...report.errorCodes.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([code, count]) => `${code} ${count}`)
    .join(", ");
  return [
    `${report.name.padEnd(10)} ${String(report.cases).padStart(9)} cases  ${report.seconds.toFixed(1).padStart(6)} s  ${String(rate).padStart(7)} cases/s`,
    `  clean ${report.clean}; ${report.errorCodes.size} distinct error codes: ${codes || "none"}`,
    `  slowest case ${report.slowestCase.caseIndex}: ${report.slowestCase.milliseconds.toFixed(1)} ms`,
  ].join("\n");
}

/** The failure, with the command that replays it. */
export function formatFailure(report: FuzzReport): string {
  const failure = report.failure;
  if (failure === undefined) return "";
  return [
    `FAILED ${report.name}, seed ${report.seed}, case ${failure.caseIndex}: ${failure.message}`,
    `  replay: pnpm fuzz --parser ${report.name} --seed ${report.seed} --case ${failure.caseIndex}`,
    `  input (${failure.inputLength} chars): ${failure.input}`,
    failure.stack === undefined ? "" : `  ${failure.stack.replaceAll("\n", "\n  ")}`,
  ].join("\n");
}

/** Hex of a buffer, for failure reports. */
export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}
