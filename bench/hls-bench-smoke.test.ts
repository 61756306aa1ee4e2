/**
 * CI smoke of `pnpm bench --hls`: a quick remux and delivery run, so the HLS benchmark cannot rot.
 * It checks that every row was measured and sane, never how fast: CI machines are shared. (The
 * latency part runs Chromium for a minute; the browser tests cover hls.js playing each variant.)
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { hasFfmpeg, run, tempDir } from "../test-support/media-tools.js";
import { hasNginxRtmp } from "../test-support/nginx-rtmp.js";
import type { DeliveryRow, RemuxRow } from "./hls-bench.js";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("pnpm bench --quick --hls remux,delivery --hls-only", () => {
  it("measures onair's remux against ffmpeg and its HLS delivery against nginx-rtmp, and writes sane rows", async () => {
    // An interop test fails, not skips, when its real peers are missing.
    expect(hasFfmpeg, "ffmpeg and ffprobe are needed (apt-get install -y ffmpeg)").toBe(true);
    expect(hasNginxRtmp, "nginx with libnginx-mod-rtmp is needed").toBe(true);
    const dir = tempDir();
    try {
      const out = `${dir.path}/smoke.json`;
      const bench = run("node", [
        ...["--conditions=source", "--import", "tsx", `${root}bench/run.ts`, "--quick"],
        ...["--hls", "remux,delivery", "--hls-only", "--hls-viewers", "3", "--out", out],
      ]);
      expect(await bench.exited, bench.stderr()).toBe(0);
      const { remux, delivery } = JSON.parse(readFileSync(`${dir.path}/smoke-hls.json`, "utf8")) as {
        remux: RemuxRow[];
        delivery: DeliveryRow[];
      };
      expect(remux.map((r) => `${r.tool} ${r.format}`)).toEqual([
        "onair ts",
        "ffmpeg -c copy -f hls ts",
        "onair fmp4",
        "ffmpeg -c copy -f hls fmp4",
      ]);
      for (const row of remux) {
        expect(row.medianCpuS, JSON.stringify(row)).toBeGreaterThan(0);
        // The same file cut at the same 2 s keyframes: both tools write the same segments.
        expect(row.segments, JSON.stringify(row)).toBe(remux[0].segments);
      }
      expect(delivery.map((r) => r.server)).toEqual([
        "onair HLS ts",
        "onair HLS low-latency",
        "nginx-rtmp HLS (2 s fragments)",
      ]);
      for (const row of delivery) {
        const fields = JSON.stringify(row);
        expect(row.viewers, fields).toBe(3);
        expect(row.keptUp, fields).toBe(3);
        expect(row.errors, fields).toBe(0);
        expect(row.deliveredMb, fields).toBeGreaterThan(0);
        expect(Number.isFinite(row.cpuSecondsPerGb) && row.cpuSecondsPerGb >= 0, fields).toBe(true);
      }
      // LL viewers ask with blocking reloads and fetch parts: many more requests than polling.
      expect(delivery[1].requestsPerS).toBeGreaterThan(delivery[0].requestsPerS * 2);
      expect(bench.stdout()).toMatch(/onair \/ ffmpeg CPU/);
      expect(bench.stdout()).toMatch(/CPU per GB .*×/);
    } finally {
      dir.remove();
    }
  }, 150_000);
});
