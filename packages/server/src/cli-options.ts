import { loadConfig, usage } from "./config.js";
import type { OnairConfig } from "./config-types.js";

/** The CLI's help text: every flag, its ONAIR_* variable and its default. */
export const USAGE = usage();

/**
 * The flags alone, checked (no environment, no files read): what `onair ARGS` would start with
 * when nothing else is set. Throws a `ConfigError` naming the flag for a bad one.
 */
export function parseCliOptions(argv: string[]): { help: true } | { help: false; options: OnairConfig } {
  const loaded = loadConfig({ argv, readFiles: false });
  return loaded.help ? { help: true } : { help: false, options: loaded.config };
}
