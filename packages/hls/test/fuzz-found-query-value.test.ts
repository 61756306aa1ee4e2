/**
 * Found by `pnpm fuzz --parser hls-path` (seed 1, case 106): queryValue's fast path (no "%" or "+")
 * returned a value with a lone surrogate as it was, where URLSearchParams, which reads the query as
 * Unicode scalar values, gives U+FFFD — so it did not answer as `URLSearchParams(search).get(key)`.
 */
import { describe, expect, it } from "vitest";
import { queryValue } from "../src/transport/hls-path.js";

describe("queryValue on a query with a lone surrogate", () => {
  it("answers as URLSearchParams.get does", () => {
    for (const [query, key] of [
      ["token=Infinity0x10;-11.5\ud800", "token"],
      ["_HLS_msn=1\udfff&_HLS_part=2", "_HLS_msn"],
      ["\ud800=1&a=2", "\ufffd"],
      ["a=\ud83d\ude00&b=\udc00", "b"],
      ["a=\ud83d\ude00", "a"], // a well-formed pair is left alone by both
    ]) {
      expect(queryValue(query, key), JSON.stringify([query, key])).toBe(new URLSearchParams(query).get(key));
    }
  });
});
