/** The ready server as a user runs it: the CLI, with ffmpeg publishing and ffprobe playing. */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  freePort,
  hasFfmpeg,
  probeFrames,
  publishWithFfmpeg,
  run,
  tempDir,
  waitFor,
} from "../../../test-support/media-tools.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));

describe.skipIf(!hasFfmpeg)("onair CLI with real peers", () => {
  it("serves RTMP and HTTP-FLV: logs one line per publish and play, and ffprobe decodes both", async () => {
    const port = await freePort();
    const flvPort = await freePort();
    const server = run("node", [
      "--conditions=source",
      "--import",
      "tsx",
      `${root}packages/server/src/cli.ts`,
      "--host",
      "127.0.0.1",
      "--rtmp-port",
      String(port),
      "--flv-port",
      String(flvPort),
      // The players end with the publisher rather than wait for it to come back.
      "--republish-grace",
      "0",
      "--rtmp-noauth",
      "--no-hls",
      "--no-api",
    ]);
    try {
      await waitFor(() => server.stdout().includes("onair ready"), 20_000, "server start");
      const publisher = publishWithFfmpeg(`rtmp://127.0.0.1:${port}/live/cli`, { seconds: 4 });
      await waitFor(() => server.stdout().includes("publish live/cli"), 10_000, "publish log");
      const [probe, httpProbe] = await Promise.all([
        probeFrames(`rtmp://127.0.0.1:${port}/live/cli`),
        probeFrames(`http://127.0.0.1:${flvPort}/live/cli.flv`),
      ]);
      expect(await publisher.exited).toBe(0);
      for (const p of [probe, httpProbe]) {
        expect(p.streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
        expect(p.frames.filter((f) => f.mediaType === "video").length).toBeGreaterThan(60);
      }
      await waitFor(() => server.stdout().includes("unpublish live/cli"), 5000, "unpublish log");
      expect(server.stdout()).toMatch(/play live\/cli/);
      server.kill("SIGTERM");
      expect(await server.exited).toBe(0);
    } finally {
      server.kill();
    }
  });
});

/** A process in its own process group, as a terminal runs a command, with its output. */
function spawnGroup(
  command: string,
  args: string[],
  cwd: string,
): { child: ChildProcess; output: () => string; exited: Promise<number | string> } {
  const child = spawn(command, args, { cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once("close", (code, signal) => resolve(code ?? signal ?? -1));
  });
  return { child, output: () => output, exited };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

describe("pnpm start", () => {
  it("ends quietly with exit code 0 on Ctrl-C (SIGINT to the process group, pnpm included)", async () => {
    const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const start = spawnGroup(
      "pnpm",
      [
        "start",
        "--host",
        "127.0.0.1",
        ...["--rtmp-port", "--flv-port", "--hls-port", "--api-port"].flatMap((flag, i) => [
          flag,
          String(ports[i]),
        ]),
      ],
      root,
    );
    try {
      await waitFor(() => start.output().includes("onair ready"), 20_000, "server start");
      killGroup(start.child, "SIGINT");
      expect(await start.exited).toBe(0);
      expect(start.output()).toContain("shutting down");
      expect(start.output()).not.toContain("ELIFECYCLE");
      // No build ran first: no tsc, no per-package output.
      expect(start.output()).not.toMatch(/tsc -p|packages\/\w+ build/);
    } finally {
      killGroup(start.child, "SIGKILL");
    }
  });

  it("answers --help and flag errors without building or listening", async () => {
    const help = spawnGroup("pnpm", ["start", "--help"], root);
    expect(await help.exited).toBe(0);
    expect(help.output()).toContain("Usage: onair [options]");
    expect(help.output()).not.toMatch(/tsc -p|listening/);
    const bad = spawnGroup("pnpm", ["start", "--rtmp-port", "99999"], root);
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toContain(
      'onair: --rtmp-port must be a port number (0 to 65535; 0 picks a free one), got "99999"',
    );
    expect(bad.output()).not.toMatch(/tsc -p|listening/);
  });

  it("runs dist/ when it is newer than src/, and the sources through tsx when they changed", async () => {
    // A copy of the start script over a fake packages/ tree whose two CLIs say which one ran.
    const dir = tempDir();
    try {
      mkdirSync(join(dir.path, "scripts"));
      copyFileSync(join(root, "scripts/start.mjs"), join(dir.path, "scripts/start.mjs"));
      symlinkSync(join(root, "node_modules"), join(dir.path, "node_modules"));
      const server = join(dir.path, "packages/server");
      mkdirSync(join(server, "src/nested"), { recursive: true });
      mkdirSync(join(server, "dist"));
      writeFileSync(join(server, "package.json"), '{ "type": "module" }');
      writeFileSync(
        join(server, "src/cli.ts"),
        'const from: string = "source";\nconsole.log(from, process.argv.slice(2).join(" "));\n',
      );
      writeFileSync(join(server, "src/nested/more.ts"), "export {};\n");
      writeFileSync(join(server, "dist/cli.js"), 'console.log("dist", process.argv.slice(2).join(" "));\n');
      const at = (path: string, seconds: number): void => utimesSync(join(server, path), seconds, seconds);
      const started = async (): Promise<string> => {
        const p = spawnGroup("node", ["scripts/start.mjs", "--flag"], dir.path);
        expect(await p.exited).toBe(0);
        return p.output();
      };
      at("src/cli.ts", 1000);
      at("src/nested/more.ts", 1000);
      at("dist/cli.js", 2000);
      expect(await started()).toBe("dist --flag\n");
      // A file deep in src/ changed after the build.
      at("src/nested/more.ts", 3000);
      const fromSource = await started();
      expect(fromSource).toContain("running from source (server changed since the last build;");
      expect(fromSource).toContain("source --flag\n");
      expect(readdirSync(join(server, "dist"))).toEqual(["cli.js"]);
    } finally {
      dir.remove();
    }
  });
});

describe.skipIf(!hasFfmpeg)("onair CLI logs and /streams", () => {
  it("logs a recording as a recording after its publish, and lists the URL the publisher used", async () => {
    const [port, flvPort] = [await freePort(), await freePort()];
    const dir = tempDir();
    // On every address (the default): the URLs must still name the one the client reached.
    const server = run("node", [
      "--conditions=source",
      "--import",
      "tsx",
      `${root}packages/server/src/cli.ts`,
      "--host",
      "0.0.0.0",
      "--rtmp-port",
      String(port),
      "--flv-port",
      String(flvPort),
      "--flv-dir",
      dir.path,
      "--republish-grace",
      "0",
      "--rtmp-noauth",
      "--no-hls",
      "--no-api",
    ]);
    try {
      await waitFor(() => server.stdout().includes("HTTP-FLV listening"), 20_000, "server start");
      const publisher = publishWithFfmpeg(`rtmp://127.0.0.1:${port}/live/truth`, { seconds: 3 });
      await waitFor(() => server.stdout().includes("record live/truth"), 10_000, "record log");
      const listed = (await (await fetch(`http://127.0.0.1:${flvPort}/streams`)).json()) as {
        streams: { key: string; publisher: { url: string } }[];
      };
      expect(listed.streams.map((s) => [s.key, s.publisher.url])).toEqual([
        ["live/truth", `rtmp://127.0.0.1:${port}/live/truth`],
      ]);
      expect(await publisher.exited).toBe(0);
      await waitFor(() => server.stdout().includes("unpublish live/truth"), 5000, "unpublish log");
      const lines = server.stdout().split("\n");
      const publishAt = lines.findIndex((l) => / publish live\/truth from 127\.0\.0\.1:\d+ /.test(l));
      const recordAt = lines.findIndex((l) =>
        new RegExp(
          ` record live/truth to ${dir.path}/live/truth-[\\dT-]+Z\\.flv \\(flv-record-\\d+\\)$`,
        ).test(l),
      );
      expect(publishAt).toBeGreaterThanOrEqual(0);
      expect(recordAt).toBeGreaterThan(publishAt);
      expect(server.stdout()).not.toMatch(/ play live\/truth/);
      server.kill("SIGINT");
      expect(await server.exited).toBe(0);
      expect(readdirSync(join(dir.path, "live"))).toHaveLength(1);
    } finally {
      server.kill();
      dir.remove();
    }
  });
});
