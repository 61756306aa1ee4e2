import { describe, expect, it } from "vitest";
import {
  AmfEcmaArray,
  type AmfValue,
  decodeAmf3,
  encodeAmf3,
  RtmpErrorCode,
  RtmpProtocolError,
} from "../src/index.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/#[^\n]*/g, "").replace(/\s+/g, ""), "hex");

/** Golden AMF3 vectors (AMF3 spec section 3). */
const vectors: { name: string; value: AmfValue; bytes: Buffer; decodeOnly?: boolean }[] = [
  { name: "undefined", value: undefined, bytes: hex("00") },
  { name: "null", value: null, bytes: hex("01") },
  { name: "false", value: false, bytes: hex("02") },
  { name: "true", value: true, bytes: hex("03") },
  { name: "integer 0", value: 0, bytes: hex("04 00") },
  { name: "integer 127 (1-byte U29)", value: 127, bytes: hex("04 7f") },
  { name: "integer 128 (2-byte U29)", value: 128, bytes: hex("04 8100") },
  { name: "integer 16384 (3-byte U29)", value: 16384, bytes: hex("04 818000") },
  { name: "integer 2^28-1 (4-byte U29)", value: 0x0fffffff, bytes: hex("04 bfffffff") },
  { name: "integer -1", value: -1, bytes: hex("04 ffffffff") },
  { name: "integer -2^28", value: -0x10000000, bytes: hex("04 c0808000") },
  { name: "2^28 as double", value: 0x10000000, bytes: hex("05 41b0000000000000") },
  { name: "1.5 as double", value: 1.5, bytes: hex("05 3ff8000000000000") },
  { name: "string", value: "abc", bytes: hex("06 07 616263") },
  { name: "empty string", value: "", bytes: hex("06 01") },
  { name: "date", value: new Date(0), bytes: hex("08 01 0000000000000000") },
  { name: "dense array", value: [1, "a"], bytes: hex("09 05 01 04 01 06 03 61") },
  { name: "anonymous dynamic object", value: { a: 1 }, bytes: hex("0a 0b 01 03 61 04 01 01") },
  { name: "byte array", value: Buffer.from([9, 8, 7]), bytes: hex("0c 07 090807") },
  {
    name: "sealed typed object",
    value: { x: 1, y: 2 },
    bytes: hex("0a 23 07 506f73   03 78 03 79   04 01 04 02"), // traits: 2 sealed, class "Pos", members x,y
    decodeOnly: true,
  },
  { name: "xml decodes as string", value: "<a/>", bytes: hex("0b 09 3c612f3e"), decodeOnly: true },
  { name: "vector of int", value: [1, -1], bytes: hex("0d 05 00 00000001 ffffffff"), decodeOnly: true },
];

describe("AMF3 golden vectors", () => {
  for (const v of vectors) {
    it(`decodes ${v.name}`, () => {
      expect(decodeAmf3(v.bytes)).toEqual([v.value]);
    });
    if (!v.decodeOnly) {
      it(`encodes ${v.name}`, () => {
        expect(encodeAmf3([v.value]).toString("hex")).toBe(v.bytes.toString("hex"));
      });
    }
  }

  it("resolves string, object and trait references", () => {
    // [ {n:"ab"}, {n:"ab"} ] with the second object using trait ref 0 and string ref 1 ("ab"):
    // strings table: "n" (0), "ab" (1).
    const bytes = hex(`09 05 01
      0a 13 01 03 6e  06 05 6162   # object, traits inline: 1 sealed member "n", value "ab"
      0a 01 06 02                  # object, traits reference 0, value: string reference 1`);
    const [array] = decodeAmf3(bytes) as [AmfValue[]];
    expect(array[0]).toEqual({ n: "ab" });
    expect(array[1]).toEqual({ n: "ab" });
    // An object reference: [x, ref 1] where reference 1 is the inner object.
    const [outer] = decodeAmf3(hex("09 05 01  0a 0b 01 03 61 04 01 01  0a 02")) as [AmfValue[]];
    expect(outer[1]).toBe(outer[0]);
  });

  it("round-trips nested values, including associative arrays", () => {
    const value: AmfValue[] = [
      { list: [1, 2.5, "x", null, undefined, true], nested: { deep: [new Date(7), Buffer.from("hi")] } },
      -5,
      1e20,
    ];
    expect(decodeAmf3(encodeAmf3(value))).toEqual(value);
    expect(decodeAmf3(encodeAmf3([new AmfEcmaArray({ a: 1, b: "c" })]))).toEqual([{ a: 1, b: "c" }]);
  });
});

describe("AMF3 bad input", () => {
  const code = (bytes: Buffer): string => {
    try {
      decodeAmf3(bytes);
    } catch (error) {
      expect(error).toBeInstanceOf(RtmpProtocolError);
      return (error as RtmpProtocolError).code;
    }
    return "no error";
  };

  it("fails with typed errors", () => {
    expect(code(hex("04 ff"))).toBe(RtmpErrorCode.amfTruncated);
    expect(code(hex("06 00"))).toBe(RtmpErrorCode.amfReference);
    expect(code(hex("0a 00"))).toBe(RtmpErrorCode.amfReference);
    expect(code(hex("0a 01"))).toBe(RtmpErrorCode.amfReference);
    expect(code(hex("0a 07 01"))).toBe(RtmpErrorCode.amfType);
    expect(code(hex("11 03 00"))).toBe(RtmpErrorCode.amfType);
    expect(code(hex("09 bfffffff 01"))).toBe(RtmpErrorCode.amfLength);
    expect(code(hex("0c 7f 00"))).toBe(RtmpErrorCode.amfTruncated);
    expect(code(hex("12"))).toBe(RtmpErrorCode.amfType);
  });

  it("stops 100k-deep arrays and objects at the depth limit", () => {
    const depth = 100_000;
    const arrays = Buffer.concat([Buffer.alloc(depth * 3, hex("09 03 01")), hex("01")]);
    const objects = Buffer.concat([Buffer.alloc(depth * 5, hex("0a 0b 01 03 61")), hex("01")]);
    expect(code(arrays)).toBe(RtmpErrorCode.amfDepth);
    expect(code(objects)).toBe(RtmpErrorCode.amfDepth);
  });
});
