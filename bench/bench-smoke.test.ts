/**
 * CI smoke of `pnpm bench`: a short quick run, so the benchmark cannot rot. The full run is manual.
 * It checks that the bench ran and wrote sane rows, never how fast: CI machines are shared.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { hasFfmpeg, run, tempDir } from "../test-support/media-tools.js";
import type { Row } from "./run.js";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("pnpm bench --quick", () => {
  it("measures onair and node-media-server over RTMP and HTTP-FLV, batching on and off, and writes sane rows", async () => {
    // An interop test fails, not skips, when its real peer is missing.
    expect(hasFfmpeg, "ffmpeg and ffprobe are needed (apt-get install -y ffmpeg)").toBe(true);
    const dir = tempDir();
    try {
      const out = `${dir.path}/smoke.json`;
      const bench = run("node", [
        "--conditions=source",
        "--import",
        "tsx",
        `${root}bench/run.ts`,
        "--quick",
        "--servers",
        "onair,nms",
        "--protocols",
        "rtmp,http-flv",
        "--window",
        "0,100",
        "--out",
        out,
      ]);
      expect(await bench.exited, bench.stderr()).toBe(0);
      const { rows } = JSON.parse(readFileSync(out, "utf8")) as { rows: Row[] };
      expect(rows.map((r) => `${r.server} ${r.protocol}`)).toEqual([
        "onair (window 0 ms) rtmp",
        "onair (window 0 ms) http-flv",
        "onair (window 100 ms) rtmp",
        "onair (window 100 ms) http-flv",
        "node-media-server 4.4.3 rtmp",
        "node-media-server 4.4.3 http-flv",
      ]);
      const finiteAtLeastZero = (value: number) => Number.isFinite(value) && value >= 0;
      for (const row of rows) {
        const fields = `${row.server} ${row.protocol}: ${JSON.stringify(row)}`;
        // Every player connected and got media: the bench measured something.
        expect(row.players, fields).toBeGreaterThan(0);
        expect(row.connected, fields).toBe(row.players);
        expect(row.deliveredMb, fields).toBeGreaterThan(0);
        expect(row.ttfkMax, fields).toBeGreaterThan(0);
        expect(row.streamKbps, fields).toBeGreaterThan(0);
        // Every figure is a number, and the summaries are ordered; no figure is held to a speed.
        for (const value of [
          row.kbpsMin,
          row.kbpsP10,
          row.kbpsMedian,
          row.ttfbP50,
          row.ttfbMax,
          row.ttfkP50,
          row.ttfkMax,
          row.cpuSecondsPerGb,
          row.rssMb,
        ]) {
          expect(finiteAtLeastZero(value), fields).toBe(true);
        }
        expect(Number.isFinite(row.rssAboveIdleMb), fields).toBe(true); // may be negative: GC ran
        expect(row.kbpsMin, fields).toBeLessThanOrEqual(row.kbpsP10);
        expect(row.kbpsP10, fields).toBeLessThanOrEqual(row.kbpsMedian);
        expect(row.ttfbP50, fields).toBeLessThanOrEqual(row.ttfbMax);
        expect(row.ttfkP50, fields).toBeLessThanOrEqual(row.ttfkMax);
        expect(row.systemShare, fields).toBeGreaterThanOrEqual(0);
        expect(row.systemShare, fields).toBeLessThanOrEqual(1);
        expect(row.rssMb, fields).toBeGreaterThan(0);
      }
      expect(bench.stdout()).toMatch(/onair's ratios to the anchors/);
    } finally {
      dir.remove();
    }
  }, 120_000);
});
