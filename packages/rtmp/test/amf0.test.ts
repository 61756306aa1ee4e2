import { describe, expect, it } from "vitest";
import { AmfEcmaArray, type AmfLimits, type AmfObject, type AmfValue } from "../src/codec/amf.js";
import { decodeAmf0, encodeAmf0 } from "../src/codec/amf0.js";
import { RtmpErrorCode, RtmpProtocolError } from "../src/errors.js";
import { amf0Vectors, hex } from "./amf-vectors.js";

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

describe("AMF0 golden vectors", () => {
  for (const vector of amf0Vectors) {
    it(`decodes ${vector.name}`, () => {
      expect(decodeAmf0(vector.bytes)).toEqual(vector.decoded ?? vector.values);
    });
    if (vector.encodes !== false) {
      it(`encodes ${vector.name}`, () => {
        expect(encodeAmf0(vector.values).toString("hex")).toBe(vector.bytes.toString("hex"));
      });
    }
  }
});

describe("AMF0 decoding", () => {
  it("resolves a reference to the earlier object itself", () => {
    const [array] = decodeAmf0(hex("0a 00000002  03 0001 61 00 3ff0000000000000 0000 09  07 0001")) as [
      AmfValue[],
    ];
    expect(array[1]).toBe(array[0]);
  });

  it("resolves a reference to an object still being decoded (a cycle)", () => {
    // {self: reference 0}
    const [object] = decodeAmf0(hex("03  0004 73656c66 07 0000  0000 09")) as [AmfObject];
    expect(object.self).toBe(object);
  });

  it("counts ECMA arrays, typed objects and strict arrays as references, not scalars", () => {
    // [ "s", ECMA {}, typed {}, ref 1 (the ECMA array), ref 2 (the typed object) ]: reference 0 is the outer array.
    const bytes = hex(`0a 00000005  02 0001 73
      08 00000000 0000 09
      10 0001 43 0000 09
      07 0001  07 0002`);
    const [array] = decodeAmf0(bytes) as [AmfValue[]];
    expect(array[3]).toBe(array[1]);
    expect(array[4]).toBe(array[2]);
  });

  it("gives each avmplus switch fresh AMF3 reference tables", () => {
    // The second switch refers to AMF3 string 0, which only the first switch's table has.
    const code = errorCode(() => decodeAmf0(hex("11 06 05 6162  11 06 00")));
    expect(code).toBe(RtmpErrorCode.amfReference);
  });

  it("keeps a key named __proto__ as data, not as the prototype", () => {
    const bytes = hex("03  0009 5f5f70726f746f5f5f 03 0001 78 01 01 0000 09  0000 09");
    const [object] = decodeAmf0(bytes) as [AmfObject];
    expect(Object.getPrototypeOf(object)).toBe(Object.prototype);
    expect(Object.hasOwn(object, "__proto__")).toBe(true);
    expect(object.x).toBeUndefined();
  });

  it("decodes long strings of any length up to the limit", () => {
    const text = "é".repeat(40_000); // 80 000 UTF-8 bytes
    const bytes = encodeAmf0([text]);
    expect(bytes.subarray(0, 5)).toEqual(hex("0c 00013880"));
    expect(decodeAmf0(bytes)).toEqual([text]);
    expect(errorCode(() => decodeAmf0(bytes, { maxStringLength: 79_999 }))).toBe(RtmpErrorCode.amfLength);
  });

  it("decodes dates, including ones outside the representable range", () => {
    const [date] = decodeAmf0(encodeAmf0([new Date(Date.UTC(2024, 1, 29, 12))])) as [Date];
    expect(date.toISOString()).toBe("2024-02-29T12:00:00.000Z");
    const [invalid] = decodeAmf0(hex("0b 7ff0000000000000 0000")) as [Date]; // +Infinity ms
    expect(Number.isNaN(invalid.getTime())).toBe(true);
  });
});

describe("AMF0 round trips", () => {
  it("round-trips nested values", () => {
    const values: AmfValue[] = [
      "onStatus",
      0,
      null,
      {
        level: "status",
        code: "NetStream.Play.Start",
        list: [1, [2, { deep: [true, null, undefined, "", Number.NaN, -0, Infinity] }]],
        when: new Date(5),
        bytes: Buffer.from("hi"),
        "": "empty key",
        ключ: "значение",
      },
    ];
    expect(decodeAmf0(encodeAmf0(values))).toEqual(values);
  });

  it("round-trips an ECMA array as a plain object", () => {
    const entries = { duration: 12.5, stereo: true, encoder: "onair" };
    expect(decodeAmf0(encodeAmf0([new AmfEcmaArray(entries)]))).toEqual([entries]);
  });

  it("encodes nothing as an empty buffer", () => {
    expect(encodeAmf0([])).toEqual(Buffer.alloc(0));
    expect(decodeAmf0(Buffer.alloc(0))).toEqual([]);
  });

  it("encodes into a buffer of exactly the encoded size", () => {
    const bytes = encodeAmf0(["x".repeat(70_000), { a: [1, 2, 3] }]);
    expect(bytes.length).toBe(5 + 70_000 + 1 + 2 + 1 + 1 + 4 + 3 * 9 + 3);
  });
});

describe("AMF0 bad input", () => {
  const cases: { name: string; bytes: Buffer; limits?: AmfLimits; code: string }[] = [
    { name: "number cut short", bytes: hex("00 3ff0"), code: RtmpErrorCode.amfTruncated },
    { name: "boolean without a value", bytes: hex("01"), code: RtmpErrorCode.amfTruncated },
    { name: "string longer than the buffer", bytes: hex("02 0010 6162"), code: RtmpErrorCode.amfTruncated },
    { name: "long string of 4 GiB", bytes: hex("0c ffffffff 61"), code: RtmpErrorCode.amfLength },
    {
      name: "long string longer than the buffer",
      bytes: hex("0c 00000100 61"),
      code: RtmpErrorCode.amfTruncated,
    },
    { name: "object without an end", bytes: hex("03 0001 61"), code: RtmpErrorCode.amfTruncated },
    { name: "object key cut short", bytes: hex("03 00"), code: RtmpErrorCode.amfTruncated },
    { name: "strict array over the item limit", bytes: hex("0a ffffffff"), code: RtmpErrorCode.amfLength },
    {
      name: "strict array longer than the buffer",
      bytes: hex("0a 00001000 05"),
      code: RtmpErrorCode.amfTruncated,
    },
    {
      name: "object over the item limit",
      bytes: hex("03  0001 61 05  0001 62 05  0001 63 05  0000 09"),
      limits: { maxItems: 2 },
      code: RtmpErrorCode.amfLength,
    },
    {
      name: "ECMA array over the item limit",
      bytes: hex("08 00000001  0001 61 05  0001 62 05  0000 09"),
      limits: { maxItems: 1 },
      code: RtmpErrorCode.amfLength,
    },
    {
      name: "string over the string limit",
      bytes: hex("02 0003 616263"),
      limits: { maxStringLength: 2 },
      code: RtmpErrorCode.amfLength,
    },
    { name: "date cut short", bytes: hex("0b 0000000000000000 00"), code: RtmpErrorCode.amfTruncated },
    { name: "movie clip marker", bytes: hex("04"), code: RtmpErrorCode.amfType },
    { name: "record set marker", bytes: hex("0e"), code: RtmpErrorCode.amfType },
    { name: "object end outside an object", bytes: hex("09"), code: RtmpErrorCode.amfType },
    { name: "unknown marker", bytes: hex("12"), code: RtmpErrorCode.amfType },
    { name: "marker 0xff", bytes: hex("ff"), code: RtmpErrorCode.amfType },
    { name: "reference before any object", bytes: hex("07 0000"), code: RtmpErrorCode.amfReference },
    {
      name: "reference past the objects seen",
      bytes: hex("0a 00000001 07 0001"),
      code: RtmpErrorCode.amfReference,
    },
    { name: "reference cut short", bytes: hex("07 00"), code: RtmpErrorCode.amfTruncated },
    { name: "AMF3 dictionary behind a switch", bytes: hex("11 11 03 00"), code: RtmpErrorCode.amfType },
    { name: "switch with nothing after it", bytes: hex("11"), code: RtmpErrorCode.amfTruncated },
    {
      name: "nesting past maxDepth",
      bytes: Buffer.concat([Buffer.alloc(6 * 5, hex("0a 00000001")), hex("05")]),
      limits: { maxDepth: 5 },
      code: RtmpErrorCode.amfDepth,
    },
    {
      name: "AMF3 nesting behind a switch counts toward the same depth",
      bytes: Buffer.concat([hex("0a 00000001 11"), Buffer.alloc(5 * 3, hex("09 03 01")), hex("01")]),
      limits: { maxDepth: 5 },
      code: RtmpErrorCode.amfDepth,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.code}`, () => {
      expect(errorCode(() => decodeAmf0(c.bytes, c.limits))).toBe(c.code);
    });
  }

  it("accepts nesting exactly at maxDepth", () => {
    const bytes = Buffer.concat([Buffer.alloc(5 * 5, hex("0a 00000001")), hex("05")]);
    expect(errorCode(() => decodeAmf0(bytes, { maxDepth: 5 }))).toBe("no error");
  });
});

describe("AMF0 encoder refusals", () => {
  it("refuses a cycle with amfDepth instead of overflowing the stack", () => {
    const object: AmfObject = {};
    object.self = object;
    expect(errorCode(() => encodeAmf0([object]))).toBe(RtmpErrorCode.amfDepth);
    const array: AmfValue[] = [];
    array.push(array);
    expect(errorCode(() => encodeAmf0([array]))).toBe(RtmpErrorCode.amfDepth);
  });

  it("encodes 64 levels and refuses 65", () => {
    const nest = (levels: number): AmfValue => (levels === 0 ? 1 : [nest(levels - 1)]);
    expect(decodeAmf0(encodeAmf0([nest(64)]))).toEqual([nest(64)]);
    expect(errorCode(() => encodeAmf0([nest(65)]))).toBe(RtmpErrorCode.amfDepth);
  });

  it("refuses an object key over 65535 bytes", () => {
    expect(errorCode(() => encodeAmf0([{ ["k".repeat(65_536)]: 1 }]))).toBe(RtmpErrorCode.amfLength);
  });
});
