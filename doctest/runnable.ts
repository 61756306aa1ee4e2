/**
 * What a README says about running a `<!-- doctest: run -->` block, read from the block and the
 * text after it (up to the next heading or code block to check):
 * - the URL ffmpeg publishes to: an `rtmp://` URL on a line that runs or mentions `ffmpeg`;
 * - the URLs to play: those on `ffplay` lines, and every `http://…/*.flv` URL;
 * - the environment: `NAME=value node FILE` (or `pnpm example FILE`) in an sh block;
 * - expected output: `// prints "…"` comments.
 * The fixed ports of the README (RTMP 1935, HTTP 7001) are rewritten to free ones for the test.
 */
import type { CodeBlock } from "./extract.js";

export interface RunPlan {
  /** File name the README says to save the block as (`node app.mjs`), or block.ts / block.mjs. */
  fileName: string;
  env: Record<string, string>;
  publishUrl: string | undefined;
  playUrls: string[];
  /** Strings the block's comments say it prints. */
  prints: string[];
}

export const DOC_RTMP_PORT = 1935;
export const DOC_HTTP_PORT = 7001;

const urlPattern = /(rtmp|https?):\/\/[^\s"'`)]+/g;

function urlsIn(line: string): string[] {
  return [...line.matchAll(urlPattern)].map((m) => m[0].replace(/[.,;]+$/, ""));
}

/** RTMP URLs without a port get the default one, so that port rewriting finds them. */
function withDefaultPort(url: string): string {
  return url.replace(/^rtmp:\/\/([^/:]+)\//, `rtmp://$1:${DOC_RTMP_PORT}/`);
}

export function runPlan(block: CodeBlock): RunPlan {
  const lines = `${block.code}\n${block.after}`.split("\n");
  let publishUrl: string | undefined;
  const playUrls: string[] = [];
  const env: Record<string, string> = {};
  let fileName = block.language === "js" ? "block.mjs" : "block.ts";
  for (const line of lines) {
    if (publishUrl === undefined && /\bffmpeg\b/.test(line)) {
      publishUrl = urlsIn(line).find((u) => u.startsWith("rtmp://"));
    }
    if (/\bffplay\b/.test(line)) playUrls.push(...urlsIn(line));
    else playUrls.push(...urlsIn(line).filter((u) => /^https?:\/\/[^?]*\.flv(\?|$)/.test(u)));
    const run = /^\s*((?:[A-Z_][A-Z0-9_]*=\S*\s+)*)(?:node|pnpm example)\s+(\S+\.(?:mjs|js|ts|mts))\s*$/.exec(
      line,
    );
    if (run !== null) {
      fileName = run[2] ?? fileName;
      for (const pair of (run[1] ?? "").trim().split(/\s+/).filter(Boolean)) {
        const [name = "", ...value] = pair.split("=");
        env[name] = value.join("=");
      }
    }
  }
  const prints = [...block.code.matchAll(/\/\/ prints "([^"]+)"/g)].map((m) => m[1] ?? "");
  return {
    fileName,
    env,
    publishUrl: publishUrl === undefined ? undefined : withDefaultPort(publishUrl),
    // Template URLs (`${flv.port}`) are what the program prints, not something to play.
    playUrls: [...new Set(playUrls.filter((u) => !u.includes("${")).map(withDefaultPort))],
    prints,
  };
}

/** The README's ports 1935 and 7001 replaced by the test's. */
export function rewritePorts(text: string, ports: { rtmp: number; http: number }): string {
  return text
    .replace(new RegExp(`\\b${DOC_RTMP_PORT}\\b`, "g"), String(ports.rtmp))
    .replace(new RegExp(`\\b${DOC_HTTP_PORT}\\b`, "g"), String(ports.http));
}
