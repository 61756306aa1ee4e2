import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { defineConfig, type TestProjectInlineConfiguration } from "vitest/config";

const conditions = ["source", "module", "node", "development|production"];

const testFiles = [
  "packages/*/test/**/*.test.ts",
  "bench/**/*.test.ts",
  "doctest/**/*.test.ts",
  "fuzz/**/*.test.ts",
  "stress/**/*.test.ts",
];

/**
 * Two projects, so CI can run the unit tests alone on every maintained Node (`--project unit`)
 * while `vitest run` still runs everything once.
 *
 * The rule: a test file is **interop** when it needs something outside this Node process —
 * - it lives in bench/ or stress/ (real server processes, long runs), or
 * - its name says so: *-ffmpeg, *-nginx, *-redis, *-interop, browser-*, or
 * - it imports (statically or with import()) node:child_process, playwright-core, redis/ioredis,
 *   a test-support helper that starts a real peer (media-tools: ffmpeg/ffprobe; browser: Chromium;
 *   nginx-rtmp; redis*), or a helper from bench/ or stress/ (server processes).
 * Everything else is **unit**: codec, session, core and fuzz-slice tests, and in-process tests
 * that need nothing installed. A new file lands on the right side by what it imports.
 */
const interopByPath = /^(bench|stress)\/|\/(browser-[^/]*|[^/]*-(ffmpeg|nginx|redis|interop))\.test\.ts$/;
const interopByImport =
  /(from|import)\s*\(?\s*["'](node:child_process|child_process|playwright-core|redis|ioredis|[^"']*test-support\/(media-tools|browser|nginx-rtmp|redis)[^"']*|[^"']*\/(bench|stress)\/[^"']*)["']/;

function isInterop(file: string): boolean {
  return interopByPath.test(file) || interopByImport.test(readFileSync(file, "utf8"));
}

/** The files `testFiles` matches (fs.globSync needs Node 22; this runs on 20 too). */
function listTestFiles(): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory() && entry.name !== "node_modules" && entry.name !== "dist") walk(path);
      else if (entry.isFile() && entry.name.endsWith(".test.ts")) found.push(path);
    }
  };
  for (const root of ["bench", "doctest", "fuzz", "stress"]) if (existsSync(root)) walk(root);
  for (const pkg of existsSync("packages") ? readdirSync("packages") : []) {
    if (existsSync(join("packages", pkg, "test"))) walk(`packages/${pkg}/test`);
  }
  return found.sort();
}

const interopFiles = listTestFiles().filter(isInterop);

/**
 * Interop files that measure time, CPU or memory (bench/, stress/), or drive Chromium (browser-*
 * and whatever imports playwright-core or test-support/browser: it decodes video on the CPU): they run one at a time, after everything else, so that nothing
 * else on the machine moves their figures. The rest of the interop tests mostly wait on real time
 * (ffmpeg -re, servers, sockets) and run two at a time.
 */
const exclusiveByPath = /^(bench|stress)\/|\/browser-[^/]*\.test\.ts$/;
const exclusiveByImport = /(from|import)\s*\(?\s*["'](playwright-core|[^"']*test-support\/browser[^"']*)["']/;
const isExclusive = (file: string): boolean =>
  exclusiveByPath.test(file) || exclusiveByImport.test(readFileSync(file, "utf8"));
const exclusiveFiles = interopFiles.filter(isExclusive);
const sharedInteropFiles = interopFiles.filter((file) => !isExclusive(file));

function project(name: string, test: TestProjectInlineConfiguration["test"]): TestProjectInlineConfiguration {
  // Each project resolves our packages' sources through the "source" export condition; for Node
  // tests ssr.resolve.conditions is the one that counts.
  return {
    extends: true,
    resolve: { conditions },
    ssr: { resolve: { conditions } },
    test: { name, ...test },
  };
}

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Projects run one after the other (groupOrder), each with its own number of files at a time.
    projects: [
      project("unit", {
        include: testFiles,
        exclude: ["**/node_modules/**", ...interopFiles],
        maxWorkers: 2,
        sequence: { groupOrder: 0 },
      }),
      // The consumer test packs and npm-installs the packages: interop by nature (and never empty).
      project("interop", {
        include: [...sharedInteropFiles, "consumer/**/*.test.ts"],
        maxWorkers: 2,
        sequence: { groupOrder: 1 },
      }),
      project("exclusive", { include: exclusiveFiles, maxWorkers: 1, sequence: { groupOrder: 2 } }),
    ],
    // The JSON report is what .ci/run reads for its "N passed, N failed" line.
    reporters: ["default", "json"],
    outputFile: { json: ".test-results/vitest.json" },
  },
});
