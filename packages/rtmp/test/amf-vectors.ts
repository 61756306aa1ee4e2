/**
 * Golden AMF0 and AMF3 vectors shared by the codec tests and the fuzz test (which mutates them).
 * Each is a sequence of values and the exact bytes that carry them, field by field: from the AMF0
 * and AMF3 specifications, and captured from ffmpeg 5.1 publishing to nginx-rtmp 1.2 (the
 * command and data message bodies, taken off the wire through a TCP proxy on port 34247 and
 * de-chunked).
 */
import { AmfEcmaArray, type AmfValue } from "../src/codec/amf.js";

export interface AmfVector {
  name: string;
  /** The values `bytes` carries, in order: what the encoder is given and the decoder returns. */
  values: AmfValue[];
  bytes: Buffer;
  /** What decoding gives when it is not `values` (an ECMA array decodes to a plain object). */
  decoded?: AmfValue[];
  /** False for bytes our encoder never writes (references, other peers' choices). */
  encodes?: boolean;
}

/** Hex with `#` comments and any whitespace. */
export const hex = (text: string): Buffer =>
  Buffer.from(text.replace(/#[^\n]*/g, "").replace(/\s+/g, ""), "hex");

const metadata = {
  duration: 1,
  width: 320,
  height: 240,
  videodatarate: 0,
  framerate: 25,
  videocodecid: 7,
  encoder: "Lavf59.27.100",
  filesize: 0,
};

export const amf0Vectors: AmfVector[] = [
  { name: "number 1", values: [1], bytes: hex("00 3ff0000000000000") },
  { name: "number -0.5", values: [-0.5], bytes: hex("00 bfe0000000000000") },
  { name: "boolean true", values: [true], bytes: hex("01 01") },
  { name: "boolean false", values: [false], bytes: hex("01 00") },
  { name: "string", values: ["connect"], bytes: hex("02 0007 636f6e6e656374") },
  { name: "empty string", values: [""], bytes: hex("02 0000") },
  { name: "UTF-8 string", values: ["é"], bytes: hex("02 0002 c3a9") },
  { name: "null", values: [null], bytes: hex("05") },
  { name: "undefined", values: [undefined], bytes: hex("06") },
  {
    name: "object",
    values: [{ app: "live", n: 2 }],
    bytes: hex(`03                                  # object marker
      0003 617070  02 0004 6c697665         # app: string "live"
      0001 6e      00 4000000000000000      # n: number 2
      0000 09                               # empty key, object end`),
  },
  {
    name: "undefined as an object member",
    values: [{ a: undefined }],
    bytes: hex("03  0001 61 06  0000 09"),
  },
  {
    name: "ECMA array",
    values: [new AmfEcmaArray({ duration: 0 })],
    decoded: [{ duration: 0 }],
    bytes: hex(`08 00000001                         # ECMA array marker, count 1
      0008 6475726174696f6e 00 0000000000000000   # duration: number 0
      0000 09                               # object end`),
  },
  {
    name: "ECMA array whose count is wrong (the end marker decides)",
    values: [{ a: null }],
    bytes: hex("08 00000000  0001 61 05  0000 09"),
    encodes: false,
  },
  {
    name: "strict array",
    values: [[1, "a"]],
    bytes: hex("0a 00000002  00 3ff0000000000000  02 0001 61"),
  },
  {
    name: "date",
    values: [new Date(1_000_000)],
    bytes: hex("0b 412e848000000000 0000 # milliseconds 1e6, time zone 0"),
  },
  {
    name: "date with a time zone (read and ignored)",
    values: [new Date(1_000_000)],
    bytes: hex("0b 412e848000000000 ffc4 # time zone -60"),
    encodes: false,
  },
  {
    name: "long string (over 65535 UTF-8 bytes)",
    values: ["x".repeat(65_536)],
    bytes: Buffer.concat([hex("0c 00010000"), Buffer.alloc(65_536, "x")]),
  },
  {
    name: "long string marker for a short string",
    values: ["ab"],
    bytes: hex("0c 00000002 6162"),
    encodes: false,
  },
  {
    name: "XML document decodes as a string",
    values: ["<a/>"],
    bytes: hex("0f 00000004 3c612f3e"),
    encodes: false,
  },
  {
    name: "typed object decodes as a plain object",
    values: [{ x: true }],
    bytes: hex("10 0001 43  0001 78 01 01  0000 09 # class name C, x: true"),
    encodes: false,
  },
  {
    name: "reference to an earlier object",
    // The strict array is reference 0, the object inside it reference 1.
    values: [[{ a: 1 }, { a: 1 }]],
    bytes: hex(`0a 00000002                         # strict array, 2 items
      03 0001 61 00 3ff0000000000000 0000 09   # object {a: 1} (reference 1)
      07 0001                               # reference 1`),
    encodes: false,
  },
  { name: "unsupported marker decodes as undefined", values: [undefined], bytes: hex("0d"), encodes: false },
  { name: "switch to AMF3: integer 5", values: [5], bytes: hex("11 04 05"), encodes: false },
  {
    name: "switch to AMF3: dynamic object",
    values: [{ a: 1 }],
    bytes: hex("11 0a 0b 01  03 61 04 01  01"),
    encodes: false,
  },
  {
    name: "Buffer member goes through the AMF3 switch as a ByteArray",
    values: [{ b: Buffer.from([1, 2]) }],
    bytes: hex("03  0001 62 11 0c 05 0102  0000 09 # b: avmplus, ByteArray of 2 bytes"),
  },
  {
    name: "ffmpeg 5.1 connect (publishing)",
    values: [
      "connect",
      1,
      {
        app: "live",
        type: "nonprivate",
        flashVer: "FMLE/3.0 (compatible; Lavf59.27.100)",
        tcUrl: "rtmp://127.0.0.1:34247/live",
      },
    ],
    bytes: hex(`
      02 0007 636f6e6e656374                # string "connect"
      00 3ff0000000000000                   # transaction id: number 1
      03                                    # command object
        0003 617070                         # app:
          02 0004 6c697665                  #   "live"
        0004 74797065                       # type:
          02 000a 6e6f6e70726976617465      #   "nonprivate"
        0008 666c617368566572               # flashVer:
          02 0024 464d4c452f332e302028636f6d70617469626c653b204c61766635392e32372e31303029
                                            #   "FMLE/3.0 (compatible; Lavf59.27.100)"
        0005 746355726c                     # tcUrl:
          02 001b 72746d703a2f2f3132372e302e302e313a33343234372f6c697665
                                            #   "rtmp://127.0.0.1:34247/live"
        0000 09                             # object end`),
  },
  {
    name: "nginx-rtmp _result to connect",
    values: [
      "_result",
      1,
      { fmsVer: "FMS/3,0,1,123", capabilities: 31 },
      {
        level: "status",
        code: "NetConnection.Connect.Success",
        description: "Connection succeeded.",
        objectEncoding: 0,
      },
    ],
    bytes: hex(`
      02 0007 5f726573756c74                # string "_result"
      00 3ff0000000000000                   # transaction id: number 1
      03                                    # properties
        0006 666d73566572 02 000d 464d532f332c302c312c313233    # fmsVer: "FMS/3,0,1,123"
        000c 6361706162696c6974696573 00 403f000000000000     # capabilities: 31
        0000 09
      03                                    # information
        0005 6c6576656c 02 0006 737461747573                  # level: "status"
        0004 636f6465 02 001d 4e6574436f6e6e656374696f6e2e436f6e6e6563742e53756363657373
                                            # code: "NetConnection.Connect.Success"
        000b 6465736372697074696f6e 02 0015 436f6e6e656374696f6e207375636365656465642e
                                            # description: "Connection succeeded."
        000e 6f626a656374456e636f64696e67 00 0000000000000000 # objectEncoding: 0
        0000 09`),
  },
  {
    name: "ffmpeg 5.1 publish",
    values: ["publish", 5, null, "cap", "live"],
    bytes: hex(`
      02 0007 7075626c697368                # string "publish"
      00 4014000000000000                   # transaction id: number 5
      05                                    # command object: null
      02 0003 636170                        # stream name "cap"
      02 0004 6c697665                      # publishing type "live"`),
  },
  {
    name: "nginx-rtmp onStatus NetStream.Publish.Start",
    values: [
      "onStatus",
      0,
      null,
      { level: "status", code: "NetStream.Publish.Start", description: "Start publishing" },
    ],
    bytes: hex(`
      02 0008 6f6e537461747573              # string "onStatus"
      00 0000000000000000                   # transaction id: number 0
      05                                    # null
      03
        0005 6c6576656c 02 0006 737461747573                  # level: "status"
        0004 636f6465 02 0017 4e657453747265616d2e5075626c6973682e5374617274
                                            # code: "NetStream.Publish.Start"
        000b 6465736372697074696f6e 02 0010 5374617274207075626c697368696e67
                                            # description: "Start publishing"
        0000 09`),
  },
  {
    name: "ffmpeg 5.1 @setDataFrame onMetaData (an ECMA array)",
    values: ["@setDataFrame", "onMetaData", new AmfEcmaArray(metadata)],
    decoded: ["@setDataFrame", "onMetaData", metadata],
    bytes: hex(`
      02 000d 40736574446174614672616d65    # string "@setDataFrame"
      02 000a 6f6e4d65746144617461          # string "onMetaData"
      08 00000008                           # ECMA array, count 8
        0008 6475726174696f6e 00 3ff0000000000000            # duration: 1
        0005 7769647468 00 4074000000000000                  # width: 320
        0006 686569676874 00 406e000000000000                # height: 240
        000d 766964656f6461746172617465 00 0000000000000000  # videodatarate: 0
        0009 6672616d6572617465 00 4039000000000000          # framerate: 25
        000c 766964656f636f6465636964 00 401c000000000000    # videocodecid: 7 (AVC)
        0007 656e636f646572 02 000d 4c61766635392e32372e313030 # encoder: "Lavf59.27.100"
        0008 66696c6573697a65 00 0000000000000000            # filesize: 0
        0000 09                             # object end`),
  },
];

export const amf3Vectors: AmfVector[] = [
  { name: "undefined", values: [undefined], bytes: hex("00") },
  { name: "null", values: [null], bytes: hex("01") },
  { name: "false", values: [false], bytes: hex("02") },
  { name: "true", values: [true], bytes: hex("03") },
  { name: "integer 0", values: [0], bytes: hex("04 00") },
  { name: "integer 127 (1-byte U29)", values: [127], bytes: hex("04 7f") },
  { name: "integer 128 (2-byte U29)", values: [128], bytes: hex("04 8100") },
  { name: "integer 16383 (2-byte U29)", values: [16_383], bytes: hex("04 ff7f") },
  { name: "integer 16384 (3-byte U29)", values: [16_384], bytes: hex("04 818000") },
  { name: "integer 2^21 (4-byte U29, last byte 8 bits)", values: [0x200000], bytes: hex("04 80c08000") },
  { name: "integer 2^28-1", values: [0x0fffffff], bytes: hex("04 bfffffff") },
  { name: "integer -1 (29-bit two's complement)", values: [-1], bytes: hex("04 ffffffff") },
  { name: "integer -2^28", values: [-0x10000000], bytes: hex("04 c0808000") },
  { name: "2^28 is a double", values: [0x10000000], bytes: hex("05 41b0000000000000") },
  { name: "-2^28-1 is a double", values: [-0x10000001], bytes: hex("05 c1b0000001000000") },
  { name: "1.5 is a double", values: [1.5], bytes: hex("05 3ff8000000000000") },
  { name: "-0 is a double", values: [-0], bytes: hex("05 8000000000000000") },
  { name: "string", values: ["abc"], bytes: hex("06 07 616263 # inline, length 3") },
  { name: "empty string", values: [""], bytes: hex("06 01") },
  {
    name: "string references (the empty string never takes a slot)",
    values: ["", "ab", "ab", ""],
    bytes: hex(`06 01                               # "" inline, not added to the table
      06 05 6162                            # "ab" inline: string 0
      06 00                                 # string reference 0
      06 01                                 # "" again`),
    encodes: false,
  },
  { name: "date", values: [new Date(0)], bytes: hex("08 01 0000000000000000") },
  {
    name: "date reference",
    values: [new Date(1000), new Date(1000)],
    bytes: hex("08 01 408f400000000000  08 00 # object reference 0"),
    encodes: false,
  },
  { name: "XMLDocument decodes as a string", values: ["<a/>"], bytes: hex("07 09 3c612f3e"), encodes: false },
  { name: "XML decodes as a string", values: ["<a/>"], bytes: hex("0b 09 3c612f3e"), encodes: false },
  {
    name: "dense array",
    values: [[1, "a"]],
    bytes: hex(`09 05                               # array, 2 dense members
      01                                    # no associative part
      04 01  06 03 61                       # 1, "a"`),
  },
  {
    name: "array with an associative part decodes as one object",
    values: [{ a: 1, 0: "x" }],
    bytes: hex(`09 03                               # array, 1 dense member
      03 61 04 01                           # a: 1
      01                                    # end of the associative part
      06 03 78                              # [0]: "x"`),
    encodes: false,
  },
  {
    name: "AmfEcmaArray encodes as an associative array",
    values: [new AmfEcmaArray({ a: 1 })],
    decoded: [{ a: 1 }],
    bytes: hex(`09 01                               # array, no dense members
      03 61 04 01                           # a: 1
      01                                    # end`),
  },
  {
    name: "anonymous dynamic object",
    values: [{ a: 1 }],
    bytes: hex(`0a 0b                               # object, inline dynamic traits, 0 sealed members
      01                                    # anonymous class ""
      03 61 04 01                           # a: 1
      01                                    # end`),
  },
  {
    name: "sealed typed object",
    values: [{ x: 1, y: 2 }],
    bytes: hex(`0a 23                               # object, inline traits, 2 sealed members
      07 506f73                             # class "Pos"
      03 78  03 79                          # member names x, y
      04 01  04 02                          # x: 1, y: 2`),
    encodes: false,
  },
  {
    name: "typed object with sealed and dynamic members",
    values: [{ x: 1, y: 2 }],
    bytes: hex(`0a 1b                               # object, inline dynamic traits, 1 sealed member
      07 506f73  03 78                      # class "Pos", member x
      04 01                                 # x: 1
      03 79 04 02                           # dynamic y: 2
      01                                    # end`),
    encodes: false,
  },
  {
    name: "trait, string and object references",
    values: [[{ n: "ab" }, { n: "ab" }, { n: "ab" }]],
    bytes: hex(`09 07 01                            # array of 3 (object 0)
      0a 13 01 03 6e  06 05 6162            # object 1, traits 0 inline: 1 sealed member "n"; "ab"
      0a 01 06 02                           # object 2, traits reference 0; string reference 1 ("ab")
      0a 04                                 # object reference 2`),
    encodes: false,
  },
  { name: "byte array", values: [Buffer.from([9, 8, 7])], bytes: hex("0c 07 090807") },
  {
    name: "vector of int",
    values: [[1, -1]],
    bytes: hex(`0d 05 00                            # vector of int, 2 items, not fixed
      00000001 ffffffff`),
    encodes: false,
  },
  {
    name: "vector of uint",
    values: [[1, 0xffffffff]],
    bytes: hex(`0e 05 01                            # vector of uint, 2 items, fixed
      00000001 ffffffff`),
    encodes: false,
  },
  { name: "vector of double", values: [[1.5]], bytes: hex("0f 03 00 3ff8000000000000"), encodes: false },
  {
    name: "vector of object",
    values: [[1, "a"]],
    bytes: hex(`10 05 00 03 2a                      # vector of object, 2 items, not fixed, type "*"
      04 01  06 03 61`),
    encodes: false,
  },
];
