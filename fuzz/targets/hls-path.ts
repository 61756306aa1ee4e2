/**
 * The HLS URL parser (parseHlsUrl, parseHlsPath) and queryValue: random URLs from hostile tokens
 * (%-encoded separators, NUL and control characters, "..", overlong UTF-8, lone surrogates, bad
 * escapes, "??", delivery directives with junk, repeated parameters), mutated golden URLs, very long
 * ones, and valid URLs from random app, stream and file names that must parse back to them.
 *
 * Oracle: neither parser throws; each answers undefined (not an HLS URL), "bad" (BAD_HLS_PATH) or
 * a target whose app, name and file are non-empty, at most 255 characters, not "." or "..", with no
 * "/", "\", NUL or other control character; a playlist has no file and a path ending in ".m3u8", a
 * file a served extension; `search` is what follows the first "?"; parseHlsPath says what
 * parseHlsUrl says, its query being URLSearchParams(search); a target rebuilt into a URL parses back
 * to itself; and queryValue(search, key) equals new URLSearchParams(search).get(key) for the
 * directive keys, a key of the query and a random one (a differential oracle).
 */

import {
  BAD_HLS_PATH,
  HLS_FILE_EXTENSIONS,
  parseHlsPath,
  parseHlsUrl,
  queryValue,
} from "../../packages/hls/src/transport/hls-path.js";
import type { FuzzRandom, RandomPool } from "../fuzz-random.js";
import { expectThat, type FuzzTarget, type FuzzTargetFactory, OracleFailure } from "../harness.js";
import { escapePart, fuzzName, mutateUrl, unsafeBecause } from "./url-parts.js";

const PATH_TOKENS = [
  "/",
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
  ".m3u8",
  ".m3u8",
  ".M3U8",
  ".ts",
  ".m4s",
  ".mp4",
  ".aac",
  ".cmfv",
  ".txt",
  ".",
  "?",
  "??",
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
  "\n",
  "~",
  "．",
] as const;

const QUERY_TOKENS = [
  "_HLS_msn=",
  "_HLS_part=",
  "_HLS_skip=YES",
  "_HLS_msn",
  "_HLS_part",
  "_hls_msn=",
  "_HLS_msn%3D",
  "%5FHLS_msn=",
  "&",
  "&",
  "&&",
  "=",
  "==",
  "?",
  "??",
  "0",
  "1",
  "7",
  "42",
  "-1",
  "+1",
  "1e3",
  "0x10",
  " 1",
  "1 ",
  "99999999999999999999",
  "4294967296",
  "Infinity",
  "NaN",
  "1.5",
  "%31",
  "%",
  "%zz",
  "%2",
  "%00",
  "+",
  "token=",
  "abc",
  "a",
  "\ud800",
  "\udfff",
  "😀",
  "é",
  "#",
  ";",
  "/",
] as const;

const GOLDEN = [
  "/live/stream.m3u8",
  "/live/stream.m3u8?_HLS_msn=12&_HLS_part=3",
  "/live/stream.m3u8?_HLS_msn=12&_HLS_part=3&_HLS_skip=YES&token=abc",
  "/live/stream/lq9x0k2-12.ts",
  "/live/stream/lq9x0k2-p31.m4s?token=a%2Fb",
  "/live/stream/lq9x0k2-i0.mp4",
  "/app/na%20me/seg.cmfv",
  "/live/%E6%B5%8B%E8%AF%95.m3u8?_HLS_msn=1",
  "/l/..m3u8",
  "/live/a.b.m3u8?",
  "/live/s.m3u8??_HLS_msn=1",
] as const;

const EXTENSIONS = [...HLS_FILE_EXTENSIONS, "TS", "M4S"];
const LONE_SURROGATE = /[\ud800-\udfff]/u;
const DIRECTIVE_KEYS = ["_HLS_msn", "_HLS_part", "_HLS_skip", ""] as const;

function extensionOf(file: string): string {
  const dot = file.lastIndexOf(".");
  return dot === -1 ? "" : file.slice(dot + 1).toLowerCase();
}

type Expected = { app: string; name: string; file: string };

class HlsPathTarget implements FuzzTarget {
  #url = "";
  #expected: Expected | undefined;

  describeInput(): string {
    return JSON.stringify(this.#url);
  }

  run(random: FuzzRandom): string | undefined {
    this.#expected = undefined;
    const roll = random.next();
    if (roll < 0.3) {
      this.#url = this.#pathTokens(random, 1 + random.below(12));
      if (random.chance(0.5)) this.#url += `?${this.#query(random)}`;
    } else if (roll < 0.6) {
      this.#url = mutateUrl(random, random.pick(GOLDEN), [PATH_TOKENS, QUERY_TOKENS], 12);
    } else if (roll < 0.61) {
      // Very long: up to 70,000 characters of one token, in the app, the name, the file or the query.
      const long = random
        .pick(random.chance(0.5) ? PATH_TOKENS : QUERY_TOKENS)
        .repeat(1 + random.below(70_000));
      this.#url = random.pick([
        `/${long}/s.m3u8`,
        `/live/${long}.m3u8`,
        `/live/s/${long}.ts`,
        `/live/s.m3u8?${long}`,
        `/live/s.m3u8?_HLS_msn=${long}`,
        long,
      ]);
    } else {
      const app = fuzzName(random);
      const name = fuzzName(random);
      const playlist = random.chance(0.5);
      const file = playlist ? "" : `${fuzzName(random)}.${random.pick(EXTENSIONS)}`;
      const path = playlist
        ? `/${escapePart(app)}/${escapePart(name)}.m3u8`
        : `/${escapePart(app)}/${escapePart(name)}/${escapePart(file)}`;
      this.#url = random.chance(0.5) ? `${path}?${this.#query(random)}` : path;
      this.#expected = { app, name, file };
    }
    return this.#check(random, this.#url);
  }

  #check(random: FuzzRandom, url: string): string | undefined {
    let target: ReturnType<typeof parseHlsUrl>;
    let full: ReturnType<typeof parseHlsPath>;
    try {
      target = parseHlsUrl(url);
      full = parseHlsPath(url);
    } catch (error) {
      const failure = new OracleFailure(
        `the parser threw ${(error as Error).name}: ${(error as Error).message}`,
      );
      failure.cause = error;
      throw failure;
    }
    const queryAt = url.indexOf("?");
    const search = queryAt === -1 ? "" : url.slice(queryAt + 1);
    this.#checkQuery(random, search);

    const expected = this.#expected;
    if (expected !== undefined) {
      const refusal =
        unsafeBecause(expected.app) ??
        unsafeBecause(expected.name) ??
        (expected.file === "" ? undefined : unsafeBecause(expected.file));
      if (refusal === undefined) {
        expectThat(
          typeof target === "object" &&
            target.app === expected.app &&
            target.name === expected.name &&
            target.file === expected.file &&
            target.search === search,
          () => `${JSON.stringify(expected)} did not parse back: ${JSON.stringify(target)}`,
        );
      } else {
        expectThat(
          target === BAD_HLS_PATH,
          () => `accepted though a part ${refusal}: ${JSON.stringify(target)}`,
        );
      }
    }

    if (target === undefined || target === BAD_HLS_PATH) {
      expectThat(
        full === target,
        () => `parseHlsPath said ${JSON.stringify(full)}, parseHlsUrl ${String(target)}`,
      );
      return target === undefined ? "not-hls" : "bad";
    }
    const problem =
      unsafeBecause(target.app) ??
      unsafeBecause(target.name) ??
      (target.kind === "file" ? unsafeBecause(target.file) : undefined);
    expectThat(problem === undefined, () => `returned ${JSON.stringify(target)}, a part of which ${problem}`);
    expectThat(
      target.search === search,
      () => `search ${JSON.stringify(target.search)}, not what follows the "?"`,
    );
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    if (target.kind === "playlist") {
      expectThat(
        target.file === "" && path.toLowerCase().endsWith(".m3u8"),
        "a playlist that is not NAME.m3u8",
      );
    } else {
      expectThat(
        HLS_FILE_EXTENSIONS.has(extensionOf(target.file)),
        `a file with extension ${extensionOf(target.file)}`,
      );
    }
    expectThat(
      typeof full === "object" &&
        full.kind === target.kind &&
        full.app === target.app &&
        full.name === target.name &&
        (full.kind === "playlist" || full.file === target.file) &&
        full.query.toString() === new URLSearchParams(search).toString(),
      () => `parseHlsPath and parseHlsUrl disagree: ${JSON.stringify(full)} / ${JSON.stringify(target)}`,
    );
    // A round trip: the parts as a URL parse back to themselves.
    const rebuilt =
      target.kind === "playlist"
        ? `/${escapePart(target.app)}/${escapePart(target.name)}.m3u8`
        : `/${escapePart(target.app)}/${escapePart(target.name)}/${escapePart(target.file)}`;
    const again = parseHlsUrl(rebuilt);
    expectThat(
      typeof again === "object" &&
        again.kind === target.kind &&
        again.app === target.app &&
        again.name === target.name &&
        again.file === target.file,
      () => `${rebuilt} (rebuilt) parses to ${JSON.stringify(again)}`,
    );
    return undefined;
  }

  /** queryValue against URLSearchParams.get: the directive keys, a key of the query, a random one. */
  #checkQuery(random: FuzzRandom, search: string): void {
    const params = new URLSearchParams(search);
    const check = (key: string): void => {
      const got = queryValue(search, key);
      const want = params.get(key);
      expectThat(
        got === want,
        () =>
          `queryValue(${JSON.stringify(search)}, ${JSON.stringify(key)}) = ${JSON.stringify(got)}, URLSearchParams says ${JSON.stringify(want)}`,
      );
    };
    for (const key of DIRECTIVE_KEYS) check(key);
    if (search.length > 0) {
      // A key as it appears in the text (the part before "=" of a random "&"-separated field).
      const fields = search.length > 4096 ? [search.slice(0, 64)] : search.split("&");
      const field = random.pick(fields);
      const equals = field.indexOf("=");
      check(equals === -1 ? field : field.slice(0, equals));
    }
    // The key is the caller's constant, never from the network: a well-formed string.
    const key = random.pick(QUERY_TOKENS);
    if (!LONE_SURROGATE.test(key)) check(key);
  }

  #pathTokens(random: FuzzRandom, count: number): string {
    let url = random.chance(0.85) ? "/" : "";
    for (let i = 0; i < count; i++)
      url += random.chance(0.25) ? String.fromCharCode(random.below(0x80)) : random.pick(PATH_TOKENS);
    if (random.chance(0.4)) url += random.pick([".m3u8", ".ts", ".m4s", ".mp4"]);
    return url;
  }

  #query(random: FuzzRandom): string {
    let query = "";
    for (let i = 0, count = random.below(10); i < count; i++)
      query += random.chance(0.15) ? String.fromCharCode(random.below(0x80)) : random.pick(QUERY_TOKENS);
    return query;
  }
}

export const hlsPathTarget: FuzzTargetFactory = {
  name: "hls-path",
  description: "parseHlsUrl, parseHlsPath, queryValue (HLS URL → app, name, file; query)",
  create: (_pool: RandomPool) => new HlsPathTarget(),
};
