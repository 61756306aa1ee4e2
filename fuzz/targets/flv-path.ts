/**
 * parseFlvPath, the HTTP-FLV URL parser: random URLs from hostile tokens (%-encoded separators,
 * NUL and control characters, "..", overlong UTF-8, lone surrogates, bad escapes), mutated golden
 * URLs, very long ones, and valid URLs from random stream names that must parse back to them.
 *
 * Oracle: never throws; a returned app and name are non-empty, at most 255 characters, contain no
 * "/", "\", NUL or other control character, and are not "." or ".."; a returned target rebuilt
 * into a URL parses back to itself; without "?" the query is empty.
 */
import { parseFlvPath } from "@onair/flv";
import type { FuzzRandom, RandomPool } from "../fuzz-random.js";
import { expectThat, type FuzzTarget, type FuzzTargetFactory, OracleFailure } from "../harness.js";
import { escapePart, fuzzName, mutateUrl, unsafeBecause } from "./url-parts.js";

const TOKENS = [
  "/",
  "/",
  "%",
  "%2f",
  "%2F",
  "%5c",
  "%5C",
  "%00",
  "%2e",
  "%2E",
  "..",
  ".",
  ".flv",
  ".flv",
  "?",
  "&",
  "=",
  "#",
  "\\",
  "\u0000",
  "\u0001",
  "\u001f",
  "\u007f",
  "é",
  "%c3%a9",
  "%c3",
  "%ff",
  "%e0%80%af",
  "%c0%af",
  "%c0%ae",
  "\ud800",
  "\udfff",
  "😀",
  "%f0%9f%98%80",
  "%ed%a0%80",
  "live",
  "stream",
  "a",
  " ",
  "%20",
  "+",
  ";",
  "%%",
  "%2",
  "%zz",
  "%0a",
  "%0d",
  "\n",
  "~",
  "ǅ",
  "．",
] as const;

const GOLDEN = [
  "/live/stream.flv",
  "/live/stream.flv?token=abc&x=1",
  "/app/na%20me.flv",
  "/live/%E6%B5%8B%E8%AF%95.flv",
  "/live/a.b.flv?",
  "/l/..flv",
  "/live/stream.flv.flv",
] as const;

class FlvPathTarget implements FuzzTarget {
  #url = "";
  #expected: { app: string; name: string } | undefined;

  describeInput(): string {
    return JSON.stringify(this.#url);
  }

  run(random: FuzzRandom): string | undefined {
    this.#expected = undefined;
    const roll = random.next();
    if (roll < 0.35) {
      this.#url = this.#tokens(random, 1 + random.below(12), random.chance(0.8) ? "/" : "");
    } else if (roll < 0.7) {
      this.#url = mutateUrl(random, random.pick(GOLDEN), [TOKENS], 8);
    } else if (roll < 0.71) {
      // Very long: up to 70,000 characters of one token, in the app, the name or the query.
      const long = random.pick(TOKENS).repeat(1 + random.below(70_000));
      this.#url = random.pick([`/${long}/s.flv`, `/live/${long}.flv`, `/live/s.flv?${long}`, long]);
    } else {
      const app = fuzzName(random);
      const name = fuzzName(random);
      this.#url = `/${escapePart(app)}/${escapePart(name)}.flv${random.chance(0.3) ? "?token=x%2Fy&a=1" : ""}`;
      this.#expected = { app, name };
    }
    return this.#check(this.#url);
  }

  #check(url: string): string | undefined {
    let target: ReturnType<typeof parseFlvPath>;
    try {
      target = parseFlvPath(url);
    } catch (error) {
      const failure = new OracleFailure(
        `parseFlvPath threw ${(error as Error).name}: ${(error as Error).message}`,
      );
      failure.cause = error;
      throw failure;
    }
    const expected = this.#expected;
    if (expected !== undefined) {
      const wantsRefusal = unsafeBecause(expected.app) ?? unsafeBecause(expected.name);
      expectThat(
        wantsRefusal === undefined
          ? target?.app === expected.app && target.name === expected.name
          : target === undefined,
        () =>
          `${JSON.stringify(expected)} ${wantsRefusal === undefined ? "did not parse back" : `was accepted though its name ${wantsRefusal}`}`,
      );
    }
    if (target === undefined) return "refused";
    const problem = unsafeBecause(target.app) ?? unsafeBecause(target.name);
    expectThat(
      problem === undefined,
      () => `returned ${JSON.stringify(target.app)}/${JSON.stringify(target.name)}, which ${problem}`,
    );
    const again = parseFlvPath(`/${escapePart(target.app)}/${escapePart(target.name)}.flv`);
    expectThat(
      again?.app === target.app && again.name === target.name,
      () =>
        `${JSON.stringify(target.app)}/${JSON.stringify(target.name)} does not parse back from its own URL`,
    );
    if (!url.includes("?")) expectThat(target.query.size === 0, "a query without a '?'");
    return undefined;
  }

  #tokens(random: FuzzRandom, count: number, prefix: string): string {
    let url = prefix;
    for (let i = 0; i < count; i++)
      url += random.chance(0.3) ? String.fromCharCode(random.below(0x80)) : random.pick(TOKENS);
    if (random.chance(0.5)) url += ".flv";
    return url;
  }
}

export const flvPathTarget: FuzzTargetFactory = {
  name: "flv-path",
  description: "parseFlvPath (HTTP-FLV URL → app, name, query)",
  create: (_pool: RandomPool) => new FlvPathTarget(),
};
