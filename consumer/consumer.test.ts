/**
 * The packages as a user gets them: every package under packages/ is built and packed (`pnpm pack`
 * rewrites `workspace:^` to versions and applies publishConfig), the tarballs are installed with npm
 * into a scratch app outside the workspace, and the root README's "Embedding" code — read from the
 * README at test time — is type-checked with TypeScript 5.9 and 7, run with plain `node`, and
 * published into with ffmpeg and played with ffprobe over RTMP and HTTP-FLV.
 *
 * Needs the npm registry (TypeScript, @types/node and the packages' own dependencies); npm's cache
 * makes runs after the first one fast.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  freePort,
  hasFfmpeg,
  type ProbeResult,
  probeFrames,
  publishWithFfmpeg,
  type RunningProcess,
  tempDir,
  waitFor,
} from "../test-support/media-tools.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const execFileAsync = promisify(execFile);

async function sh(command: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { cwd, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    throw new Error(
      `${command} ${args.join(" ")} failed in ${cwd}:\n${e.stdout ?? ""}\n${e.stderr ?? e.message}`,
    );
  }
}

/** The README's "Embedding" section: its TypeScript code and the shell lines that go with it. */
function readEmbedding(): { code: string; token: string; publishPath: string; notes: string[] } {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const start = readme.indexOf("\n## Embedding");
  if (start < 0) throw new Error('README.md has no "## Embedding" section');
  const next = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, next < 0 ? undefined : next);
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (code === undefined) throw new Error("README's Embedding section has no ```ts block");
  const notes: string[] = [];
  // The token the README starts the app with (`TOKEN=... node app.mjs`) must be the one its ffmpeg
  // line publishes with (`?token=...`); with no such lines, the test supplies both.
  const shell = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  const envToken = /\bTOKEN=(\S+)/.exec(shell)?.[1];
  const publishUrl = /ffmpeg\b.*?["']?(rtmp:\/\/[^\s"']+)/.exec(shell)?.[1];
  let token = "consumer-secret";
  let publishPath = "live/demo";
  if (publishUrl === undefined) {
    notes.push(
      "README shows no ffmpeg publish line for the snippet; the test publishes to live/demo?token=…",
    );
  } else {
    const url = new URL(publishUrl);
    publishPath = url.pathname.slice(1);
    const urlToken = url.searchParams.get("token");
    if (code.includes("process.env.TOKEN") && urlToken === null) {
      throw new Error(`README's publish URL ${publishUrl} has no ?token= but the snippet requires one`);
    }
    if (urlToken !== null && envToken !== undefined && urlToken !== envToken && !urlToken.startsWith("$")) {
      throw new Error(`README starts the app with TOKEN=${envToken} but publishes with ?token=${urlToken}`);
    }
    if (urlToken !== null && !urlToken.startsWith("$")) token = urlToken;
    notes.push(`README publishes to ${publishUrl} with TOKEN=${envToken ?? "(unset)"}`);
  }
  return { code, token, publishPath, notes };
}

function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve();
      });
      socket.once("error", () => {
        socket.destroy();
        if (Date.now() - start > timeoutMs) reject(new Error(`nothing listens on port ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

interface RunningApp {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

function startApp(cwd: string, nodeArgs: string[], env: Record<string, string>): RunningApp {
  const child = spawn(process.execPath, nodeArgs, { cwd, env: { ...process.env, ...env } });
  let output = "";
  child.stdout.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

function describeProbe(probe: ProbeResult): string {
  const video = probe.frames.filter((f) => f.mediaType === "video").length;
  const audio = probe.frames.filter((f) => f.mediaType === "audio").length;
  const codecs = probe.streams.map((s) =>
    s.width ? `${s.codec_name} ${s.width}x${s.height}` : s.codec_name,
  );
  return `${codecs.join(" + ")}; ${video} video and ${audio} audio frames decoded`;
}

describe.skipIf(!hasFfmpeg)("the packed packages in an app outside the workspace", () => {
  const work = tempDir("onair-consumer-");
  const tarballs = join(work.path, "tarballs");
  const app = join(work.path, "app");
  const embedding = readEmbedding();
  const apps: RunningApp[] = [];
  const publishers: RunningProcess[] = [];
  const report: string[] = [...embedding.notes];
  let packageDirs: string[] = [];

  beforeAll(async () => {
    await sh("pnpm", ["-r", "--filter", "./packages/*", "run", "build"], root);
    // Every package under packages/, so one added later is packed and installed too.
    packageDirs = readdirSync(join(root, "packages"), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(root, "packages", d.name))
      .filter((dir) => readdirSync(dir).includes("package.json"));
    await sh("mkdir", ["-p", tarballs, app], work.path);
    await Promise.all(packageDirs.map((dir) => sh("pnpm", ["pack", "--pack-destination", tarballs], dir)));
    const packed = readdirSync(tarballs).filter((f) => f.endsWith(".tgz"));
    expect(packed).toHaveLength(packageDirs.length);

    writeFileSync(
      join(app, "package.json"),
      `${JSON.stringify({ name: "onair-consumer-app", private: true, type: "module" }, null, 2)}\n`,
    );
    // One npm install for all tarballs, so their dependencies on each other (^0.1.0) resolve to
    // the tarballs; both compilers under aliases, side by side.
    await sh(
      "npm",
      [
        "install",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        ...packed.map((f) => join(tarballs, f)),
        "ts59@npm:typescript@~5.9.3",
        "ts7@npm:typescript@^7",
      ],
      app,
    );
    writeFileSync(join(app, "app.mts"), embedding.code);
  }, 240_000);

  afterAll(async () => {
    for (const p of publishers) p.kill();
    await Promise.all(apps.map((a) => a.stop()));
    work.remove();
    // The lead quotes these lines.
    console.log(["consumer test:", ...report.map((line) => `  ${line}`)].join("\n"));
  });

  it("ships only dist and README, with no source condition in the packed package.json", async () => {
    for (const file of readdirSync(tarballs).filter((f) => f.endsWith(".tgz"))) {
      const tarball = join(tarballs, file);
      const manifest = JSON.parse(await sh("tar", ["-xzOf", tarball, "package/package.json"], work.path));
      const entries = (await sh("tar", ["-tzf", tarball], work.path)).trim().split("\n");
      expect(JSON.stringify(manifest.exports), file).not.toContain("source");
      expect(JSON.stringify(manifest.dependencies ?? {}), file).not.toContain("workspace:");
      expect(manifest.exports["."].types, file).toMatch(/^\.\/dist\/.*\.d\.ts$/);
      expect(manifest.types, file).toBe(manifest.exports["."].types);
      expect(manifest.main, file).toBe(manifest.exports["."].default ?? manifest.exports["."].import);
      for (const bin of Object.values<string>(manifest.bin ?? {})) {
        expect(entries, `${file} bin ${bin}`).toContain(`package/${bin.replace(/^\.\//, "")}`);
      }
      const stray = entries.filter((e) => !/^package\/(dist\/|README\.md$|package\.json$|LICENSE)/.test(e));
      expect(stray, file).toEqual([]);
      report.push(
        `${manifest.name}@${manifest.version}: ${entries.length} files, exports ${JSON.stringify(manifest.exports["."])}`,
      );
    }
  });

  it("type-checks the README's Embedding code with TypeScript 5.9 and 7, strict and nodenext, with and without types auto-inclusion, and with an own source condition", async () => {
    const configs: Record<string, Record<string, unknown>> = {
      "default types": {},
      "types: []": { types: [] },
      // What this one tests is resolution (a "source" condition reaching raw .ts would be TS7016 or
      // TS2307 in the app's own file), so it skips the library check the two above already did.
      'customConditions: ["source"]': { types: [], customConditions: ["source"], skipLibCheck: true },
    };
    const compilers = { "5.9": "node_modules/ts59/bin/tsc", "7": "node_modules/ts7/bin/tsc" };
    const checks = Object.entries(compilers).flatMap(([compiler, tsc]) =>
      Object.entries(configs).map(async ([configName, extra], i) => {
        const tsconfig = `tsconfig.check-${compiler}-${i}.json`;
        const compilerOptions = {
          strict: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          noEmit: true,
          // Our .d.ts files are checked too, not only the app's use of them.
          skipLibCheck: false,
          ...extra,
        };
        writeFileSync(join(app, tsconfig), JSON.stringify({ compilerOptions, files: ["app.mts"] }, null, 2));
        const version = (await sh("node", [tsc, "--version"], app)).trim();
        await sh("node", [tsc, "-p", tsconfig], app);
        return `${version}, ${configName}: type-checks`;
      }),
    );
    const results = await Promise.all(checks);
    expect(results).toHaveLength(6);
    report.push(...results);
  }, 120_000);

  it("runs with plain node: ffmpeg publishes with the README's token, ffprobe plays over RTMP and HTTP-FLV, and a publish without the token is refused", async () => {
    // Plain JavaScript from tsc (the checks above are the type-check; TypeScript 7 is the quick
    // emitter), with the README's ports swapped for free ones.
    writeFileSync(
      join(app, "tsconfig.emit.json"),
      JSON.stringify({
        compilerOptions: { module: "nodenext", target: "es2022", outDir: "build", skipLibCheck: true },
        files: ["app.mts"],
      }),
    );
    await sh("node", ["node_modules/ts7/bin/tsc", "-p", "tsconfig.emit.json"], app);
    const rtmpPort = await freePort();
    const flvPort = await freePort();
    let js = readFileSync(join(app, "build/app.mjs"), "utf8");
    for (const [readmePort, port] of [
      [1935, rtmpPort],
      [7001, flvPort],
    ]) {
      expect(js, `the Embedding code listens on ${readmePort}`).toContain(`.listen(${readmePort})`);
      js = js.replace(`.listen(${readmePort})`, `.listen(${port})`);
    }
    writeFileSync(join(app, "build/app-test.mjs"), js);

    const server = startApp(app, ["build/app-test.mjs"], { TOKEN: embedding.token });
    apps.push(server);
    await waitForPort(flvPort);
    await waitForPort(rtmpPort);

    const streamUrl = `rtmp://127.0.0.1:${rtmpPort}/${embedding.publishPath}`;
    const refused = publishWithFfmpeg(streamUrl, { seconds: 5 });
    publishers.push(refused);
    const refusedExit = await Promise.race([
      refused.exited,
      new Promise((resolve) => setTimeout(() => resolve("still publishing after 15 s"), 15_000)),
    ]);
    expect(refusedExit, refused.stderr()).not.toBe(0);
    expect(refusedExit).not.toBe("still publishing after 15 s");
    report.push(`publish without ?token= refused: ffmpeg exit ${refusedExit}`);

    const publisher = publishWithFfmpeg(`${streamUrl}?token=${encodeURIComponent(embedding.token)}`, {
      seconds: 30,
    });
    publishers.push(publisher);
    await waitFor(
      () => server.output().includes(embedding.publishPath),
      15_000,
      "the app's publish log line",
    );

    // A few seconds of each, then ffprobe ends on its own (the stream itself stays up).
    const [rtmp, flv] = await Promise.all([
      probeFrames(streamUrl, ["-read_intervals", "%+3"], 30_000),
      probeFrames(
        `http://127.0.0.1:${flvPort}/${embedding.publishPath}.flv`,
        ["-read_intervals", "%+3"],
        30_000,
      ),
    ]);
    publisher.kill();
    for (const [protocol, probe] of [
      ["RTMP", rtmp],
      ["HTTP-FLV", flv],
    ] as const) {
      expect(probe.exitCode, `${protocol}: ${probe.stderr}`).toBe(0);
      expect(probe.streams.map((s) => s.codec_name).sort(), protocol).toEqual(["aac", "h264"]);
      expect(probe.frames.filter((f) => f.mediaType === "video").length, protocol).toBeGreaterThanOrEqual(50);
      expect(probe.frames.filter((f) => f.mediaType === "audio").length, protocol).toBeGreaterThanOrEqual(80);
      report.push(`node build/app.mjs, ${protocol} play: ${describeProbe(probe)}`);
    }
    report.push(`app output: ${JSON.stringify(server.output().trim())}`);
    await server.stop();
  }, 90_000);

  it("runs under node --conditions=source: the packages answer their dist, never raw .ts", async () => {
    const rtmpPort = await freePort();
    const flvPort = await freePort();
    // The app's own code uses the same condition: node resolves every @onair import to dist.
    const script = [
      'import { StreamHub } from "@onair/core";',
      'import { createRtmpServer } from "@onair/rtmp";',
      'import { createHttpFlvServer } from "@onair/flv";',
      'import { OnairServer } from "@onair/server";',
      "const hub = new StreamHub();",
      `await createRtmpServer({ handler: hub }).listen(${rtmpPort}, "127.0.0.1");`,
      `await createHttpFlvServer({ handler: hub }).listen(${flvPort}, "127.0.0.1");`,
      'console.log("loaded", typeof OnairServer, import.meta.resolve("@onair/core"));',
    ].join("\n");
    writeFileSync(join(app, "conditions.mjs"), script);
    const server = startApp(app, ["--conditions=source", "conditions.mjs"], {});
    apps.push(server);
    await waitFor(
      () => server.output().includes("loaded") || server.child.exitCode !== null,
      15_000,
      "the app",
    );
    expect(server.output()).toMatch(
      /loaded function file:\/\/\S+\/node_modules\/@onair\/core\/dist\/index\.js/,
    );
    await waitForPort(rtmpPort);
    await waitForPort(flvPort);
    report.push(`node --conditions=source: ${server.output().trim()}`);
    await server.stop();
  });

  it("runs the onair CLI from the tarball: npx onair --help exits 0", async () => {
    const help = await sh("npx", ["--no-install", "onair", "--help"], app);
    expect(help).toMatch(/^Usage: onair/);
    report.push(`npx onair --help: exit 0, "${help.split("\n")[0]}"`);
  });
});
