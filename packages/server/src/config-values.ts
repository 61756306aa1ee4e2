/**
 * Value parsers for settings. Each takes what a YAML file (any JSON type), an environment variable
 * or a flag (strings; `true` for a bare boolean flag) gave, and returns the typed value or throws a
 * {@link ConfigValueError} whose message says what was expected.
 */

/** A value that does not fit its setting; the loader adds the setting's name and where it came from. */
export class ConfigValueError extends Error {}

export interface HostPort {
  /** undefined when the address names only a port (":1935"). */
  host: string | undefined;
  port: number;
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

export function parseString(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  throw new ConfigValueError(`must be a string, got ${show(value)}`);
}

export function parseNonEmpty(value: unknown): string {
  const s = parseString(value);
  if (s.trim() === "") throw new ConfigValueError("must not be empty");
  return s;
}

export function parseBool(value: unknown): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "string") {
    const v = value.trim().toLowerCase();
    if (["true", "1", "yes", "on"].includes(v)) return true;
    if (["false", "0", "no", "off"].includes(v)) return false;
  }
  throw new ConfigValueError(`must be true or false, got ${show(value)}`);
}

function wholeNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isInteger(value) ? value : undefined;
  if (typeof value === "string" && /^\s*\d+\s*$/.test(value)) return Number(value);
  return undefined;
}

export function parsePort(value: unknown): number {
  const n = wholeNumber(value);
  if (n === undefined || n < 0 || n > 65535) {
    throw new ConfigValueError(`must be a port number (0 to 65535; 0 picks a free one), got ${show(value)}`);
  }
  return n;
}

export function parseCount(value: unknown): number {
  const n = wholeNumber(value);
  if (n === undefined || n < 0 || !Number.isSafeInteger(n)) {
    throw new ConfigValueError(`must be a whole number, got ${show(value)}`);
  }
  return n;
}

export function parsePositive(value: unknown): number {
  const n = parseCount(value);
  if (n === 0) throw new ConfigValueError(`must be at least 1, got ${show(value)}`);
  return n;
}

/** "host:port", ":port", "port" or "[v6]:port". */
export function parseAddress(value: unknown): HostPort {
  const text =
    typeof value === "number" ? String(value) : typeof value === "string" ? value.trim() : undefined;
  const match = text === undefined ? null : /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]\s]*):)?(\d+)$/.exec(text);
  if (match === null) {
    throw new ConfigValueError(`must be "host:port" or ":port" (as ":1935"), got ${show(value)}`);
  }
  const host = match[1] === undefined || match[1] === "" ? undefined : match[1].replace(/^\[|\]$/g, "");
  const port = Number(match[2]);
  if (port > 65535)
    throw new ConfigValueError(`must be "host:port" with a port from 0 to 65535, got ${show(value)}`);
  return { host, port };
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The longest delay a Node timer takes (setTimeout, AbortSignal.timeout). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A duration in milliseconds. A plain number is in `unit` ("ms" or "s", fractions allowed for
 * seconds); a string may name its unit: "500ms", "2s", "1.5s", "1m".
 */
export function parseDuration(value: unknown, unit: "ms" | "s"): number {
  const plain = typeof value === "number" ? value : undefined;
  const text = typeof value === "string" ? value.trim() : undefined;
  const match = text === undefined ? null : /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text);
  const amount = plain ?? (match === null ? Number.NaN : Number(match[1]));
  const scale = match?.[2] !== undefined ? (UNITS[match[2]] ?? 1) : unit === "s" ? 1000 : 1;
  const ms = amount * scale;
  if (!Number.isFinite(ms) || ms < 0 || !Number.isSafeInteger(Math.round(ms))) {
    throw new ConfigValueError(
      `must be a duration (a number of ${unit === "s" ? "seconds" : "milliseconds"}, or "500ms", "2s", "1m"), got ${show(value)}`,
    );
  }
  // Every duration ends up in a Node timer, which holds 2^31-1 ms at most (it fires after 1 ms
  // past that, or throws).
  if (ms > MAX_TIMER_MS) {
    throw new ConfigValueError(
      `must be at most ${MAX_TIMER_MS} ms (about 24.8 days, the longest a timer holds), got ${show(value)}`,
    );
  }
  return Math.round(ms);
}

export function parseChoice<T extends string>(choices: readonly T[]): (value: unknown) => T {
  return (value) => {
    if (typeof value === "string" && (choices as readonly string[]).includes(value)) return value as T;
    throw new ConfigValueError(`must be one of ${choices.join(", ")}, got ${show(value)}`);
  };
}

/** An http:// or https:// URL. */
export function parseHttpUrl(value: unknown): string {
  const s = parseNonEmpty(value);
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw new ConfigValueError(`must be an http:// or https:// URL, got ${show(value)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigValueError(`must be an http:// or https:// URL, got ${show(value)}`);
  }
  return s;
}

/**
 * An rtmp:// URL with a host and an app, as a static push target needs (relays do not speak
 * RTMPS: an rtmps:// URL here would pass the start's checks and then fail it).
 */
export function parseRtmpUrl(value: unknown): string {
  const s = parseNonEmpty(value);
  let url: URL | undefined;
  try {
    url = new URL(s);
  } catch {
    url = undefined;
  }
  if (url === undefined || url.protocol !== "rtmp:" || url.hostname === "" || /^\/*$/.test(url.pathname)) {
    const why = url?.protocol === "rtmps:" ? " (relays do not speak RTMPS)" : "";
    throw new ConfigValueError(`must be an rtmp://HOST/APP URL${why}, got ${show(value)}`);
  }
  return s;
}

/** A list: a YAML sequence, or a comma-separated string from the environment or a flag. */
export function parseList<T>(item: (value: unknown) => T): (value: unknown) => T[] {
  return (value) => {
    const items =
      typeof value === "string"
        ? value
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s !== "")
        : value;
    if (!Array.isArray(items)) throw new ConfigValueError(`must be a list, got ${show(value)}`);
    return items.map((v, i) => {
      try {
        return item(v);
      } catch (error) {
        throw new ConfigValueError(`item ${i + 1} ${(error as Error).message}`);
      }
    });
  };
}
