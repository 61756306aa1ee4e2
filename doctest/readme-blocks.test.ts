/**
 * Every TypeScript/JavaScript block of README.md and packages/NAME/README.md type-checks as its own
 * module (strict, NodeNext, `@onair/*` from the workspace); every `pnpm` command and CLI flag the
 * READMEs show exists. The runnable blocks are run in readme-run-ffmpeg.test.ts.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseCliOptions } from "@onair/server";
import { beforeAll, describe, expect, it } from "vitest";
import { type CodeBlock, extractBlocks, readmeBlocks, readmeFiles, repoRoot, where } from "./extract.js";
import { runPlan } from "./runnable.js";
import { type BlockProblem, isTypeChecked, typecheckBlocks } from "./typecheck.js";

const blocks = readmeBlocks();
const checked = blocks.filter(isTypeChecked);
const knownMarkers = /^(run|skip: \S.*|declare \S.*|value \S.*)$/;

describe("README code blocks", () => {
  let problems: BlockProblem[] = [];
  beforeAll(() => {
    problems = typecheckBlocks(blocks).problems;
  });

  it("are found in the root README and in every package's README", () => {
    const packages = readdirPackages().filter((name) =>
      existsSync(join(repoRoot, "packages", name, "README.md")),
    );
    expect(readmeFiles()).toEqual(["README.md", ...packages.map((name) => `packages/${name}/README.md`)]);
    for (const file of readmeFiles()) {
      expect(
        checked.some((block) => block.file === file),
        `${file} has a TypeScript block`,
      ).toBe(true);
    }
  });

  it("carry only known doctest markers, and a skip says why", () => {
    for (const block of blocks) {
      for (const marker of block.markers) expect(marker, where(block)).toMatch(knownMarkers);
    }
  });

  it.each(checked.map((block) => [where(block), block] as const))("%s type-checks", (_where, block) => {
    const mine = problems.filter((p) => p.block === block).map((p) => `${p.at} ${p.message}`);
    expect(mine).toEqual([]);
  });

  it("the checker reports a broken block at its README line, with a fragment's declared context", () => {
    const markdown = [
      "# x",
      "",
      '<!-- doctest: declare const hub: import("@onair/core").StreamHub -->',
      "```ts",
      'hub.on("publish", (info) => info.key.toFixed());',
      "```",
      "",
      '<!-- doctest: value import("@onair/rtmp").RtmpServerStats -->',
      "```ts",
      "{ connections: 1 }",
      "```",
      "",
      "```js",
      'import { StreamHub } from "@onair/core";',
      "new StreamHub({ gopCach: 1 });",
      "```",
    ].join("\n");
    const fake = extractBlocks(markdown, "FAKE.md");
    const result = typecheckBlocks(fake);
    expect(result.checked).toHaveLength(3);
    const at = result.problems.map((p) => `${p.at} ${p.message.split(":")[0]}`);
    // toFixed on a string: the declared hub's types were used
    expect(at.some((a) => a.startsWith("FAKE.md:5 TS2"))).toBe(true);
    expect(at).toContain("FAKE.md:10 TS2739"); // stats() has more fields than the value shown
    expect(at.some((a) => a.startsWith("FAKE.md:15 TS2"))).toBe(true); // misspelt option, in JavaScript
    expect(at).toHaveLength(3);
  });
});

/** `pnpm start --flag`, `pnpm SCRIPT`, `pnpm example FILE`: commands the READMEs show. */
function shellCommands(block: CodeBlock): string[] {
  return block.code
    .split("\n")
    .map((line) => line.replace(/\s#.*$/, "").trim())
    .flatMap((line) => line.split(/&&|;/).map((part) => part.trim()))
    .filter((part) => /^(\S+=\S*\s+)*pnpm\s/.test(part));
}

function inlineCode(file: string): string[] {
  const text = readFileSync(join(repoRoot, file), "utf8").replace(/```[\s\S]*?```/g, "");
  return [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] ?? "");
}

function readdirPackages(): string[] {
  const dir = join(repoRoot, "packages");
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((name) => existsSync(join(dir, name, "package.json")))
        .sort()
    : [];
}

const scripts = Object.keys(
  (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> })
    .scripts,
);
const pnpmBuiltins = new Set([
  "install",
  "i",
  "add",
  "remove",
  "update",
  "exec",
  "dlx",
  "pack",
  "publish",
  "run",
]);

/** Throws when `args` are not flags the server CLI takes. */
function checkCliArgs(args: string[]): void {
  parseCliOptions(args);
}

describe("README shell commands", () => {
  const sh = blocks.filter((block) => block.language === "sh");

  it("every `pnpm start` flag is a flag of the server CLI", () => {
    let seen = 0;
    for (const block of sh) {
      for (const command of shellCommands(block)) {
        const words = command.replace(/^(\S+=\S*\s+)*/, "").split(/\s+/);
        if (words[1] !== "start") continue;
        seen++;
        expect(() => checkCliArgs(words.slice(2)), `${where(block)}: ${command}`).not.toThrow();
      }
    }
    expect(seen).toBeGreaterThan(0);
  });

  it("every `--flag` named in README prose is a flag of the server CLI", () => {
    let seen = 0;
    for (const file of readmeFiles()) {
      for (const code of inlineCode(file)) {
        const flag = /^(--[a-z][a-z-]*)( [A-Z]+)?$/.exec(code)?.[1];
        if (flag === undefined) continue;
        seen++;
        // A string flag needs a value, a boolean one takes none: one of the two forms parses.
        const parses = [[flag], [flag, "1"]].some((args) => {
          try {
            checkCliArgs(args);
            return true;
          } catch {
            return false;
          }
        });
        expect(parses, `${file}: \`${code}\``).toBe(true);
      }
    }
    expect(seen).toBeGreaterThan(0);
  });

  it("every `pnpm SCRIPT` is a script of the root package.json, and `pnpm example FILE` a file", () => {
    const commands = [
      ...sh.flatMap((block) => shellCommands(block).map((command) => ({ at: where(block), command }))),
      ...readmeFiles().flatMap((file) =>
        inlineCode(file)
          .filter((code) => /^(\S+=\S*\s+)*pnpm\s/.test(code))
          .map((command) => ({ at: file, command })),
      ),
    ];
    expect(commands.length).toBeGreaterThan(0);
    for (const { at, command } of commands) {
      // pnpm's own flags before the command (`pnpm -r publish`) are not the script.
      const words = command
        .replace(/^(\S+=\S*\s+)*/, "")
        .split(/\s+/)
        .filter((word, i) => i === 0 || !word.startsWith("-"));
      const script = words[1] ?? "";
      expect(scripts.includes(script) || pnpmBuiltins.has(script), `${at}: ${command}`).toBe(true);
      const file = words[2];
      if (script === "example" && file !== undefined && file.includes("/")) {
        expect(existsSync(join(repoRoot, file)), `${at}: ${command}`).toBe(true);
      }
    }
  });

  it("each runnable server example says where to publish and what to play", () => {
    for (const block of blocks.filter((b) => b.markers.includes("run"))) {
      const plan = runPlan(block);
      if (plan.publishUrl === undefined) expect(plan.prints.length, where(block)).toBeGreaterThan(0);
      else expect(plan.playUrls.length, where(block)).toBeGreaterThan(0);
    }
  });
});
