import { describe, expect, it } from "vitest";
import { BAD_HLS_PATH, parseHlsPath, parseHlsUrl, queryValue } from "../src/transport/hls-path.js";

const plain = (url: string) => {
  const target = parseHlsPath(url);
  return target === undefined || target === BAD_HLS_PATH ? target : { ...target, query: [...target.query] };
};

describe("parseHlsPath / parseHlsUrl", () => {
  it("reads playlists and files, with their query", () => {
    expect(plain("/live/a.m3u8")).toEqual({ kind: "playlist", app: "live", name: "a", query: [] });
    expect(plain("/live/a.M3U8?_HLS_msn=3&_HLS_part=1")).toEqual({
      kind: "playlist",
      app: "live",
      name: "a",
      query: [
        ["_HLS_msn", "3"],
        ["_HLS_part", "1"],
      ],
    });
    expect(plain("/live/a/x-1.ts?token=a/b")).toEqual({
      kind: "file",
      app: "live",
      name: "a",
      file: "x-1.ts",
      query: [["token", "a/b"]],
    });
    expect(plain("/l%69ve/caf%C3%A9.m3u8")).toEqual({
      kind: "playlist",
      app: "live",
      name: "café",
      query: [],
    });
    expect(parseHlsUrl("/live/a/p3.m4s?x")).toEqual({
      kind: "file",
      app: "live",
      name: "a",
      file: "p3.m4s",
      search: "x",
    });
  });

  it("leaves other URLs alone and refuses unsafe parts", () => {
    for (const url of [
      "",
      "/",
      "live/a.m3u8",
      "/a.m3u8",
      "/live/a.ts",
      "/a/b/c/d.ts",
      "/live/a/b.txt",
      "/live/a/b",
    ]) {
      expect(parseHlsPath(url), url).toBeUndefined();
      expect(parseHlsUrl(url), url).toBeUndefined();
    }
    for (const url of [
      "/live/.m3u8",
      "/../a.m3u8",
      "/live/%2e%2e/x.ts",
      "/live/a/%zz.ts",
      "/l/a%2Fb.m3u8",
      "//a.m3u8",
    ]) {
      expect(parseHlsPath(url), url).toBe(BAD_HLS_PATH);
      expect(parseHlsUrl(url), url).toBe(BAD_HLS_PATH);
    }
  });
});

describe("queryValue", () => {
  const keys = ["_HLS_msn", "_HLS_part", "a", ""];
  it("answers as URLSearchParams.get does", () => {
    const queries = [
      "",
      "?",
      "?_HLS_msn=4",
      "_HLS_msn=4&_HLS_part=2",
      "_HLS_part=2&_HLS_msn=4&_HLS_msn=5",
      "_HLS_msn",
      "_HLS_msn=",
      "&&_HLS_msn=1=2&",
      "=1&a",
      "%5FHLS_msn=7",
      "_HLS_msn=1+2",
      "a=%zz",
      "_HLS_msnx=1&_HLS_ms=2",
    ];
    for (const query of queries) {
      for (const key of keys)
        expect(queryValue(query, key), `${query} ${key}`).toBe(new URLSearchParams(query).get(key));
    }
  });

  it("agrees with URLSearchParams on random queries", () => {
    const alphabet = ["_HLS_msn", "_HLS_part", "a", "=", "&", "?", "1", "%", "+", "%41", "x"];
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 20_000; i++) {
      let query = "";
      for (let j = next(8); j > 0; j--) query += alphabet[next(alphabet.length)];
      for (const key of keys) {
        const expected = new URLSearchParams(query).get(key);
        if (queryValue(query, key) !== expected)
          expect(queryValue(query, key), `${query} ${key}`).toBe(expected);
      }
    }
  });
});
