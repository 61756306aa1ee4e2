import { defineConfig } from "vitest/config";

const conditions = ["source", "module", "node", "development|production"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "bench/**/*.test.ts", "fuzz/**/*.test.ts", "stress/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // The JSON report is what .ci/run reads for its "N passed, N failed" line.
    reporters: ["default", "json"],
    outputFile: { json: ".test-results/vitest.json" },
  },
});
