/** Random and mutated bytes into both AMF decoders: a value or an RtmpProtocolError, nothing else. */
import { describe, expect, it } from "vitest";
import { seededRandom as prng } from "../../../test-support/seeded-random.js";
import {
  type AmfValue,
  decodeAmf0,
  decodeAmf3,
  encodeAmf0,
  encodeAmf3,
  RtmpProtocolError,
} from "../src/index.js";

const samples: AmfValue[][] = [
  [
    "connect",
    1,
    { app: "live", tcUrl: "rtmp://127.0.0.1/live", fpad: false, capabilities: 15, objectEncoding: 3 },
  ],
  ["onStatus", 0, null, { level: "status", code: "NetStream.Play.Start", description: "x" }],
  [
    "onMetaData",
    { width: 1280, height: 720, list: [1, [2, [3]]], when: new Date(9), bytes: Buffer.from([1, 2, 3]) },
  ],
  ["_result", 4, null, 1],
];

function mutate(input: Buffer, random: () => number): Buffer {
  const bytes = [...input];
  const edits = 1 + Math.floor(random() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(random() * (bytes.length + 1));
    const choice = random();
    if (choice < 0.4 && bytes.length > 0) bytes[at % bytes.length] = Math.floor(random() * 256);
    else if (choice < 0.6) bytes.splice(at, 0, Math.floor(random() * 256));
    else if (choice < 0.8) bytes.splice(at, 1);
    else bytes.length = Math.min(bytes.length, at);
  }
  return Buffer.from(bytes);
}

function survives(decode: (b: Buffer) => AmfValue[], input: Buffer): void {
  try {
    decode(input);
  } catch (error) {
    if (!(error instanceof RtmpProtocolError)) {
      throw new Error(
        `non-protocol error ${(error as Error).name} for ${input.toString("hex").slice(0, 200)}: ${(error as Error).message}`,
      );
    }
  }
}

describe("AMF decoders under fuzzing", () => {
  const decoders = { amf0: decodeAmf0, amf3: decodeAmf3 } as const;
  const encoded = {
    amf0: samples.map((s) => encodeAmf0(s)),
    amf3: samples.map((s) => encodeAmf3(s)),
  };

  for (const [name, decode] of Object.entries(decoders)) {
    it(`${name}: 3000 random buffers`, () => {
      const random = prng(name === "amf0" ? 1 : 2);
      for (let i = 0; i < 3000; i++) {
        const length = Math.floor(random() * 200);
        const input = Buffer.alloc(length);
        for (let j = 0; j < length; j++) input[j] = Math.floor(random() * 256);
        // Bias the first byte to valid markers so decoding goes deeper.
        if (length > 0 && random() < 0.7) input[0] = Math.floor(random() * 0x12);
        survives(decode, input);
      }
    });

    it(`${name}: 3000 mutations of real values`, () => {
      const random = prng(name === "amf0" ? 3 : 4);
      const sources = encoded[name as keyof typeof encoded];
      for (let i = 0; i < 3000; i++) survives(decode, mutate(sources[i % sources.length], random));
    });
  }

  it("the unmutated samples round-trip", () => {
    for (const sample of samples) {
      expect(decodeAmf0(encodeAmf0(sample))).toEqual(sample);
      expect(decodeAmf3(encodeAmf3(sample))).toEqual(sample);
    }
  });
});
