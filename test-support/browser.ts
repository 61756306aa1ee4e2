/** Debian's Chromium driven by playwright-core, for tests that watch a stream as a viewer would. */
import { existsSync } from "node:fs";
import { type BrowserContext, chromium } from "playwright-core";
import { requireTool, tempDir } from "./media-tools.js";

export const CHROMIUM = "/usr/bin/chromium";
export const hasChromium = requireTool(`Chromium (${CHROMIUM})`, existsSync(CHROMIUM));

/** Headless Chromium with a fresh profile and the flags that work on this machine (see TOOLCHAIN.md). */
export async function launchChromium(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = tempDir("onair-chromium-");
  const context = await chromium.launchPersistentContext(profile.path, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      profile.remove();
    },
  };
}
