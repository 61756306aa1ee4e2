/** A small MPEG-TS reader for the tests: packets, continuity checks, PES reassembly. */
import { expect } from "vitest";

export interface TsPacketView {
  pid: number;
  pusi: boolean;
  cc: number;
  adaptation: Buffer | undefined;
  payload: Buffer;
  raw: Buffer;
}

export function splitPackets(ts: Buffer): TsPacketView[] {
  expect(ts.length % 188).toBe(0);
  const packets: TsPacketView[] = [];
  for (let p = 0; p < ts.length; p += 188) {
    const raw = ts.subarray(p, p + 188);
    expect(raw[0]).toBe(0x47);
    const control = (raw[3] >> 4) & 3;
    let at = 4;
    let adaptation: Buffer | undefined;
    if (control & 2) {
      adaptation = raw.subarray(5, 5 + raw[4]);
      at = 5 + raw[4];
      expect(at).toBeLessThanOrEqual(188);
    }
    packets.push({
      pid: ((raw[1] & 0x1f) << 8) | raw[2],
      pusi: (raw[1] & 0x40) !== 0,
      cc: raw[3] & 0x0f,
      adaptation,
      payload: control & 1 ? raw.subarray(at) : Buffer.alloc(0),
      raw,
    });
  }
  return packets;
}

/** Asserts each PID's continuity counter goes up by one (mod 16) per packet. */
export function expectContinuity(packets: TsPacketView[]): void {
  const last = new Map<number, number>();
  for (const packet of packets) {
    const previous = last.get(packet.pid);
    if (previous !== undefined) expect(packet.cc, `PID ${packet.pid}`).toBe((previous + 1) & 0x0f);
    last.set(packet.pid, packet.cc);
  }
}

export interface PesView {
  pid: number;
  streamId: number;
  packetLength: number;
  pts: number | undefined;
  dts: number | undefined;
  data: Buffer;
  /** The adaptation field of the first TS packet. */
  adaptation: Buffer | undefined;
}

function readTimestamp(b: Buffer, o: number): number {
  return (
    ((b[o] >> 1) & 7) * 2 ** 30 +
    b[o + 1] * 2 ** 22 +
    (b[o + 2] >> 1) * 2 ** 15 +
    b[o + 3] * 2 ** 7 +
    (b[o + 4] >> 1)
  );
}

/** Reassembles the PES packets of `pid`. */
export function readPes(packets: TsPacketView[], pid: number): PesView[] {
  const out: PesView[] = [];
  let parts: Buffer[] = [];
  let adaptation: Buffer | undefined;
  const finish = (): void => {
    if (parts.length === 0) return;
    const pes = Buffer.concat(parts);
    expect(pes.subarray(0, 3)).toEqual(Buffer.from([0, 0, 1]));
    const flags = pes[7] >> 6;
    const headerEnd = 9 + pes[8];
    out.push({
      pid,
      streamId: pes[3],
      packetLength: pes.readUInt16BE(4),
      pts: flags & 2 ? readTimestamp(pes, 9) : undefined,
      dts: flags === 3 ? readTimestamp(pes, 14) : flags & 2 ? readTimestamp(pes, 9) : undefined,
      data: pes.subarray(headerEnd),
      adaptation,
    });
    parts = [];
  };
  for (const packet of packets) {
    if (packet.pid !== pid) continue;
    if (packet.pusi) {
      finish();
      adaptation = packet.adaptation;
    }
    parts.push(packet.payload);
  }
  finish();
  return out;
}

export { splitAnnexB as annexBUnits } from "./hevc-tags.js";
