/** Where the stress tests leave their measurements, so the figures can be quoted from a CI run. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL("../.test-results/stress/", import.meta.url));

/** Prints `figures` and writes them to .test-results/stress/<name>.json (one file per test: no write races). */
export function recordFigures(name: string, figures: Record<string, unknown>): void {
  const record = { name, at: new Date().toISOString(), ...figures };
  console.log(`[stress figures] ${JSON.stringify(record)}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(record, null, 2)}\n`);
}

/** Bytes as MiB with one decimal, for figures people read. */
export function mib(bytes: number): number {
  return Math.round((bytes / (1024 * 1024)) * 10) / 10;
}
