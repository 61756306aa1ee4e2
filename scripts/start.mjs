#!/usr/bin/env node
/**
 * `pnpm start [flags]`: the onair server at once, never after a build.
 *
 * - Every package's dist/ newer than its src/: runs the built CLI (packages/server/dist/cli.js).
 * - Sources changed since the last build (or never built): runs the CLI from source through tsx,
 *   in this process, and says so in one line. That costs about half a second; a build would cost
 *   several (`pnpm build` makes the next start use dist/ again).
 *
 * Either way the CLI parses its flags before it opens anything, so `--help` and flag errors come
 * back at once, and a Ctrl-C ends it with exit code 0 (no ELIFECYCLE from pnpm).
 */
import { readdirSync, statSync } from "node:fs";
import { register } from "node:module";

const packagesDir = new URL("../packages/", import.meta.url);

/** The newest modification time under `dir` (ms), or -1 when it does not exist. */
function newestMtime(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return -1;
  }
  let newest = -1;
  for (const entry of entries) {
    const path = new URL(entry.name, dir);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(new URL(`${entry.name}/`, dir)));
    else if (entry.isFile()) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Packages whose src/ holds a file newer than anything in their dist/ (or that have no dist/). */
function stalePackages() {
  const stale = [];
  for (const entry of readdirSync(packagesDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const src = newestMtime(new URL(`${entry.name}/src/`, packagesDir));
    if (src < 0) continue;
    if (newestMtime(new URL(`${entry.name}/dist/`, packagesDir)) < src) stale.push(entry.name);
  }
  return stale;
}

const stale = stalePackages();
if (stale.length === 0) {
  await import(new URL("server/dist/cli.js", packagesDir).href);
} else {
  const built = stale.filter((name) => newestMtime(new URL(`${name}/dist/`, packagesDir)) >= 0);
  const why =
    built.length === 0
      ? "not built yet"
      : `${built.join(", ")} changed since the last build${built.length < stale.length ? ", the rest not built yet" : ""}`;
  process.stderr.write(`onair: running from source (${why}; \`pnpm build\` makes starts faster)\n`);
  // Resolve @onair/* through their "source" export condition (src/index.ts), and let tsx
  // compile TypeScript on import. Hooks registered last run first: the condition is added
  // before tsx resolves.
  const { register: registerTsx } = await import("tsx/esm/api");
  registerTsx();
  register(
    `data:text/javascript,${encodeURIComponent(
      "export function resolve(specifier, context, next) {" +
        ' return next(specifier, { ...context, conditions: [...context.conditions, "source"] }); }',
    )}`,
  );
  await import(new URL("server/src/cli.ts", packagesDir).href);
}
