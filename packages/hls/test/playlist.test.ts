/**
 * The media playlist, byte for byte: the pure renderer over hand-made models, and what the
 * segmenter renders for TS, fMP4 and Low-Latency HLS streams (under a fake clock, with its unique
 * file-name token replaced by "T").
 */
import { HlsSegmenter, type MediaPlaylistModel, renderMediaPlaylist } from "@onair/hls";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AVC_RECORD_2, avcHeader, frames, info, stream } from "./segment-packets.js";

const lines = (...l: string[]): string => `${l.join("\n")}\n`;

const segment = (
  file: string,
  durationMs: number,
  extra: Partial<MediaPlaylistModel["segments"][number]> = {},
) => ({
  file,
  durationMs,
  discontinuity: false,
  programDateTime: undefined,
  map: undefined,
  parts: [],
  ...extra,
});

describe("renderMediaPlaylist", () => {
  it("TS: header, PROGRAM-DATE-TIME, EXTINF with 3 decimals, the query on every URI", () => {
    const model: MediaPlaylistModel = {
      version: 3,
      targetDurationS: 2,
      mediaSequence: 7,
      discontinuitySequence: 1,
      segments: [
        segment("a-7.ts", 1000, { programDateTime: "2026-01-01T00:00:00.000Z" }),
        segment("a-8.ts", 1520, { discontinuity: true, programDateTime: "2026-01-01T00:00:05.000Z" }),
      ],
      lowLatency: undefined,
      ended: false,
      uriPrefix: "cam/",
    };
    expect(renderMediaPlaylist(model, "t=1")).toBe(
      lines(
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-TARGETDURATION:2",
        "#EXT-X-MEDIA-SEQUENCE:7",
        "#EXT-X-DISCONTINUITY-SEQUENCE:1",
        "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z",
        "#EXTINF:1.000,",
        "cam/a-7.ts?t=1",
        "#EXT-X-DISCONTINUITY",
        "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:05.000Z",
        "#EXTINF:1.520,",
        "cam/a-8.ts?t=1",
      ),
    );
    expect(renderMediaPlaylist({ ...model, ended: true })).toContain("cam/a-8.ts\n#EXT-X-ENDLIST\n");
  });

  it("fMP4: EXT-X-MAP before the first segment and where it changes, after the discontinuity", () => {
    const model: MediaPlaylistModel = {
      version: 6,
      targetDurationS: 1,
      mediaSequence: 0,
      discontinuitySequence: 0,
      segments: [
        segment("s-0.m4s", 1000, { map: "s-i1.mp4" }),
        segment("s-1.m4s", 1000, { map: "s-i1.mp4" }),
        segment("s-2.m4s", 1000, { map: "s-i2.mp4", discontinuity: true }),
      ],
      lowLatency: undefined,
      ended: true,
      uriPrefix: "my%20cam/",
    };
    expect(renderMediaPlaylist(model)).toBe(
      lines(
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        "#EXT-X-TARGETDURATION:1",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-DISCONTINUITY-SEQUENCE:0",
        '#EXT-X-MAP:URI="my%20cam/s-i1.mp4"',
        "#EXTINF:1.000,",
        "my%20cam/s-0.m4s",
        "#EXTINF:1.000,",
        "my%20cam/s-1.m4s",
        "#EXT-X-DISCONTINUITY",
        '#EXT-X-MAP:URI="my%20cam/s-i2.mp4"',
        "#EXTINF:1.000,",
        "my%20cam/s-2.m4s",
        "#EXT-X-ENDLIST",
      ),
    );
  });

  it("low-latency: SERVER-CONTROL and PART-INF, parts of recent segments, the one in progress, the preload hint", () => {
    const part = (file: string, durationMs: number, independent: boolean) => ({
      file,
      durationMs,
      independent,
    });
    const model: MediaPlaylistModel = {
      version: 6,
      targetDurationS: 1,
      mediaSequence: 3,
      discontinuitySequence: 0,
      segments: [
        segment("x-3.m4s", 1000, {
          map: "x-i1.mp4",
          parts: [part("x-p0.m4s", 500, true), part("x-p1.m4s", 500, false)],
        }),
        segment("x-4.m4s", 1000, {
          map: "x-i1.mp4",
          parts: [part("x-p2.m4s", 600, true), part("x-p3.m4s", 400, false)],
        }),
      ],
      lowLatency: {
        partTargetMs: 600,
        partHoldBackMs: 1800,
        partsFrom: 1,
        inProgress: segment("x-5.m4s", 0, {
          map: "x-i2.mp4",
          discontinuity: true,
          parts: [part("x-p4.m4s", 333, true)],
        }),
        preloadHint: "x-p5.m4s",
      },
      ended: false,
      uriPrefix: "c/",
    };
    expect(renderMediaPlaylist(model, "k=v")).toBe(
      lines(
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        "#EXT-X-TARGETDURATION:1",
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.800",
        "#EXT-X-PART-INF:PART-TARGET=0.600",
        "#EXT-X-MEDIA-SEQUENCE:3",
        "#EXT-X-DISCONTINUITY-SEQUENCE:0",
        '#EXT-X-MAP:URI="c/x-i1.mp4?k=v"',
        "#EXTINF:1.000,",
        "c/x-3.m4s?k=v",
        '#EXT-X-PART:DURATION=0.600,URI="c/x-p2.m4s?k=v",INDEPENDENT=YES',
        '#EXT-X-PART:DURATION=0.400,URI="c/x-p3.m4s?k=v"',
        "#EXTINF:1.000,",
        "c/x-4.m4s?k=v",
        "#EXT-X-DISCONTINUITY",
        '#EXT-X-MAP:URI="c/x-i2.mp4?k=v"',
        '#EXT-X-PART:DURATION=0.333,URI="c/x-p4.m4s?k=v",INDEPENDENT=YES',
        '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="c/x-p5.m4s?k=v"',
      ),
    );
    // Ended: no segment in progress, no hint.
    const ended = renderMediaPlaylist({ ...model, ended: true });
    expect(ended).not.toContain("x-p4");
    expect(ended).not.toContain("PRELOAD-HINT");
    expect(ended.endsWith("c/x-4.m4s\n#EXT-X-ENDLIST\n")).toBe(true);
    // A segment in progress with no part yet: its tags wait for its first part.
    const empty = renderMediaPlaylist({
      ...model,
      lowLatency: {
        ...model.lowLatency,
        inProgress: segment("x-5.m4s", 0, { discontinuity: true, map: "x-i2.mp4" }),
      } as never,
    });
    expect(empty.endsWith('c/x-4.m4s\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="c/x-p5.m4s"\n')).toBe(true);
  });
});

describe("HlsSegmenter playlists, byte for byte", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Feeds a live stream in real time under a fake clock starting at 2026-03-04T05:06:07Z. */
  function live(variant: "ts" | "fmp4" | "low-latency", durationMs: number, gopMs = 1000): HlsSegmenter {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.UTC(2026, 2, 4, 5, 6, 7) });
    const start = Date.now();
    const target = new HlsSegmenter(info("live/cam"), { variant });
    for (const packet of stream({ durationMs, gopMs })) {
      vi.setSystemTime(start + packet.timestamp);
      target.write(packet);
    }
    return target;
  }

  const untokened = (target: HlsSegmenter, text = target.playlist()): string =>
    text.replace(/cam\/[0-9a-z]{10,}-/g, "cam/T-");

  it("TS", () => {
    const target = live("ts", 2500);
    expect(untokened(target)).toBe(
      lines(
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-TARGETDURATION:1",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-DISCONTINUITY-SEQUENCE:0",
        "#EXT-X-PROGRAM-DATE-TIME:2026-03-04T05:06:07.000Z",
        "#EXTINF:1.000,",
        "cam/T-0.ts",
        "#EXT-X-PROGRAM-DATE-TIME:2026-03-04T05:06:08.000Z",
        "#EXTINF:1.000,",
        "cam/T-1.ts",
      ),
    );
    target.close();
    expect(
      untokened(target).endsWith(
        "cam/T-1.ts\n#EXT-X-PROGRAM-DATE-TIME:2026-03-04T05:06:09.000Z\n#EXTINF:0.520,\ncam/T-2.ts\n#EXT-X-ENDLIST\n",
      ),
    ).toBe(true);
  });

  it("fMP4 with a changed sequence header: a new map after a discontinuity", () => {
    const target = live("fmp4", 2000);
    target.write(avcHeader(2000, AVC_RECORD_2));
    for (const packet of frames({ durationMs: 1100, start: 2000 })) {
      vi.setSystemTime(Date.UTC(2026, 2, 4, 5, 6, 7) + packet.timestamp);
      target.write(packet);
    }
    expect(untokened(target)).toBe(
      lines(
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        "#EXT-X-TARGETDURATION:1",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-DISCONTINUITY-SEQUENCE:0",
        '#EXT-X-MAP:URI="cam/T-i2.mp4"',
        "#EXT-X-PROGRAM-DATE-TIME:2026-03-04T05:06:07.000Z",
        "#EXTINF:1.000,",
        "cam/T-0.m4s",
        "#EXT-X-PROGRAM-DATE-TIME:2026-03-04T05:06:08.000Z",
        "#EXTINF:1.000,",
        "cam/T-1.m4s",
        "#EXT-X-DISCONTINUITY",
        '#EXT-X-MAP:URI="cam/T-i3.mp4"',
        "#EXT-X-PROGRAM-DATE-TIME:2026-03-04T05:06:09.000Z",
        "#EXTINF:1.000,",
        "cam/T-2.m4s",
      ),
    );
  });

  it("low-latency", () => {
    const target = live("low-latency", 2450);
    expect(untokened(target)).toBe(
      lines(
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        "#EXT-X-TARGETDURATION:1",
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600",
        "#EXT-X-PART-INF:PART-TARGET=0.200",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-DISCONTINUITY-SEQUENCE:0",
        '#EXT-X-MAP:URI="cam/T-i2.mp4"',
        "#EXT-X-PROGRAM-DATE-TIME:2026-03-04T05:06:07.000Z",
        '#EXT-X-PART:DURATION=0.200,URI="cam/T-p0.m4s",INDEPENDENT=YES',
        '#EXT-X-PART:DURATION=0.200,URI="cam/T-p1.m4s"',
        '#EXT-X-PART:DURATION=0.200,URI="cam/T-p2.m4s"',
        '#EXT-X-PART:DURATION=0.200,URI="cam/T-p3.m4s"',
        '#EXT-X-PART:DURATION=0.200,URI="cam/T-p4.m4s"',
        "#EXTINF:1.000,",
        "cam/T-0.m4s",
        "#EXT-X-PROGRAM-DATE-TIME:2026-03-04T05:06:08.000Z",
        '#EXT-X-PART:DURATION=0.200,URI="cam/T-p5.m4s",INDEPENDENT=YES',
        '#EXT-X-PART:DURATION=0.200,URI="cam/T-p6.m4s"',
        '#EXT-X-PART:DURATION=0.200,URI="cam/T-p7.m4s"',
        '#EXT-X-PART:DURATION=0.200,URI="cam/T-p8.m4s"',
        '#EXT-X-PART:DURATION=0.200,URI="cam/T-p9.m4s"',
        "#EXTINF:1.000,",
        "cam/T-1.m4s",
        // The segment in progress has its date from its first part (lines are only ever appended).
        "#EXT-X-PROGRAM-DATE-TIME:2026-03-04T05:06:09.000Z",
        '#EXT-X-PART:DURATION=0.200,URI="cam/T-p10.m4s",INDEPENDENT=YES',
        '#EXT-X-PART:DURATION=0.200,URI="cam/T-p11.m4s"',
        '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="cam/T-p12.m4s"',
      ),
    );
    // The same text again (from the cache) until something changes.
    expect(target.playlist()).toBe(target.playlist());
  });
});
