/**
 * Code blocks of the READMEs, for the doc tests: every fenced block of the root README.md and of
 * each packages/NAME/README.md, with the file, the line its code starts on and the `doctest:`
 * markers (HTML comments) right before it. See doctest/README.md for the markers.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("..", import.meta.url));

export type BlockLanguage = "ts" | "js" | "sh" | "other";

export interface CodeBlock {
  /** Path relative to the repository root, e.g. "packages/rtmp/README.md". */
  file: string;
  /** 1-based line of the block's first code line. */
  line: number;
  /** The fence's info string, e.g. "ts". */
  info: string;
  language: BlockLanguage;
  code: string;
  /** The `doctest:` markers right before the fence, e.g. ["run"], ["skip: output only"]. */
  markers: string[];
  /** The Markdown after the block up to the next heading or ts/js block: where a README says how to run it. */
  after: string;
}

/** "file:line", how a failing block is reported. */
export function where(block: CodeBlock): string {
  return `${block.file}:${block.line}`;
}

/** README.md and packages/&ast;/README.md, found now, so a new package's README is covered without edits. */
export function readmeFiles(root = repoRoot): string[] {
  const files = ["README.md"];
  const packages = join(root, "packages");
  for (const name of existsSync(packages) ? readdirSync(packages).sort() : []) {
    if (existsSync(join(packages, name, "README.md"))) files.push(`packages/${name}/README.md`);
  }
  return files.filter((file) => existsSync(join(root, file)));
}

function languageOf(info: string): BlockLanguage {
  const word = info.trim().split(/\s+/)[0]?.toLowerCase() ?? "";
  if (word === "ts" || word === "typescript") return "ts";
  if (word === "js" || word === "javascript" || word === "mjs") return "js";
  if (word === "sh" || word === "bash" || word === "shell" || word === "console") return "sh";
  return "other";
}

const markerPattern = /^<!--\s*doctest:\s*([\s\S]*?)\s*-->$/;

/** Splits one Markdown text into its fenced blocks (``` or ~~~ fences, three or more). */
export function extractBlocks(markdown: string, file: string): CodeBlock[] {
  const lines = markdown.split("\n");
  const blocks: CodeBlock[] = [];
  let i = 0;
  while (i < lines.length) {
    const open = /^( {0,3})(`{3,}|~{3,})(.*)$/.exec(lines[i] ?? "");
    if (open === null) {
      i++;
      continue;
    }
    const fence = open[2] ?? "```";
    const info = (open[3] ?? "").trim();
    // Markers: the HTML comments on the lines right before the fence (blank lines between allowed).
    const markers: string[] = [];
    for (let j = i - 1; j >= 0; j--) {
      const text = (lines[j] ?? "").trim();
      if (text === "") continue;
      const marker = markerPattern.exec(text);
      if (marker === null) break;
      markers.unshift((marker[1] ?? "").trim());
    }
    const start = i + 1;
    let end = start;
    while (end < lines.length && !(lines[end] ?? "").trim().startsWith(fence)) end++;
    const code = lines.slice(start, end).join("\n");
    // What follows, up to the next heading or TypeScript/JavaScript block (sh blocks included).
    let next = end + 1;
    let inFence: string | undefined;
    for (; next < lines.length; next++) {
      const text = lines[next] ?? "";
      const fenceLine = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(text);
      if (inFence !== undefined) {
        if (fenceLine !== null && text.trim().startsWith(inFence)) inFence = undefined;
        continue;
      }
      if (/^ {0,3}#/.test(text)) break;
      if (fenceLine !== null) {
        const language = languageOf(fenceLine[2] ?? "");
        if (language === "ts" || language === "js") break;
        inFence = fenceLine[1];
      }
    }
    const after = lines.slice(end + 1, next).join("\n");
    blocks.push({ file, line: start + 1, info, language: languageOf(info), code, markers, after });
    i = end + 1;
  }
  return blocks;
}

/** Every fenced block of every README, in file order. */
export function readmeBlocks(root = repoRoot): CodeBlock[] {
  return readmeFiles(root).flatMap((file) => extractBlocks(readFileSync(join(root, file), "utf8"), file));
}

/** The marker that starts with `name` ("run", "skip: why", "declare const x: T", "value T"), without the name. */
export function marker(block: CodeBlock, name: string): string | undefined {
  for (const m of block.markers) {
    if (m === name) return "";
    if (m.startsWith(`${name} `) || m.startsWith(`${name}:`))
      return m.slice(name.length).replace(/^:/, "").trim();
  }
  return undefined;
}

export function relativeToRoot(path: string, root = repoRoot): string {
  return relative(root, path);
}
