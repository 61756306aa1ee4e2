/**
 * The ready server's settings from three places: a YAML file (`-c FILE`), environment variables
 * (`ONAIR_<KEY>`) and flags (`--<key-with-dashes>`). Flags win over the environment, which wins over
 * the file. One table below names every setting once; the file key, the variable, the flag, the
 * help text and what the setting sets all come from it.
 */
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { OnairError } from "@onair/core";
import { isMap, isScalar, LineCounter, parseDocument, type YAMLMap } from "yaml";
import type { AppSettings, HlsVariant, OnairConfig } from "./config-types.js";
import {
  ConfigValueError,
  type HostPort,
  parseAddress,
  parseBool,
  parseChoice,
  parseCount,
  parseDuration,
  parseHttpUrl,
  parseList,
  parseNonEmpty,
  parsePort,
  parsePositive,
  parseRtmpUrl,
  parseString,
} from "./config-values.js";

/** A setting that is unknown or invalid. `setting` is its file key; `source` where it came from. */
export class ConfigError extends OnairError {
  constructor(
    message: string,
    readonly setting?: string,
    readonly source?: string,
  ) {
    super("ERR_CONFIG", message);
  }
}

export const DEFAULT_PORTS = Object.freeze({ rtmp: 1935, rtmps: 1936, flv: 7001, hls: 7002, api: 8090 });
export const DEFAULT_HLS_VARIANT: HlsVariant = "low-latency";

interface Setting {
  /** YAML key; "jwt.secret" is `secret` under `jwt:`. */
  key: string;
  /** Flag without "--"; default: the key with "_" and "." as "-". null: no flag (YAML and env only). */
  flag?: string | null;
  /** More flag names, kept from earlier versions. */
  aliases?: string[];
  short?: string;
  /** "value" shown in the help after the flag; absent for boolean flags. */
  arg?: string;
  parse: (value: unknown) => unknown;
  help: string;
  /** Help text's default. */
  default?: string;
  /** The flag is boolean and sets the opposite (`--no-hls` sets enable_hls: false). */
  invertFlag?: boolean;
  /** Not in env, not in flags (the `server:` list). */
  fileOnly?: boolean;
}

const variants = ["ts", "fmp4", "low-latency"] as const;
const ms = (v: unknown): number => parseDuration(v, "ms");
const seconds = (v: unknown): number => parseDuration(v, "s");

/** Every setting, in the order of the help text. */
const SETTINGS: readonly Setting[] = [
  {
    key: "config",
    short: "c",
    arg: "file",
    parse: parseNonEmpty,
    help: "YAML settings file",
    fileOnly: false,
  },
  {
    key: "host",
    arg: "address",
    parse: parseNonEmpty,
    help: "address the media listeners bind",
    default: "0.0.0.0",
  },
  { key: "rtmp_addr", arg: "host:port", parse: parseAddress, help: "RTMP listener", default: ":1935" },
  { key: "rtmp_port", arg: "port", parse: parsePort, help: "RTMP port", default: "1935" },
  {
    key: "httpflv_addr",
    arg: "host:port",
    parse: parseAddress,
    help: "HTTP-FLV and WS-FLV listener",
    default: ":7001",
  },
  { key: "flv_port", arg: "port", parse: parsePort, help: "HTTP-FLV and WS-FLV port", default: "7001" },
  { key: "hls_addr", arg: "host:port", parse: parseAddress, help: "HLS listener", default: ":7002" },
  { key: "hls_port", arg: "port", parse: parsePort, help: "HLS port", default: "7002" },
  {
    key: "api_addr",
    arg: "host:port",
    parse: parseAddress,
    help: "control API listener",
    default: "127.0.0.1:8090",
  },
  { key: "api_port", arg: "port", parse: parsePort, help: "control API port", default: "8090" },
  {
    key: "enable_hls",
    flag: "no-hls",
    invertFlag: true,
    parse: parseBool,
    help: "no HLS listener (enable_hls: false)",
  },
  {
    key: "enable_api",
    flag: "no-api",
    invertFlag: true,
    parse: parseBool,
    help: "no control API listener, nor /metrics (enable_api: false)",
  },
  {
    key: "rtmp_noauth",
    parse: parseBool,
    help: "publish without a channel key (development only)",
    default: "false",
  },
  {
    key: "redis_addr",
    arg: "host:port",
    parse: parseNonEmpty,
    help: "keep channel keys in Redis",
    default: "memory",
  },
  { key: "redis_pwd", arg: "password", parse: parseString, help: "Redis password" },
  { key: "jwt.secret", arg: "secret", parse: parseNonEmpty, help: "API calls need a JWT signed with it" },
  { key: "jwt.algorithm", arg: "alg", parse: parseNonEmpty, help: "JWT algorithm", default: "HS256" },
  {
    key: "enable_rtmps",
    parse: parseBool,
    help: "RTMPS listener (needs rtmps_cert and rtmps_key)",
    default: "false",
  },
  { key: "rtmps_addr", arg: "host:port", parse: parseAddress, help: "RTMPS listener", default: ":1936" },
  { key: "rtmps_port", arg: "port", parse: parsePort, help: "RTMPS port", default: "1936" },
  { key: "rtmps_cert", arg: "file", parse: parseNonEmpty, help: "RTMPS certificate chain (PEM file)" },
  { key: "rtmps_key", arg: "file", parse: parseNonEmpty, help: "RTMPS private key (PEM file)" },
  {
    key: "hls_variant",
    arg: "kind",
    parse: parseChoice(variants),
    help: "ts, fmp4 or low-latency",
    default: DEFAULT_HLS_VARIANT,
  },
  {
    key: "hls_target_duration",
    arg: "seconds",
    parse: seconds,
    help: "HLS segment target duration",
    default: "1",
  },
  {
    key: "hls_part_target",
    arg: "seconds",
    parse: seconds,
    help: "LL-HLS part target duration",
    default: "0.2",
  },
  { key: "hls_window", arg: "n", parse: parsePositive, help: "segments in a live playlist", default: "6" },
  {
    key: "hls_keep_after_end",
    arg: "seconds",
    parse: (v) => (typeof v === "boolean" ? (v ? 30_000 : 0) : seconds(v)),
    help: "keep an ended stream's playlist served",
    default: "30",
  },
  {
    key: "hls_dir",
    arg: "dir",
    parse: parseNonEmpty,
    help: "write HLS segments to files in DIR",
    default: "memory",
  },
  {
    key: "hls_cert",
    arg: "file",
    parse: parseNonEmpty,
    help: "serve HLS over HTTPS/HTTP2 with this certificate (PEM)",
  },
  { key: "hls_key", arg: "file", parse: parseNonEmpty, help: "the private key of hls_cert (PEM)" },
  {
    key: "flv_dir",
    arg: "dir",
    parse: parseNonEmpty,
    help: "record every stream to DIR/APP/NAME-<time>.flv",
    default: "off",
  },
  {
    key: "flv_archive",
    flag: null,
    parse: parseBool,
    help: "record to flv_dir (livego)",
    default: "true with flv_dir",
  },
  {
    key: "gop_num",
    aliases: ["gop-cache"],
    arg: "n",
    parse: parseCount,
    help: "GOPs kept for late players",
    default: "1",
  },
  {
    key: "gop_cache_bytes",
    arg: "n",
    parse: parseCount,
    help: "bytes the GOP cache of a stream may hold",
    default: "8388608",
  },
  {
    key: "batch_window",
    arg: "ms",
    parse: ms,
    help: "write batching window per player, 0 = immediate",
    default: "100",
  },
  {
    key: "republish_grace",
    arg: "ms",
    parse: ms,
    help: "keep players this long for a publisher to come back",
    default: "10000",
  },
  {
    key: "publisher_idle_timeout",
    arg: "ms",
    parse: ms,
    help: "close a publisher silent this long, 0 = off",
    default: "15000",
  },
  { key: "read_timeout", arg: "seconds", parse: seconds, help: "same, in seconds (livego)", default: "15" },
  {
    key: "write_timeout",
    arg: "seconds",
    parse: seconds,
    help: "close a player that could not be written to this long",
    default: "10",
  },
  { key: "max_streams", arg: "n", parse: parseCount, help: "live streams accepted", default: "1000" },
  { key: "max_players", arg: "n", parse: parseCount, help: "players per stream", default: "10000" },
  {
    key: "max_connections",
    arg: "n",
    parse: parsePositive,
    help: "connections per protocol server",
    default: "10000 RTMP, 5000 HTTP",
  },
  {
    key: "max_connections_per_ip",
    arg: "n",
    parse: parsePositive,
    help: "connections from one address (loopback exempt)",
    default: "256",
  },
  {
    key: "expose_addresses",
    parse: parseBool,
    help: "show peers' addresses in GET /streams",
    default: "false",
  },
  {
    key: "cors",
    arg: "origin",
    parse: parseString,
    help: "Access-Control-Allow-Origin of HTTP-FLV and HLS",
    default: "*",
  },
  {
    key: "webhooks.on_publish",
    arg: "url",
    parse: parseHttpUrl,
    help: "POST on publish; non-2xx refuses it",
  },
  { key: "webhooks.on_unpublish", arg: "url", parse: parseHttpUrl, help: "POST when a stream ends" },
  { key: "webhooks.on_play", arg: "url", parse: parseHttpUrl, help: "POST on play; non-2xx refuses it" },
  { key: "webhooks.on_stop", arg: "url", parse: parseHttpUrl, help: "POST when a player leaves" },
  {
    key: "webhooks.on_record_done",
    arg: "url",
    parse: parseHttpUrl,
    help: "POST when a recording is finished",
  },
  { key: "webhooks.timeout", arg: "ms", parse: ms, help: "webhook timeout", default: "5000" },
  {
    key: "webhooks.on_error",
    arg: "allow|deny",
    parse: parseChoice(["allow", "deny"] as const),
    help: "publish/play when a hook fails",
    default: "deny",
  },
  {
    key: "server",
    flag: null,
    parse: parseApps,
    help: "apps: [{ appname, live, hls, flv, api, static_push: [urls] }]",
    fileOnly: true,
  },
];

const BY_KEY = new Map(SETTINGS.map((s) => [s.key, s]));
/** Keys whose YAML value is a map of settings. */
const GROUPS = new Set(SETTINGS.filter((s) => s.key.includes(".")).map((s) => s.key.split(".")[0] as string));

function flagOf(setting: Setting): string | null {
  return setting.flag === null ? null : (setting.flag ?? setting.key.replace(/[_.]/g, "-"));
}

function envOf(setting: Setting): string | null {
  return setting.fileOnly === true ? null : `ONAIR_${setting.key.replace(/\./g, "_").toUpperCase()}`;
}

function isBoolean(setting: Setting): boolean {
  return setting.arg === undefined && setting.key !== "server";
}

const APP_KEYS = new Set(["appname", "live", "hls", "flv", "api", "static_push"]);

function parseApps(value: unknown): AppSettings[] {
  if (!Array.isArray(value))
    throw new ConfigValueError("must be a list of apps ({ appname, live, hls, ... })");
  const seen = new Set<string>();
  return value.map((entry: unknown, i) => {
    const at = `item ${i + 1}`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new ConfigValueError(`${at} must be a map with appname`);
    }
    const fields = entry as Record<string, unknown>;
    for (const field of Object.keys(fields)) {
      if (!APP_KEYS.has(field)) {
        throw new ConfigValueError(
          `${at} has an unknown setting "${field}" (known: ${[...APP_KEYS].join(", ")})`,
        );
      }
    }
    const field = <T>(name: string, parse: (v: unknown) => T): T | undefined => {
      if (fields[name] === undefined || fields[name] === null) return undefined;
      try {
        return parse(fields[name]);
      } catch (error) {
        throw new ConfigValueError(`${at}: ${name} ${(error as Error).message}`);
      }
    };
    const name = field("appname", parseNonEmpty);
    if (name === undefined) throw new ConfigValueError(`${at} needs an appname`);
    if (name.includes("/")) throw new ConfigValueError(`${at}: appname must not contain "/"`);
    if (seen.has(name)) throw new ConfigValueError(`${at}: app "${name}" is listed twice`);
    seen.add(name);
    const app: AppSettings = { name };
    const live = field("live", parseBool);
    const hls = field("hls", parseBool);
    const flv = field("flv", parseBool);
    const api = field("api", parseBool);
    const staticPush = field("static_push", parseList(parseRtmpUrl));
    if (live !== undefined) app.live = live;
    if (hls !== undefined) app.hls = hls;
    if (flv !== undefined) app.flv = flv;
    if (api !== undefined) app.api = api;
    if (staticPush !== undefined && staticPush.length > 0) app.staticPush = staticPush;
    return app;
  });
}

/** A parsed value and how strong it is: a later layer (file < env < flags) wins. */
interface Assigned {
  value: unknown;
  rank: number;
  source: string;
}

type Draft = Map<string, Assigned>;

function assign(
  draft: Draft,
  setting: Setting,
  raw: unknown,
  rank: number,
  source: string,
  label: string,
): void {
  try {
    draft.set(setting.key, { value: setting.parse(raw), rank, source });
  } catch (error) {
    if (!(error instanceof ConfigValueError)) throw error;
    throw new ConfigError(`${label} ${error.message}`, setting.key, source);
  }
}

const FILE_RANK = 1;
const ENV_RANK = 2;
const FLAG_RANK = 3;

function readSettingsFile(path: string, draft: Draft): void {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(
      `cannot read the config file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      "config",
      path,
    );
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined): string => {
    if (offset === undefined) return path;
    const { line, col } = lines.linePos(offset);
    return `${path}:${line}:${col}`;
  };
  const first = doc.errors[0];
  if (first !== undefined) {
    throw new ConfigError(
      `${at(first.pos[0])}: not valid YAML: ${first.message.split("\n")[0]}`,
      undefined,
      at(first.pos[0]),
    );
  }
  if (doc.contents === null) return;
  if (!isMap(doc.contents)) {
    throw new ConfigError(`${path}: must be a map of settings (key: value)`, undefined, path);
  }
  const walk = (map: YAMLMap, prefix: string): void => {
    for (const pair of map.items) {
      const keyNode = pair.key;
      const offset = isScalar(keyNode) ? keyNode.range?.[0] : undefined;
      const name = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const key = prefix + name;
      const value = pair.value;
      if (prefix === "" && GROUPS.has(name)) {
        if (value === null || (isScalar(value) && value.value === null)) continue;
        if (!isMap(value)) throw new ConfigError(`${at(offset)}: ${key} must be a map`, key, at(offset));
        walk(value, `${key}.`);
        continue;
      }
      const setting = BY_KEY.get(key);
      if (setting === undefined || key === "config") {
        throw new ConfigError(`${at(offset)}: unknown setting "${key}"${suggest(key)}`, key, at(offset));
      }
      let plain: unknown = value === null ? null : (value as { toJSON(): unknown }).toJSON();
      // A string setting (a secret, a password, a path) takes a plain scalar as written: YAML
      // would make `secret: 0123` the number 123, and round a long numeric secret to 17 digits.
      const textual = setting.parse === parseString || setting.parse === parseNonEmpty;
      if (textual && isScalar(value) && typeof value.value === "number" && typeof value.source === "string") {
        plain = value.source;
      }
      if (plain === null || plain === undefined) continue; // "key:" with no value: the default
      const where = at((value as { range?: [number, number, number] } | null)?.range?.[0] ?? offset);
      assign(draft, setting, plain, FILE_RANK, where, `${where}: ${key}`);
    }
  };
  walk(doc.contents, "");
}

/** Edits (insert, delete, replace a character) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}

/** livego.yaml keys with no setting of the same name here, and what to use instead. */
const LIVEGO_HINTS: Record<string, string> = {
  level: "the CLI logs every publish and play; DEBUG=onair:* adds debug logs",
  config_file: "give the file with -c or ONAIR_CONFIG",
  use_hls_https: "set hls_cert and hls_key",
  hls_server_crt: "use hls_cert",
  hls_server_key: "use hls_key",
  enable_tls_verify: "onair's relays speak rtmp:// only: there is no relay TLS to verify",
};

/** " (did you mean X?)" for a key a typo or two away from a known one. */
function suggest(key: string): string {
  const hint = LIVEGO_HINTS[key];
  if (hint !== undefined) return ` (livego's; ${hint})`;
  const normal = (s: string): string => s.replace(/[-_.]/g, "").toLowerCase();
  let best: { key: string; distance: number } | undefined;
  for (const setting of SETTINGS) {
    if (setting.key === "config") continue;
    const distance = editDistance(normal(key), normal(setting.key));
    if (distance <= 2 && (best === undefined || distance < best.distance))
      best = { key: setting.key, distance };
  }
  return best === undefined ? "" : ` (did you mean ${best.key}?)`;
}

function readEnv(env: Record<string, string | undefined>, draft: Draft): string | undefined {
  let config: string | undefined;
  for (const setting of SETTINGS) {
    const name = envOf(setting);
    if (name === null) continue;
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    if (setting.key === "config") {
      config = raw;
      continue;
    }
    assign(draft, setting, raw, ENV_RANK, name, `${name} (${setting.key})`);
  }
  return config;
}

function parseFlags(argv: string[]): { values: Record<string, string | boolean | undefined>; help: boolean } {
  // `pnpm start -- --flag` passes the "--" through; it means nothing here.
  const args = argv[0] === "--" ? argv.slice(1) : argv;
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const setting of SETTINGS) {
    const flag = flagOf(setting);
    if (flag === null) continue;
    const type = isBoolean(setting) ? "boolean" : "string";
    options[flag] = setting.short === undefined ? { type } : { type, short: setting.short };
    for (const alias of setting.aliases ?? []) options[alias] = { type };
  }
  try {
    const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
    return { values: values as Record<string, string | boolean | undefined>, help: values.help === true };
  } catch (error) {
    throw new ConfigError(
      (error as Error).message.replace(/\. To specify a positional.*$/s, ""),
      undefined,
      "flags",
    );
  }
}

function readFlags(values: Record<string, string | boolean | undefined>, draft: Draft): void {
  for (const setting of SETTINGS) {
    const flag = flagOf(setting);
    if (flag === null || setting.key === "config") continue;
    for (const name of [flag, ...(setting.aliases ?? [])]) {
      const raw = values[name];
      if (raw === undefined) continue;
      const value = setting.invertFlag === true ? raw !== true : raw;
      assign(draft, setting, value, FLAG_RANK, `--${name}`, `--${name}`);
    }
  }
}

export interface LoadConfigOptions {
  /** Command-line arguments (without node and the script). Default: none. */
  argv?: string[];
  /** Environment variables; `ONAIR_*` are read. Default: none (pass `process.env` for the real one). */
  env?: Record<string, string | undefined>;
  /** Settings file read when neither `-c` nor ONAIR_CONFIG names one, if it exists. */
  file?: string;
  /**
   * Read the settings file and the certificate files, and check settings against each other.
   * Default true; false checks each flag's own value only.
   */
  readFiles?: boolean;
}

export type LoadedConfig =
  | { help: true }
  | {
      help: false;
      config: OnairConfig;
      /** The settings file read, if any. */
      file: string | undefined;
    };

/**
 * The settings from flags, environment and file, checked, with every default filled in. Throws a
 * {@link ConfigError} naming the setting (and its file, line and column) for anything unknown or invalid.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const flags = parseFlags(options.argv ?? []);
  if (flags.help) return { help: true };
  const draft: Draft = new Map();
  const envDraft: Draft = new Map();
  const flagDraft: Draft = new Map();
  const envFile = readEnv(options.env ?? {}, envDraft);
  readFlags(flags.values, flagDraft);
  const flagFile = flags.values.config;
  const named = typeof flagFile === "string" ? flagFile : envFile;
  // A file named by -c or ONAIR_CONFIG must exist; the caller's default one may not.
  const file = named ?? (options.file !== undefined && existsSync(options.file) ? options.file : undefined);
  const readFiles = options.readFiles ?? true;
  if (file !== undefined && readFiles) readSettingsFile(file, draft);
  for (const layer of [envDraft, flagDraft]) for (const [key, value] of layer) draft.set(key, value);
  return { help: false, config: buildConfig(draft, readFiles), file };
}

function readPem(draft: Draft, key: string): string {
  const entry = draft.get(key) as Assigned;
  const path = entry.value as string;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(
      `${entry.source}: ${key}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      key,
      entry.source,
    );
  }
  if (!text.includes("-----BEGIN ")) {
    throw new ConfigError(`${entry.source}: ${key}: ${path} is not a PEM file`, key, entry.source);
  }
  return text;
}

function buildConfig(draft: Draft, readFiles: boolean): OnairConfig {
  const get = <T>(key: string): T | undefined => draft.get(key)?.value as T | undefined;
  /** Of several keys that set one thing, the one from the strongest layer. */
  const latest = (...keys: string[]): { key: string; value: unknown } | undefined => {
    let best: { key: string; value: unknown; rank: number } | undefined;
    for (const key of keys) {
      const entry = draft.get(key);
      if (entry === undefined) continue;
      if (best === undefined || entry.rank >= best.rank) best = { key, value: entry.value, rank: entry.rank };
    }
    return best;
  };
  const port = (portKey: string, addrKey: string, fallback: number): number => {
    const chosen = latest(addrKey, portKey);
    if (chosen === undefined) return fallback;
    return chosen.key === addrKey ? (chosen.value as HostPort).port : (chosen.value as number);
  };
  /** The host of `addrKey` when it names one (":1935" does not) and is stronger than `host`. */
  const mediaHost = (addrKey: string): string => {
    const host = draft.get("host");
    const addr = draft.get(addrKey);
    const addrHost = (addr?.value as HostPort | undefined)?.host;
    if (addr !== undefined && addrHost !== undefined && (host === undefined || addr.rank >= host.rank)) {
      return addrHost;
    }
    return (host?.value as string | undefined) ?? "0.0.0.0";
  };

  const config: OnairConfig = {
    host: get<string>("host") ?? "0.0.0.0",
    rtmpHost: mediaHost("rtmp_addr"),
    rtmpPort: port("rtmp_port", "rtmp_addr", DEFAULT_PORTS.rtmp),
    flvHost: mediaHost("httpflv_addr"),
    flvPort: port("flv_port", "httpflv_addr", DEFAULT_PORTS.flv),
    hlsHost: mediaHost("hls_addr"),
    hlsPort: port("hls_port", "hls_addr", DEFAULT_PORTS.hls),
    apiHost: get<HostPort>("api_addr")?.host ?? "127.0.0.1",
    apiPort: port("api_port", "api_addr", DEFAULT_PORTS.api),
    rtmpNoAuth: get<boolean>("rtmp_noauth") ?? false,
    api: get<boolean>("enable_api") ?? true,
    cors: get<string>("cors") ?? "*",
  };

  // HLS
  if (get<boolean>("enable_hls") === false) {
    config.hls = false;
  } else {
    const hls: Exclude<OnairConfig["hls"], false | undefined> = {
      variant: get<HlsVariant>("hls_variant") ?? DEFAULT_HLS_VARIANT,
    };
    const set = <K extends keyof typeof hls>(field: K, key: string): void => {
      const value = get<(typeof hls)[K]>(key);
      if (value !== undefined) hls[field] = value;
    };
    set("targetDurationMs", "hls_target_duration");
    set("partTargetMs", "hls_part_target");
    set("windowSegments", "hls_window");
    set("keepAfterEndMs", "hls_keep_after_end");
    set("dir", "hls_dir");
    if ((draft.has("hls_cert") || draft.has("hls_key")) && readFiles) {
      if (!draft.has("hls_cert") || !draft.has("hls_key")) {
        const missing = draft.has("hls_cert") ? "hls_key" : "hls_cert";
        throw new ConfigError(
          `HTTPS for HLS needs both hls_cert and hls_key; ${missing} is not set`,
          missing,
        );
      }
      hls.tls = { cert: readPem(draft, "hls_cert"), key: readPem(draft, "hls_key") };
    }
    config.hls = hls;
  }

  // RTMPS
  const rtmpsWanted = get<boolean>("enable_rtmps") ?? false;
  if (rtmpsWanted) {
    for (const key of ["rtmps_cert", "rtmps_key"]) {
      if (!draft.has(key) && readFiles) {
        throw new ConfigError(`enable_rtmps needs rtmps_cert and rtmps_key; ${key} is not set`, key);
      }
    }
    const cert = readFiles ? readPem(draft, "rtmps_cert") : "";
    const key = readFiles ? readPem(draft, "rtmps_key") : "";
    config.rtmps = {
      cert,
      key,
      host: mediaHost("rtmps_addr"),
      port: port("rtmps_port", "rtmps_addr", DEFAULT_PORTS.rtmps),
    };
  }

  // Keys, JWT
  const redisAddr = get<string>("redis_addr");
  if (redisAddr !== undefined) {
    const password = get<string>("redis_pwd");
    config.redis =
      password === undefined || password === "" ? { addr: redisAddr } : { addr: redisAddr, password };
  }
  const secret = get<string>("jwt.secret");
  if (secret !== undefined) {
    config.jwt = { secret, algorithm: get<string>("jwt.algorithm") ?? "HS256" };
  } else if (draft.has("jwt.algorithm") && readFiles) {
    throw new ConfigError("jwt.algorithm is set but jwt.secret is not", "jwt.secret");
  }

  // Webhooks
  const webhooks: NonNullable<OnairConfig["webhooks"]> = {};
  const hooks = [
    ["onPublish", "webhooks.on_publish"],
    ["onUnpublish", "webhooks.on_unpublish"],
    ["onPlay", "webhooks.on_play"],
    ["onStop", "webhooks.on_stop"],
    ["onRecordDone", "webhooks.on_record_done"],
  ] as const;
  for (const [field, key] of hooks) {
    const url = get<string>(key);
    if (url !== undefined) webhooks[field] = url;
  }
  if (Object.keys(webhooks).length > 0) {
    webhooks.timeoutMs = get<number>("webhooks.timeout") ?? 5000;
    webhooks.onError = get<"allow" | "deny">("webhooks.on_error") ?? "deny";
    config.webhooks = webhooks;
  }

  const apps = get<AppSettings[]>("server");
  if (apps !== undefined) config.apps = apps;

  // Recording: flv_dir records unless flv_archive is false (livego needs both).
  const flvDir = get<string>("flv_dir");
  if (flvDir !== undefined && get<boolean>("flv_archive") !== false) config.flvDir = flvDir;
  else if (flvDir === undefined && get<boolean>("flv_archive") === true) {
    throw new ConfigError("flv_archive needs flv_dir (the folder to record to)", "flv_dir");
  }

  // The hub, and the protocol servers' limits.
  const hub: NonNullable<OnairConfig["hub"]> = {
    gopCache: get<number>("gop_num") ?? 1,
    batchWindowMs: get<number>("batch_window") ?? 100,
  };
  const gopBytes = get<number>("gop_cache_bytes");
  if (gopBytes !== undefined) hub.gopCacheMaxBytes = gopBytes;
  const grace = get<number>("republish_grace");
  if (grace !== undefined) hub.republishGraceMs = grace;
  const idle = latest("publisher_idle_timeout", "read_timeout");
  if (idle !== undefined) hub.publisherIdleTimeoutMs = idle.value as number;
  const writeTimeout = get<number>("write_timeout");
  if (writeTimeout !== undefined) hub.slowPlayer = { closeAfterMs: writeTimeout };
  const maxStreams = get<number>("max_streams");
  if (maxStreams !== undefined) hub.maxStreams = maxStreams;
  const maxPlayers = get<number>("max_players");
  if (maxPlayers !== undefined) hub.maxPlayersPerStream = maxPlayers;
  config.hub = hub;

  const limits: { maxConnections?: number; maxConnectionsPerIp?: number } = {};
  const maxConnections = get<number>("max_connections");
  if (maxConnections !== undefined) limits.maxConnections = maxConnections;
  const perIp = get<number>("max_connections_per_ip");
  if (perIp !== undefined) limits.maxConnectionsPerIp = perIp;
  if (Object.keys(limits).length > 0) config.rtmp = { ...limits };
  const flv = { ...limits, ...(get<boolean>("expose_addresses") === true ? { exposeAddresses: true } : {}) };
  if (Object.keys(flv).length > 0) config.flv = flv;
  return config;
}

/** The help text: every flag, its environment variable and its default. */
export function usage(): string {
  const rows: [string, string][] = [];
  for (const setting of SETTINGS) {
    const flag = flagOf(setting);
    if (flag === null) continue;
    const names = `${setting.short === undefined ? "" : `-${setting.short}, `}--${flag}${setting.arg === undefined ? "" : ` <${setting.arg}>`}`;
    const env = envOf(setting);
    const extra = [
      setting.default === undefined ? undefined : `default ${setting.default}`,
      setting.aliases === undefined ? undefined : `also --${setting.aliases.join(", --")}`,
      env === null ? undefined : env,
    ].filter((s) => s !== undefined);
    rows.push([names, `${setting.help} (${extra.join("; ")})`]);
  }
  rows.push(["-h, --help", "show this help"]);
  const width = Math.max(...rows.map(([names]) => names.length)) + 2;
  return `Usage: onair [options]

Settings come from flags, then ONAIR_* environment variables, then the YAML file given with -c
(keys as the flags with "_": rtmp_addr, jwt: { secret }, webhooks: { on_publish }, server: [...]).
Durations take a unit ("500ms", "2s") or are in the unit shown.

${rows.map(([names, text]) => `  ${names.padEnd(width)}${text}`).join("\n")}
`;
}

/** Every setting: YAML key, environment variable, flag, help and default (for the README's table and its test). */
export function settingNames(): {
  key: string;
  env: string | null;
  flag: string | null;
  help: string;
  default: string | undefined;
}[] {
  return SETTINGS.filter((s) => s.key !== "config").map((s) => {
    const flag = flagOf(s);
    return {
      key: s.key,
      env: envOf(s),
      flag: flag === null ? null : `--${flag}`,
      help: s.help,
      default: s.default,
    };
  });
}
