import { describe, expect, it } from "vitest";
import { AmfEcmaArray, type AmfLimits, type AmfObject, type AmfValue } from "../src/codec/amf.js";
import { decodeAmf3, encodeAmf3 } from "../src/codec/amf3.js";
import { RtmpErrorCode, RtmpProtocolError } from "../src/errors.js";
import { amf3Vectors, hex } from "./amf-vectors.js";

/** The error code `run` throws, or "no error"; anything but an RtmpProtocolError fails the test. */
function errorCode(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RtmpProtocolError);
    return (error as RtmpProtocolError).code;
  }
  return "no error";
}

describe("AMF3 golden vectors", () => {
  for (const vector of amf3Vectors) {
    it(`decodes ${vector.name}`, () => {
      expect(decodeAmf3(vector.bytes)).toEqual(vector.decoded ?? vector.values);
    });
    if (vector.encodes !== false) {
      it(`encodes ${vector.name}`, () => {
        expect(encodeAmf3(vector.values).toString("hex")).toBe(vector.bytes.toString("hex"));
      });
    }
  }
});

describe("AMF3 references", () => {
  it("resolves an object reference to the same object", () => {
    const [outer] = decodeAmf3(hex("09 05 01  0a 0b 01 03 61 04 01 01  0a 02")) as [AmfValue[]];
    expect(outer[1]).toBe(outer[0]);
  });

  it("resolves a date reference to the same Date", () => {
    const [first, second] = decodeAmf3(hex("08 01 408f400000000000  08 00"));
    expect(second).toBe(first);
  });

  it("resolves a reference from inside an array to the array itself", () => {
    const [dense] = decodeAmf3(hex("09 03 01  09 00")) as [AmfValue[]];
    expect(dense[0]).toBe(dense);
    // The same with an associative part: {self: itself}.
    const [associative] = decodeAmf3(hex("09 01  09 73656c66 09 00  01")) as [AmfObject];
    expect(associative.self).toBe(associative);
  });

  it("resolves a reference from inside an object to the object itself", () => {
    const [object] = decodeAmf3(hex("0a 0b 01  09 73656c66 0a 00  01")) as [AmfObject];
    expect(object.self).toBe(object);
  });

  it("shares traits between objects through a trait reference, dynamic members included", () => {
    // Traits 0: class "P", dynamic, sealed member "a". Second object: traits reference 0.
    const bytes = hex(`09 05 01
      0a 1b 03 50 03 61  04 01  03 62 04 02 01   # {a: 1, b: 2}
      0a 01              04 03  01               # {a: 3}`);
    expect(decodeAmf3(bytes)).toEqual([[{ a: 1, b: 2 }, { a: 3 }]]);
  });

  it("keeps ByteArrays as copies, not views of the input", () => {
    const input = hex("0c 07 090807");
    const [bytes] = decodeAmf3(input) as [Buffer];
    input[2] = 0;
    expect(bytes).toEqual(Buffer.from([9, 8, 7]));
  });
});

describe("AMF3 round trips", () => {
  it("round-trips nested values", () => {
    const values: AmfValue[] = [
      {
        list: [1, 2.5, "x", null, undefined, true, false, -0, Number.NaN, 2 ** 40, -(2 ** 28)],
        nested: { deep: [new Date(7), Buffer.from("hi"), ""] },
        ключ: "значение",
      },
      -5,
      1e20,
      "é".repeat(40_000),
    ];
    expect(decodeAmf3(encodeAmf3(values))).toEqual(values);
  });

  it("round-trips an AmfEcmaArray as a plain object (an empty one as an empty array)", () => {
    expect(decodeAmf3(encodeAmf3([new AmfEcmaArray({ a: 1, b: "c" })]))).toEqual([{ a: 1, b: "c" }]);
    expect(decodeAmf3(encodeAmf3([new AmfEcmaArray({})]))).toEqual([[]]);
  });

  it("writes every U29 size at its boundaries", () => {
    const edges = [0, 0x7f, 0x80, 0x3fff, 0x4000, 0x1fffff, 0x200000, 0x0fffffff, -1, -0x80, -0x10000000];
    expect(decodeAmf3(encodeAmf3(edges))).toEqual(edges);
  });

  it("encodes into a buffer of exactly the encoded size", () => {
    // array marker, U29 6|1 = 1 byte, associative end, 3 integers of 1, 2 and 3 bytes
    expect(encodeAmf3([[1, 200, 20_000]]).length).toBe(1 + 1 + 1 + 2 + 3 + 4);
  });
});

describe("AMF3 bad input", () => {
  const cases: { name: string; bytes: Buffer; limits?: AmfLimits; code: string }[] = [
    { name: "U29 cut short", bytes: hex("04 ff"), code: RtmpErrorCode.amfTruncated },
    { name: "double cut short", bytes: hex("05 3ff8"), code: RtmpErrorCode.amfTruncated },
    { name: "string longer than the buffer", bytes: hex("06 07 61"), code: RtmpErrorCode.amfTruncated },
    { name: "string of 2^28 - 1 bytes", bytes: hex("06 ffffffff"), code: RtmpErrorCode.amfLength },
    { name: "string reference never seen", bytes: hex("06 00"), code: RtmpErrorCode.amfReference },
    { name: "object reference never seen", bytes: hex("0a 00"), code: RtmpErrorCode.amfReference },
    { name: "date reference never seen", bytes: hex("08 02"), code: RtmpErrorCode.amfReference },
    { name: "array reference never seen", bytes: hex("09 00"), code: RtmpErrorCode.amfReference },
    { name: "trait reference never seen", bytes: hex("0a 01"), code: RtmpErrorCode.amfReference },
    { name: "externalizable object", bytes: hex("0a 07 01"), code: RtmpErrorCode.amfType },
    { name: "dictionary", bytes: hex("11 03 00"), code: RtmpErrorCode.amfType },
    { name: "unknown marker", bytes: hex("12"), code: RtmpErrorCode.amfType },
    { name: "dense array over the item limit", bytes: hex("09 bfffffff 01"), code: RtmpErrorCode.amfLength },
    {
      name: "dense array longer than the buffer",
      bytes: hex("09 8101 01 01"),
      code: RtmpErrorCode.amfTruncated,
    },
    {
      name: "associative part over the item limit",
      bytes: hex("09 01  03 61 01  03 62 01  03 63 01  01"),
      limits: { maxItems: 2 },
      code: RtmpErrorCode.amfLength,
    },
    {
      name: "dynamic members over the item limit",
      bytes: hex("0a 0b 01  03 61 01  03 62 01  01"),
      limits: { maxItems: 1 },
      code: RtmpErrorCode.amfLength,
    },
    {
      name: "sealed members over the item limit",
      bytes: hex("0a bfffff03 01"),
      code: RtmpErrorCode.amfLength,
    },
    {
      name: "sealed members longer than the buffer",
      bytes: hex("0a 8103 01 03 61"),
      code: RtmpErrorCode.amfTruncated,
    },
    { name: "byte array longer than the buffer", bytes: hex("0c 7f 00"), code: RtmpErrorCode.amfTruncated },
    {
      name: "byte array over the string limit",
      bytes: hex("0c 09 00010203"),
      limits: { maxStringLength: 3 },
      code: RtmpErrorCode.amfLength,
    },
    {
      name: "vector of double longer than the buffer",
      bytes: hex("0f 05 00 3ff8000000000000"),
      code: RtmpErrorCode.amfTruncated,
    },
    {
      name: "vector of int over the item limit",
      bytes: hex("0d 07 00 00000001 00000002 00000003"),
      limits: { maxItems: 2 },
      code: RtmpErrorCode.amfLength,
    },
    {
      name: "nesting past maxDepth",
      bytes: Buffer.concat([Buffer.alloc(4 * 3, hex("09 03 01")), hex("01")]),
      limits: { maxDepth: 3 },
      code: RtmpErrorCode.amfDepth,
    },
    {
      name: "object vectors count toward the depth",
      bytes: Buffer.concat([Buffer.alloc(4 * 4, hex("10 03 00 01")), hex("01")]),
      limits: { maxDepth: 3 },
      code: RtmpErrorCode.amfDepth,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.code}`, () => {
      expect(errorCode(() => decodeAmf3(c.bytes, c.limits))).toBe(c.code);
    });
  }
});

describe("AMF3 encoder refusals", () => {
  it("refuses a cycle with amfDepth instead of overflowing the stack", () => {
    const object: AmfObject = {};
    object.self = { list: [object] };
    expect(errorCode(() => encodeAmf3([object]))).toBe(RtmpErrorCode.amfDepth);
  });

  it("encodes 64 levels and refuses 65", () => {
    const nest = (levels: number): AmfValue => (levels === 0 ? 1 : { a: nest(levels - 1) });
    expect(decodeAmf3(encodeAmf3([nest(64)]))).toEqual([nest(64)]);
    expect(errorCode(() => encodeAmf3([nest(65)]))).toBe(RtmpErrorCode.amfDepth);
  });
});
