/**
 * `pnpm fuzz`: every parser for 1,000,000 cases (or as told), one report line each, exit code 1 on
 * any oracle failure. Options:
 *
 *   --parser NAME[,NAME]   only these (see the list printed by --help)
 *   --cases N              cases per parser (default 1000000; a parser's own defaultCases when it
 *                          has one: hls-segmenter, whose cases are whole streams)
 *   --seconds S            stop each parser after S seconds (with --cases: whichever comes first)
 *   --seed S               run seed (default: from the clock, printed)
 *   --case N               replay case N alone (with --seed and --parser): the same input and splits
 *   --full-input           print a failing input whole, however long
 */
import { parseArgs } from "node:util";
import { type FuzzTargetFactory, formatFailure, formatReport, runTarget } from "./harness.js";
import { fuzzTargets } from "./targets/index.js";

const { values } = parseArgs({
  options: {
    parser: { type: "string" },
    cases: { type: "string" },
    seconds: { type: "string" },
    seed: { type: "string" },
    case: { type: "string" },
    "full-input": { type: "boolean" },
    help: { type: "boolean" },
  },
});

function usage(): string {
  const names = fuzzTargets.map((t) => `  ${t.name.padEnd(10)} ${t.description}`).join("\n");
  return `pnpm fuzz [--parser NAME[,NAME]] [--cases N] [--seconds S] [--seed S] [--case N] [--full-input]\n\nparsers:\n${names}`;
}

function integer(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text.replaceAll("_", ""));
  if (!Number.isInteger(value) || value < 0) {
    console.error(`--${name} must be a non-negative integer, got ${text}`);
    process.exit(2);
  }
  return value;
}

if (values.help) {
  console.log(usage());
  process.exit(0);
}

const wanted = values.parser?.split(",").map((name) => name.trim());
const targets = wanted === undefined ? fuzzTargets : fuzzTargets.filter((t) => wanted.includes(t.name));
const unknown = wanted?.filter((name) => !fuzzTargets.some((t) => t.name === name)) ?? [];
if (unknown.length > 0 || targets.length === 0) {
  console.error(`unknown parser ${unknown.join(", ")}\n\n${usage()}`);
  process.exit(2);
}

const seed = integer(values.seed, "seed") ?? (Date.now() % 2 ** 32) >>> 0;
const replayCase = integer(values.case, "case");
const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
if (seconds !== undefined && !(seconds > 0)) {
  console.error(`--seconds must be a positive number, got ${values.seconds}`);
  process.exit(2);
}
const givenCases = integer(values.cases, "cases");
/** Cases for `target`: as told, else its default (1,000,000 unless it says otherwise), none with --seconds alone. */
const casesFor = (target: FuzzTargetFactory): number | undefined =>
  replayCase !== undefined
    ? 1
    : (givenCases ?? (seconds === undefined ? (target.defaultCases ?? 1_000_000) : undefined));
const cases = replayCase !== undefined ? 1 : (givenCases ?? (seconds === undefined ? 1_000_000 : undefined));

const ownDefaults = targets
  .filter((t) => t.defaultCases !== undefined && casesFor(t) === t.defaultCases)
  .map((t) => `${t.name} ${t.defaultCases}`);
console.log(
  `fuzz seed ${seed}: ${replayCase === undefined ? `${cases ?? "unbounded"} cases` : `case ${replayCase}`}${seconds === undefined ? "" : `, at most ${seconds} s`} per parser${ownDefaults.length > 0 ? ` (${ownDefaults.join(", ")})` : ""}`,
);
let failed = 0;
const started = performance.now();
for (const target of targets) {
  const report = runTarget(target, {
    seed,
    cases: casesFor(target),
    seconds,
    firstCase: replayCase ?? 0,
    fullInput: values["full-input"] === true,
  });
  console.log(formatReport(report));
  if (report.failure !== undefined) {
    failed += 1;
    console.log(formatFailure(report));
  }
}
console.log(
  `${targets.length} parsers in ${((performance.now() - started) / 1000).toFixed(1)} s, seed ${seed}: ${failed === 0 ? "no failures" : `${failed} FAILED`}`,
);
process.exitCode = failed === 0 ? 0 : 1;
