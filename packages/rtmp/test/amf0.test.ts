import { describe, expect, it } from "vitest";
import {
  AmfEcmaArray,
  type AmfValue,
  decodeAmf0,
  encodeAmf0,
  RtmpErrorCode,
  RtmpProtocolError,
} from "../src/index.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/#[^\n]*/g, "").replace(/\s+/g, ""), "hex");

/** Golden AMF0 vectors (AMF0 spec section 2): each decodes to `value` and `value` encodes to `bytes`. */
const vectors: { name: string; value: AmfValue; bytes: Buffer; decodeOnly?: boolean }[] = [
  { name: "number 1", value: 1, bytes: hex("00 3ff0000000000000") },
  { name: "number -0.5", value: -0.5, bytes: hex("00 bfe0000000000000") },
  { name: "boolean true", value: true, bytes: hex("01 01") },
  { name: "boolean false", value: false, bytes: hex("01 00") },
  { name: "string", value: "connect", bytes: hex("02 0007 636f6e6e656374") },
  { name: "empty string", value: "", bytes: hex("02 0000") },
  { name: "utf-8 string", value: "é", bytes: hex("02 0002 c3a9") },
  { name: "null", value: null, bytes: hex("05") },
  { name: "undefined", value: undefined, bytes: hex("06") },
  {
    name: "object",
    value: { app: "live", n: 2 },
    bytes: hex(`03
      0003 617070  02 0004 6c697665   # app: "live"
      0001 6e      00 4000000000000000 # n: 2
      0000 09                         # object end`),
  },
  {
    name: "ECMA array decodes as an object",
    value: { duration: 0 },
    bytes: hex("08 00000001 0008 6475726174696f6e 00 0000000000000000 0000 09"),
    decodeOnly: true,
  },
  { name: "strict array", value: [1, "a"], bytes: hex("0a 00000002 00 3ff0000000000000 02 0001 61") },
  { name: "date", value: new Date(1_000_000), bytes: hex("0b 412e848000000000 0000") },
  {
    name: "xml document decodes as a string",
    value: "<a/>",
    bytes: hex("0f 00000004 3c612f3e"),
    decodeOnly: true,
  },
  {
    name: "typed object decodes as a plain object",
    value: { x: true },
    bytes: hex("10 0001 43 0001 78 01 01 0000 09"),
    decodeOnly: true,
  },
  { name: "unsupported marker decodes as undefined", value: undefined, bytes: hex("0d"), decodeOnly: true },
  { name: "switch to AMF3: integer 5", value: 5, bytes: hex("11 04 05"), decodeOnly: true },
  {
    name: "Buffer goes through the AMF3 switch as a ByteArray",
    value: Buffer.from([1, 2]),
    bytes: hex("11 0c 05 0102"),
  },
];

describe("AMF0 golden vectors", () => {
  for (const v of vectors) {
    it(`decodes ${v.name}`, () => {
      expect(decodeAmf0(v.bytes)).toEqual([v.value]);
    });
    if (!v.decodeOnly) {
      it(`encodes ${v.name}`, () => {
        expect(encodeAmf0([v.value]).toString("hex")).toBe(v.bytes.toString("hex"));
      });
    }
  }

  it("encodes an ECMA array", () => {
    expect(encodeAmf0([new AmfEcmaArray({ duration: 0 })])).toEqual(
      hex("08 00000001 0008 6475726174696f6e 00 0000000000000000 0000 09"),
    );
  });

  it("decodes ffmpeg's connect command (captured from ffmpeg 5.1)", () => {
    const body = encodeAmf0([
      "connect",
      1,
      {
        app: "live",
        flashVer: "FMLE/3.0 (compatible; Lavf59.27.100)",
        tcUrl: "rtmp://127.0.0.1:1935/live",
        fpad: false,
        capabilities: 15,
        audioCodecs: 4071,
        videoCodecs: 252,
        videoFunction: 1,
      },
    ]);
    expect(body.subarray(0, 20)).toEqual(hex("02 0007 636f6e6e656374  00 3ff0000000000000  03"));
    const [name, tx, object] = decodeAmf0(body);
    expect(name).toBe("connect");
    expect(tx).toBe(1);
    expect(object).toMatchObject({ app: "live", tcUrl: "rtmp://127.0.0.1:1935/live", videoCodecs: 252 });
  });

  it("encodes strings over 65535 bytes as long strings", () => {
    const long = "x".repeat(70_000);
    const bytes = encodeAmf0([long]);
    expect(bytes[0]).toBe(0x0c);
    expect(bytes.readUInt32BE(1)).toBe(70_000);
    expect(decodeAmf0(bytes)).toEqual([long]);
  });

  it("resolves references to earlier objects", () => {
    // [ {a:1}, ref 1 ] : the strict array is reference 0, the object reference 1.
    const bytes = hex("0a 00000002 03 0001 61 00 3ff0000000000000 0000 09 07 0001");
    const [array] = decodeAmf0(bytes) as [AmfValue[]];
    expect(array[1]).toBe(array[0]);
  });

  it("round-trips nested values", () => {
    const value: AmfValue[] = [
      "onStatus",
      0,
      null,
      {
        level: "status",
        code: "NetStream.Play.Start",
        list: [1, [2, { deep: [true, null, undefined] }]],
        when: new Date(5),
      },
    ];
    expect(decodeAmf0(encodeAmf0(value))).toEqual(value);
  });

  it("does not let a __proto__ key change the prototype", () => {
    const bytes = hex("03 0009 5f5f70726f746f5f5f 03 0001 78 01 01 0000 09 0000 09");
    const [object] = decodeAmf0(bytes) as [Record<string, unknown>];
    expect(Object.getPrototypeOf(object)).toBe(Object.prototype);
    expect(Object.hasOwn(object, "__proto__")).toBe(true);
  });
});

describe("AMF0 bad input", () => {
  const code = (bytes: Buffer, limits?: Parameters<typeof decodeAmf0>[1]): string => {
    try {
      decodeAmf0(bytes, limits);
    } catch (error) {
      expect(error).toBeInstanceOf(RtmpProtocolError);
      return (error as RtmpProtocolError).code;
    }
    return "no error";
  };

  it("fails with typed errors", () => {
    expect(code(hex("00 3ff0"))).toBe(RtmpErrorCode.amfTruncated);
    expect(code(hex("02 0010 6162"))).toBe(RtmpErrorCode.amfTruncated);
    expect(code(hex("0a ffffffff"))).toBe(RtmpErrorCode.amfLength);
    expect(code(hex("0a 00001000 05"))).toBe(RtmpErrorCode.amfTruncated);
    expect(code(hex("04"))).toBe(RtmpErrorCode.amfType);
    expect(code(hex("0e"))).toBe(RtmpErrorCode.amfType);
    expect(code(hex("ff"))).toBe(RtmpErrorCode.amfType);
    expect(code(hex("07 0000"))).toBe(RtmpErrorCode.amfReference);
    expect(code(hex("03 0001 61"))).toBe(RtmpErrorCode.amfTruncated);
    expect(code(hex("0c 00200000"), { maxStringLength: 1000 })).toBe(RtmpErrorCode.amfLength);
  });

  it("stops 100k-deep nesting of every container at the depth limit", () => {
    const depth = 100_000;
    const objects = Buffer.concat([Buffer.alloc(depth * 4, hex("03 0001 61")), hex("05")]);
    const strict = Buffer.concat([Buffer.alloc(depth * 5, hex("0a 00000001")), hex("05")]);
    const ecma = Buffer.concat([Buffer.alloc(depth * 8, hex("08 00000001 0001 61")), hex("05")]);
    for (const bytes of [objects, strict, ecma]) expect(code(bytes)).toBe(RtmpErrorCode.amfDepth);
    expect(code(Buffer.concat([Buffer.alloc(10 * 5, hex("0a 00000001")), hex("05")]), { maxDepth: 5 })).toBe(
      RtmpErrorCode.amfDepth,
    );
  });
});
