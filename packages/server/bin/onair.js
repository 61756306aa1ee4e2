#!/usr/bin/env node
// The workspace's `onair` bin. It is committed so that `pnpm install` can link it before anything is
// built; the published package points its bin straight at dist/cli.js (publishConfig.bin).
const cli = new URL("../dist/cli.js", import.meta.url);
try {
  await import(cli.href);
} catch (error) {
  if (error?.code === "ERR_MODULE_NOT_FOUND" && error.url === cli.href) {
    process.stderr.write("onair: the server is not built yet; run `pnpm build` first\n");
    process.exit(1);
  }
  throw error;
}
