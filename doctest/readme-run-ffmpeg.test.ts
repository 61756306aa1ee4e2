/**
 * Every README block marked `<!-- doctest: run -->` runs as a real program, as the README says
 * (`node --conditions=source --import tsx FILE`, with the environment the README gives), on free
 * ports: ffmpeg publishes to the URL the README shows, ffprobe plays every URL it shows, and the
 * program stops on SIGINT. A block that starts no server runs to its end and prints what its
 * `// prints "…"` comments say.
 */
import { symlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  freePort,
  hasFfmpeg,
  probeFrames,
  publishWithFfmpeg,
  type RunningProcess,
  run,
  tempDir,
} from "../test-support/media-tools.js";
import { type CodeBlock, marker, readmeBlocks, repoRoot, where } from "./extract.js";
import { rewritePorts, runPlan } from "./runnable.js";

const runnable = readmeBlocks().filter((block) => marker(block, "run") !== undefined);

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function waitForPort(port: number, program: RunningProcess, timeoutMs: number): Promise<void> {
  const start = Date.now();
  while (!(await portOpen(port))) {
    if (program.child.exitCode !== null || program.child.signalCode !== null) {
      throw new Error(
        `the program ended before port ${port} opened:\n${program.stderr()}${program.stdout()}`,
      );
    }
    if (Date.now() - start > timeoutMs) throw new Error(`port ${port} did not open:\n${program.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Writes the block (ports rewritten) into a scratch app whose node_modules is the workspace's. */
function startProgram(block: CodeBlock, ports: { rtmp: number; http: number }) {
  const plan = runPlan(block);
  const dir = tempDir("onair-doctest-");
  symlinkSync(join(repoRoot, "node_modules"), join(dir.path, "node_modules"), "dir");
  writeFileSync(join(dir.path, "package.json"), '{ "type": "module" }\n');
  const file = join(dir.path, plan.fileName);
  writeFileSync(file, rewritePorts(block.code, ports));
  const env = Object.entries(plan.env).map(([name, value]) => `${name}=${value}`);
  // `env` sets the README's variables and then becomes node (same pid, so signals reach node).
  const program = run("env", [...env, process.execPath, "--conditions=source", "--import", "tsx", file]);
  return { plan, dir, program };
}

describe.skipIf(!hasFfmpeg)("README blocks marked run", () => {
  it("the root README's Embedding snippet and each package's main example are marked run", () => {
    const files = new Set(runnable.map((block) => block.file));
    for (const file of [
      "README.md",
      "packages/core/README.md",
      "packages/rtmp/README.md",
      "packages/flv/README.md",
    ]) {
      expect(files, file).toContain(file);
    }
    for (const block of runnable) expect(block.language, where(block)).toMatch(/^(ts|js)$/);
  });

  it.each(runnable.map((block) => [where(block), block] as const))(
    "%s runs as written",
    async (_where, block) => {
      const ports = { rtmp: await freePort(), http: await freePort() };
      const { plan, dir, program } = startProgram(block, ports);
      let publisher: RunningProcess | undefined;
      try {
        if (plan.publishUrl === undefined) {
          // A program that starts no server: it ends by itself and prints what it says.
          const timer = setTimeout(() => program.kill(), 30_000);
          const code = await program.exited;
          clearTimeout(timer);
          expect(code, program.stderr()).toBe(0);
          expect(plan.prints.length, "a block that serves nothing says what it prints").toBeGreaterThan(0);
          for (const text of plan.prints) expect(program.stdout()).toContain(text);
          return;
        }
        expect(plan.playUrls.length, `${where(block)}: no URL to play`).toBeGreaterThan(0);
        await waitForPort(ports.rtmp, program, 30_000);
        if (plan.playUrls.some((url) => url.startsWith("http")))
          await waitForPort(ports.http, program, 10_000);
        publisher = publishWithFfmpeg(rewritePorts(plan.publishUrl, ports), { seconds: 10 });
        await new Promise((r) => setTimeout(r, 1500));
        expect(publisher.child.exitCode, `ffmpeg was refused: ${publisher.stderr()}`).toBeNull();
        const probes = await Promise.all(
          plan.playUrls.map((url) =>
            probeFrames(rewritePorts(url, ports), ["-read_intervals", "%+3"], 30_000),
          ),
        );
        probes.forEach((probe, i) => {
          const what = `${plan.playUrls[i]}: ${probe.stderr}`;
          expect(probe.streams.find((s) => s.codec_type === "video")?.codec_name, what).toBe("h264");
          expect(probe.streams.find((s) => s.codec_type === "audio")?.codec_name, what).toBe("aac");
          const video = probe.frames.filter((f) => f.mediaType === "video");
          expect(video.length, what).toBeGreaterThanOrEqual(30);
          expect(video[0]?.keyFrame, what).toBe(true);
          expect(probe.frames.filter((f) => f.mediaType === "audio").length, what).toBeGreaterThanOrEqual(30);
        });
        publisher.kill("SIGTERM");
        await publisher.exited;
        // Ctrl-C: the program ends, by its own SIGINT handler (exit 0) or by the signal.
        program.kill("SIGINT");
        const timer = setTimeout(() => program.kill(), 10_000);
        const code = await program.exited;
        clearTimeout(timer);
        expect([0, "SIGINT"], `exit ${code}: ${program.stderr()}`).toContain(code);
        expect(program.stderr()).not.toMatch(/Error/);
      } finally {
        publisher?.kill();
        program.kill();
        await program.exited;
        dir.remove();
      }
    },
    90_000,
  );
});
