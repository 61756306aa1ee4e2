// mux.js ships no types: the parts the tests use.
declare module "mux.js" {
  interface TransmuxerSegment {
    type: "video" | "audio" | "combined";
    initSegment: Uint8Array;
    data: Uint8Array;
    info: Record<string, unknown>;
  }
  interface Transmuxer {
    on(event: "data", listener: (segment: TransmuxerSegment) => void): void;
    on(event: "done", listener: () => void): void;
    push(bytes: Uint8Array): void;
    flush(): void;
  }
  const muxjs: {
    mp4: {
      Transmuxer: new (options?: { remux?: boolean; keepOriginalTimestamps?: boolean }) => Transmuxer;
      tools: { inspect(bytes: Uint8Array): Array<Record<string, unknown>> };
      probe: {
        /** The payloads (after the 8-byte header) of the boxes at `path`, e.g. ["moof", "traf", "tfdt"]. */
        findBox(bytes: Uint8Array, path: string[]): Uint8Array[];
        /** The tracks of an init segment: id, type ("video", "audio"), codec ("avc1.64001f", "mp4a.40.2"), timescale. */
        tracks(init: Uint8Array): Array<{ id: number; type: string; codec: string; timescale: number }>;
        /** trackId → timescale from an init segment's mdhd boxes. */
        timescale(init: Uint8Array): Record<number, number>;
        /** The earliest baseMediaDecodeTime of a fragment, in seconds, by the timescales. */
        startTime(timescales: Record<number, number>, fragment: Uint8Array): number;
      };
    };
  };
  export default muxjs;
}

declare module "mux.js/cjs/m2ts/probe.js" {
  const probe: {
    parseType(packet: Uint8Array, pmtPid: number | undefined): "pat" | "pmt" | "pes" | null;
    parsePat(packet: Uint8Array): number;
    parsePmt(packet: Uint8Array): Record<number, number> | undefined;
    parsePayloadUnitStartIndicator(packet: Uint8Array): boolean;
    parsePesType(
      packet: Uint8Array,
      table: Record<number, number>,
    ): "video" | "audio" | "timed-metadata" | null;
    parsePesTime(packet: Uint8Array): { pts: number; dts: number } | null;
    videoPacketContainsKeyFrame(packet: Uint8Array): boolean;
  };
  export default probe;
}
