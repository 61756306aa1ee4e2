/**
 * Type-checks README code blocks with the repository's TypeScript and compiler options (strict,
 * NodeNext, the "source" condition), each block its own module, all blocks in one program. The
 * blocks are files in memory only, placed under doctest/ so that `@onair/*` resolves through the
 * workspace as it does for an app that installed the packages.
 */
import { join } from "node:path";
import ts from "typescript";
import { type CodeBlock, marker, repoRoot, where } from "./extract.js";

export interface BlockProblem {
  block: CodeBlock;
  /** "README.md:42" for the problem's own line, when it has one. */
  at: string;
  message: string;
}

export interface CheckedSource {
  block: CodeBlock;
  /** The module the compiler sees. */
  text: string;
  /** Lines added before the block's code (markers' declarations). */
  preludeLines: number;
  path: string;
}

/** Whether a block is type-checked: ts/js blocks not marked `skip: reason`. */
export function isTypeChecked(block: CodeBlock): boolean {
  return (block.language === "ts" || block.language === "js") && marker(block, "skip") === undefined;
}

/**
 * The module for one block:
 * - `declare …` markers become declarations before the code (a fragment's context: `hub`, …);
 * - `value TYPE` makes the block an expression that must be a TYPE (a value a README shows);
 * - `export {}` makes every block a module of its own.
 */
export function blockSource(block: CodeBlock, index: number): CheckedSource {
  const prelude = block.markers.filter((m) => m.startsWith("declare ")).map((m) => `${m};`);
  const valueType = marker(block, "value");
  const head = [...prelude];
  let tail = "";
  if (valueType !== undefined) {
    head.push(`export const documentedValue: ${valueType} = (`);
    tail = "\n);";
  }
  const name = `${block.file.replace(/[^A-Za-z0-9]+/g, "-")}-${block.line}-${index}`;
  const ext = block.language === "js" ? "mjs" : "mts";
  return {
    block,
    text: `${head.join("\n")}${head.length > 0 ? "\n" : ""}${block.code}${tail}\nexport {};\n`,
    preludeLines: head.length,
    path: join(repoRoot, "doctest", "__readme_blocks__", `${name}.${ext}`),
  };
}

function compilerOptions(): ts.CompilerOptions {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(repoRoot, "tsconfig.json"), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    },
  });
  if (parsed === undefined) throw new Error("cannot read tsconfig.json");
  return {
    ...parsed.options,
    noEmit: true,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
    allowJs: true,
    checkJs: true,
  };
}

/** Type-checks every block that is checked; gives one problem per diagnostic, at README file:line. */
export function typecheckBlocks(blocks: CodeBlock[]): { checked: CheckedSource[]; problems: BlockProblem[] } {
  const checked = blocks.filter(isTypeChecked).map(blockSource);
  const byPath = new Map(checked.map((c) => [c.path, c]));
  const options = compilerOptions();
  const host = ts.createCompilerHost(options, true);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (path) => byPath.has(path) || fileExists.call(host, path);
  host.readFile = (path) => byPath.get(path)?.text ?? readFile.call(host, path);
  host.getSourceFile = (path, languageVersion, onError, shouldCreate) => {
    const virtual = byPath.get(path);
    if (virtual !== undefined) return ts.createSourceFile(path, virtual.text, languageVersion, true);
    return getSourceFile.call(host, path, languageVersion, onError, shouldCreate);
  };
  const program = ts.createProgram({ rootNames: [...byPath.keys()], options, host });
  const problems: BlockProblem[] = [];
  for (const diagnostic of program.getOptionsDiagnostics()) {
    problems.push({
      block: checked[0]?.block as CodeBlock,
      at: "tsconfig.json",
      message: ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"),
    });
  }
  for (const source of checked) {
    const file = program.getSourceFile(source.path);
    if (file === undefined) throw new Error(`${where(source.block)}: not in the program`);
    const diagnostics = [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)];
    for (const diagnostic of diagnostics) {
      let at = where(source.block);
      if (diagnostic.file !== undefined && diagnostic.start !== undefined) {
        const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
        const codeLine = Math.max(0, line - source.preludeLines);
        at = `${source.block.file}:${source.block.line + codeLine}`;
      }
      problems.push({
        block: source.block,
        at,
        message: `TS${diagnostic.code}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`,
      });
    }
  }
  return { checked, problems };
}
