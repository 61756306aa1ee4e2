/**
 * Golden chunk stream vectors shared by the decoder, encoder and fuzz tests. Each is a list of
 * messages and the exact bytes that carry them, with the chunk size in force at the start (a Set
 * Chunk Size message inside a vector changes it for the chunks after it).
 *
 * Chunk header reminder (spec 5.3.1): basic header `fmt:2 csid:6` (csid 0 → one more byte,
 * csid - 64; csid 1 → two more, csid - 64 little-endian); message header by fmt: 0 = timestamp:24
 * length:24 type:8 stream id:32 LE, 1 = delta:24 length:24 type:8, 2 = delta:24, 3 = nothing;
 * then a 32-bit extended timestamp when the timestamp field is 0xffffff.
 */
import type { RtmpMessage } from "../src/codec/rtmp-message.js";

export interface ChunkVector {
  name: string;
  /** The messages, in the order the decoder delivers them. */
  messages: RtmpMessage[];
  /** Chunk size at the start of `bytes`. */
  chunkSize: number;
  bytes: Buffer;
  /**
   * Which encoder writes exactly `bytes` from `messages`: `encodeChunks` (a type 0 header per
   * message), `ChunkEncoder` (compressed headers), `both`, or `none` for byte sequences only a
   * decoder meets (other peers' choices, aborted messages, interleaving).
   */
  encoder: "encodeChunks" | "ChunkEncoder" | "both" | "none";
}

/** Distinct recognisable payload bytes. */
export function pattern(length: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  return bytes;
}

/** Concatenate hex strings (spaces allowed) and Buffers. */
export function bytesOf(...parts: (string | Buffer)[]): Buffer {
  return Buffer.concat(
    parts.map((part) => (typeof part === "string" ? Buffer.from(part.replace(/\s+/g, ""), "hex") : part)),
  );
}

function message(
  chunkStreamId: number,
  typeId: number,
  messageStreamId: number,
  timestamp: number,
  payload: Buffer,
): RtmpMessage {
  return { chunkStreamId, typeId, messageStreamId, timestamp, payload };
}

const audio = [pattern(32, 1), pattern(32, 2), pattern(32, 3), pattern(32, 4)];
const video307 = pattern(307, 5);
const smallPayload = Buffer.from("abc");
const five = pattern(5, 6);
const ten = pattern(10, 7);
const twelve = pattern(12, 11);
const six = [pattern(6, 8), pattern(6, 9), pattern(6, 10)];
const setChunkSizeTo4 = message(2, 1, 0, 0, Buffer.from("00000004", "hex"));

/** ffmpeg 5.1 `-f flv rtmp://127.0.0.1:33997/live/cam`: its first message after the handshake. */
const ffmpegConnectBytes = bytesOf(
  "03", //          fmt 0, csid 3
  "000000", //      timestamp 0
  "00008c", //      length 140
  "14", //          type 20, AMF0 command
  "00000000", //    message stream 0
  // "connect", 1, { app: "live", type: "nonprivate", flashVer: "FMLE/3.0 (compatible; Lavf59.27.100)",
  // tcUrl: "rtmp://127.0.0.1:33997/live" }: 128 bytes, then a type 3 chunk (0xc3) with the last 12.
  "020007636f6e6e656374003ff00000000000000300036170700200046c69766500047479706502000a6e6f6e70",
  "7269766174650008666c617368566572020024464d4c452f332e302028636f6d70617469626c653b204c61766635",
  "392e32372e313030290005746355726c02001b72746d703a2f2f3132372e302e302e313a33",
  "c3", //          fmt 3, csid 3: continuation
  "333939372f6c697665000009",
);

/** nginx-rtmp 1.2.2 (`chunk_size 4096`): the _result it answers a connect with, one chunk. */
const nginxConnectResult = bytesOf(
  // "_result", 1, { fmsVer: "FMS/3,0,1,123", capabilities: 31 },
  // { level: "status", code: "NetConnection.Connect.Success", description: "Connection succeeded.", objectEncoding: 0 }
  "0200075f726573756c74003ff0000000000000030006666d7356657202000d464d532f332c302c312c313233000c",
  "6361706162696c697469657300403f0000000000000000090300056c6576656c0200067374617475730004636f64",
  "6502001d4e6574436f6e6e656374696f6e2e436f6e6e6563742e53756363657373000b6465736372697074696f6e",
  "020015436f6e6e656374696f6e207375636365656465642e000e6f626a656374456e636f64696e67000000000000",
  "000000000009",
);

export const chunkVectors: ChunkVector[] = [
  {
    name: "spec 5.3.2.2 example 1: audio messages as type 0, type 2, type 3, type 3",
    chunkSize: 128,
    encoder: "ChunkEncoder",
    messages: [1000, 1020, 1040, 1060].map((timestamp, i) => message(3, 8, 12345, timestamp, audio[i])),
    bytes: bytesOf(
      "03", //       00 000011: fmt 0, csid 3
      "0003e8", //   timestamp 1000
      "000020", //   length 32
      "08", //       type 8, audio
      "39300000", // message stream 12345 = 0x3039, little-endian
      audio[0],
      "83", //       10 000011: fmt 2, csid 3
      "000014", //   timestamp delta 20
      audio[1],
      "c3", //       11 000011: fmt 3, csid 3, a new message reusing length, type and delta 20
      audio[2],
      "c3",
      audio[3],
    ),
  },
  {
    name: "spec 5.3.2.2 example 2: a 307-byte message at chunk size 128 as type 0 + two type 3",
    chunkSize: 128,
    encoder: "both",
    messages: [message(4, 9, 12346, 1000, video307)],
    bytes: bytesOf(
      "04", //       00 000100: fmt 0, csid 4
      "0003e8", //   timestamp 1000
      "000133", //   length 307
      "09", //       type 9, video
      "3a300000", // message stream 12346
      video307.subarray(0, 128),
      "c4", //       11 000100: fmt 3, csid 4, continuation
      video307.subarray(128, 256),
      "c4",
      video307.subarray(256),
    ),
  },
  {
    name: "2-byte basic header: csid 64, the smallest",
    chunkSize: 128,
    encoder: "both",
    messages: [message(64, 18, 1, 5, smallPayload)],
    bytes: bytesOf(
      "00", //       00 000000: fmt 0, csid field 0 → one more byte
      "00", //       csid - 64 = 0
      "000005 000003 12 01000000",
      smallPayload,
    ),
  },
  {
    name: "2-byte basic header: csid 319, the largest, also on continuations",
    chunkSize: 2,
    encoder: "both",
    messages: [message(319, 8, 1, 0, smallPayload)],
    bytes: bytesOf(
      "00 ff", //    fmt 0, csid 64 + 255
      "000000 000003 08 01000000",
      smallPayload.subarray(0, 2),
      "c0 ff", //    11 000000 + 0xff: fmt 3, csid 319
      smallPayload.subarray(2),
    ),
  },
  {
    name: "3-byte basic header: csid 320, the smallest",
    chunkSize: 128,
    encoder: "both",
    messages: [message(320, 9, 1, 0, smallPayload)],
    bytes: bytesOf(
      "01", //       00 000001: fmt 0, csid field 1 → two more bytes
      "00 01", //    csid - 64 = 256, little-endian
      "000000 000003 09 01000000",
      smallPayload,
    ),
  },
  {
    name: "3-byte basic header: csid 65599, the largest, also on continuations",
    chunkSize: 2,
    encoder: "both",
    messages: [message(65599, 8, 1, 0, five)],
    bytes: bytesOf(
      "01 ffff", //  fmt 0, csid 64 + 65535
      "000000 000005 08 01000000",
      five.subarray(0, 2),
      "c1 ffff", //  fmt 3, csid 65599
      five.subarray(2, 4),
      "c1 ffff",
      five.subarray(4),
    ),
  },
  {
    name: "3-byte basic header used for csid 64 (legal, not minimal)",
    chunkSize: 128,
    encoder: "none",
    messages: [message(64, 18, 1, 5, smallPayload)],
    bytes: bytesOf("01 0000", "000005 000003 12 01000000", smallPayload),
  },
  {
    name: "extended timestamp on type 0 and repeated on its type 3 continuations",
    chunkSize: 4,
    encoder: "both",
    messages: [message(6, 9, 1, 0x12345678, ten)],
    bytes: bytesOf(
      "06", //       fmt 0, csid 6
      "ffffff", //   timestamp field 0xffffff: look in the extended timestamp
      "00000a 09 01000000",
      "12345678", // extended timestamp
      ten.subarray(0, 4),
      "c6 12345678", // continuation, extended timestamp again (spec 5.3.1.3, ffmpeg)
      ten.subarray(4, 8),
      "c6 12345678",
      ten.subarray(8),
    ),
  },
  {
    name: "Flash-era peer: extended timestamp left out of type 3 continuations",
    chunkSize: 4,
    encoder: "none",
    messages: [message(6, 9, 1, 0x12345678, twelve)],
    bytes: bytesOf(
      "06 ffffff 00000c 09 01000000",
      "12345678", // extended timestamp on the type 0 header
      twelve.subarray(0, 4),
      "c6", //       continuation without the 4 bytes: the next 4 are payload (they differ from 12345678)
      twelve.subarray(4, 8),
      "c6",
      twelve.subarray(8),
    ),
  },
  {
    name: "Flash-era peer: a short last continuation followed by another chunk stream's message",
    chunkSize: 4,
    encoder: "none",
    messages: [message(6, 9, 1, 0x12345678, ten), message(4, 8, 1, 5, smallPayload)],
    bytes: bytesOf(
      "06 ffffff 00000a 09 01000000 12345678",
      ten.subarray(0, 4),
      "c6",
      ten.subarray(4, 8),
      "c6", //       2 payload bytes, then the next header: the 4 bytes after c6 are not the timestamp
      ten.subarray(8),
      "04 000005 000003 08 01000000",
      smallPayload,
    ),
  },
  {
    name: "extended delta on a type 1 header, repeated on one continuation and left out of the next",
    chunkSize: 4,
    encoder: "none",
    messages: [message(6, 9, 1, 0, six[0]), message(6, 9, 1, 0x01000000, twelve)],
    bytes: bytesOf(
      "06 000000 000006 09 01000000",
      six[0].subarray(0, 4),
      "c6",
      six[0].subarray(4),
      "46 ffffff 00000c 09", // fmt 1: extended delta, length 12
      "01000000",
      twelve.subarray(0, 4),
      "c6 01000000", // repeats the delta field: consumed
      twelve.subarray(4, 8),
      "c6", //          leaves it out
      twelve.subarray(8),
    ),
  },
  {
    name: "timestamp 0xffffff itself needs the extended field",
    chunkSize: 128,
    encoder: "both",
    messages: [message(4, 8, 1, 0xffffff, smallPayload)],
    bytes: bytesOf("04 ffffff 000003 08 01000000", "00ffffff", smallPayload),
  },
  {
    name: "timestamp 0xfffffe fits the 24-bit field",
    chunkSize: 128,
    encoder: "both",
    messages: [message(4, 8, 1, 0xfffffe, smallPayload)],
    bytes: bytesOf("04 fffffe 000003 08 01000000", smallPayload),
  },
  {
    name: "extended timestamp delta in a type 2 header and a type 3 new message",
    chunkSize: 4,
    encoder: "ChunkEncoder",
    messages: [
      message(6, 9, 1, 0, six[0]),
      message(6, 9, 1, 0x01000000, six[1]),
      message(6, 9, 1, 0x02000000, six[2]),
    ],
    bytes: bytesOf(
      "06 000000 000006 09 01000000",
      six[0].subarray(0, 4),
      "c6",
      six[0].subarray(4),
      "86", //       10 000110: fmt 2, csid 6
      "ffffff", //   delta field: extended
      "01000000", // delta 0x01000000
      six[1].subarray(0, 4),
      "c6 01000000", // continuation repeats the extended delta
      six[1].subarray(4),
      "c6 01000000", // fmt 3 new message: same delta, carried in the extended field
      six[2].subarray(0, 4),
      "c6 01000000",
      six[2].subarray(4),
    ),
  },
  {
    name: "type 1 header: same message stream, new length and type",
    chunkSize: 128,
    encoder: "ChunkEncoder",
    messages: [message(5, 18, 1, 0, smallPayload), message(5, 8, 1, 40, Buffer.from("xy"))],
    bytes: bytesOf(
      "05 000000 000003 12 01000000",
      smallPayload,
      "45", //       01 000101: fmt 1, csid 5
      "000028", //   delta 40
      "000002", //   length 2
      "08", //       type 8
      "7879",
    ),
  },
  {
    name: "type 3 new message right after type 0 adds the timestamp again (spec 5.3.1.2.4, FMLE)",
    chunkSize: 128,
    encoder: "none",
    messages: [message(4, 8, 1, 26, Buffer.from("ab")), message(4, 8, 1, 52, Buffer.from("cd"))],
    bytes: bytesOf("04 00001a 000002 08 01000000", "6162", "c4", "6364"),
  },
  {
    name: "ffmpeg 5.1 connect command (csid 3, type 20) split at 128",
    chunkSize: 128,
    encoder: "both",
    messages: [
      message(
        3,
        20,
        0,
        0,
        Buffer.concat([ffmpegConnectBytes.subarray(12, 140), ffmpegConnectBytes.subarray(141)]),
      ),
    ],
    bytes: ffmpegConnectBytes,
  },
  {
    name: "nginx-rtmp 1.2.2 answering connect: three control messages, chunk size 4096, then _result",
    chunkSize: 128,
    encoder: "encodeChunks",
    messages: [
      message(2, 5, 0, 0, Buffer.from("004c4b40", "hex")),
      message(2, 6, 0, 0, Buffer.from("004c4b4002", "hex")),
      message(2, 1, 0, 0, Buffer.from("00001000", "hex")),
      message(3, 20, 0, 0, nginxConnectResult),
    ],
    bytes: bytesOf(
      "02 000000 000004 05 00000000", // csid 2, type 5 Window Acknowledgement Size
      "004c4b40", //                     5 000 000
      "02 000000 000005 06 00000000", // type 6 Set Peer Bandwidth (nginx writes type 0 headers here)
      "004c4b40 02", //                  5 000 000, dynamic
      "02 000000 000004 01 00000000", // type 1 Set Chunk Size
      "00001000", //                     4096
      "03 000000 0000be 14 00000000", // csid 3, 190 bytes, AMF0 command: one chunk now
      nginxConnectResult,
    ),
  },
  {
    name: "zero-length message: a header and no payload",
    chunkSize: 128,
    encoder: "both",
    messages: [message(3, 20, 0, 0, Buffer.alloc(0))],
    bytes: bytesOf("03 000000 000000 14 00000000"),
  },
  {
    name: "Set Chunk Size applies to the very next chunk in the same buffer",
    chunkSize: 128,
    encoder: "both",
    messages: [setChunkSizeTo4, message(3, 20, 0, 0, six[0])],
    bytes: bytesOf(
      "02 000000 000004 01 00000000", // csid 2, type 1 Set Chunk Size, length 4
      "00000004", //                     new chunk size 4
      "03 000000 000006 14 00000000",
      six[0].subarray(0, 4), //          4 bytes, no longer 128
      "c3",
      six[0].subarray(4),
    ),
  },
  {
    name: "Abort drops the partial message of its chunk stream",
    chunkSize: 128,
    encoder: "none",
    messages: [
      setChunkSizeTo4,
      message(2, 2, 0, 0, Buffer.from("00000004", "hex")),
      message(4, 8, 1, 7, Buffer.from("ok")),
    ],
    bytes: bytesOf(
      "02 000000 000004 01 00000000 00000004", // chunk size 4
      "04 000000 00000a 08 01000000", //          a 10-byte message on csid 4...
      "00010203", //                              ...of which only 4 bytes arrive
      "02 000000 000004 02 00000000", //          Abort (type 2)...
      "00000004", //                              ...chunk stream 4
      "04 000007 000002 08 01000000 6f6b", //     csid 4 starts over
    ),
  },
  {
    name: "interleaved chunks of two chunk streams",
    chunkSize: 128,
    encoder: "none",
    messages: [setChunkSizeTo4, message(4, 8, 1, 0, six[1]), message(6, 9, 1, 0, six[2])],
    bytes: bytesOf(
      "02 000000 000004 01 00000000 00000004",
      "04 000000 000006 08 01000000",
      six[1].subarray(0, 4),
      "06 000000 000006 09 01000000",
      six[2].subarray(0, 4),
      "c4",
      six[1].subarray(4),
      "c6",
      six[2].subarray(4),
    ),
  },
  {
    name: "librtmp ping response: a type 1 header starting chunk stream 2",
    chunkSize: 128,
    encoder: "none",
    messages: [message(2, 4, 0, 0, Buffer.from("000700000d0f", "hex"))],
    bytes: bytesOf(
      "42", //       01 000010: fmt 1, csid 2, no previous header (librtmp RTMP_SendCtrl)
      "000000 000006 04", // delta 0, length 6, type 4 user control
      "0007 00000d0f", //    ping response, timestamp 0x0d0f
    ),
  },
];
