/** CI smoke of `pnpm bench`: a short quick run, so the benchmark cannot rot. The full run is manual. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { hasFfmpeg, run, tempDir } from "../test-support/media-tools.js";
import type { Row } from "./run.js";

const root = fileURLToPath(new URL("..", import.meta.url));

describe.skipIf(!hasFfmpeg)("pnpm bench --quick", () => {
  it("measures onair and node-media-server over RTMP and HTTP-FLV with sane numbers, batching on and off", async () => {
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
      for (const row of rows) {
        expect(row.connected).toBe(row.players);
        expect(row.kbpsMin).toBeGreaterThan(row.streamKbps * 0.9);
        expect(Number.isFinite(row.cpuSecondsPerGb) && row.cpuSecondsPerGb > 0).toBe(true);
        expect(row.ttfkMax).toBeGreaterThan(0);
      }
      expect(bench.stdout()).toMatch(/onair's ratios to the anchors/);
    } finally {
      dir.remove();
    }
  }, 120_000);
});
