import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SegmentFiles } from "../src/segment/segment-files.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("SegmentFiles", () => {
  it("makes the folder once, and again when it was removed from under it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "onair-segment-files-"));
    dirs.push(dir);
    const files = SegmentFiles.create(dir, "live", "cam") as SegmentFiles;
    files.write("a.ts", Buffer.from("first"));
    files.playlist("#EXTM3U\n");
    await files.settled();
    expect(readFileSync(join(dir, "live/cam/a.ts"), "utf8")).toBe("first");
    rmSync(join(dir, "live/cam"), { recursive: true });
    files.write("b.ts", Buffer.from("second"));
    files.playlist("#EXTM3U\n#EXT-X-ENDLIST\n");
    await files.settled();
    expect(readFileSync(join(dir, "live/cam/b.ts"), "utf8")).toBe("second");
    expect(readFileSync(join(dir, "live/cam.m3u8"), "utf8")).toContain("ENDLIST");
    expect(files.errors).toBe(0);
    files.removeAll();
    await files.settled();
    expect(existsSync(join(dir, "live/cam"))).toBe(false);
    expect(existsSync(join(dir, "live/cam.m3u8"))).toBe(false);
  });
});
