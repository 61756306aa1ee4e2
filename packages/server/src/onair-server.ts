import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import {
  type Authorize,
  type AuthorizeRequest,
  type AuthorizeResult,
  OnairError,
  SafeEventEmitter,
  StreamHub,
  type StreamInfo,
} from "@onair/core";
import { createHttpFlvServer, type FlvRecorder, type HttpFlvServer, recordStreams } from "@onair/flv";
import type { HlsServer } from "@onair/hls";
import { type Relay, RelayRegistry, redactUrl, type StaticPush, staticPush } from "@onair/relay";
import { createRtmpServer, type RtmpServer } from "@onair/rtmp";
import { ConfigError, DEFAULT_PORTS } from "./config.js";
import type { AppSettings, OnairConfig } from "./config-types.js";
import type { Dashboard } from "./dashboard/dashboard.js";
import { channelKeyAuthorize, INVALID_CHANNEL_KEY } from "./keys/channel-key-authorize.js";
import { type KeyStore, redisAddrForLog } from "./keys/key-store.js";
import { MemoryKeyStore } from "./keys/memory-key-store.js";
import type { Metrics } from "./metrics.js";
import { createWebhooks, type Webhooks } from "./webhooks.js";

/** The options of {@link OnairServer}: the same as the ready server's config. */
export type OnairServerOptions = OnairConfig;

/** A listener could not be opened; everything the server had opened is closed again. */
export class ServerStartError extends OnairError {
  constructor(
    readonly listener: string,
    readonly flag: string,
    readonly host: string,
    readonly port: number,
    cause: unknown,
  ) {
    const code = (cause as { code?: string } | undefined)?.code;
    const reason =
      code === "EADDRINUSE"
        ? "the port is already in use (another onair, or another server?)"
        : code === "EACCES"
          ? "permission denied (ports below 1024 need privileges)"
          : code === "EADDRNOTAVAIL"
            ? "the address is not on this machine (check --host)"
            : ((cause as Error | undefined)?.message ?? String(cause));
    super(
      "ERR_SERVER_LISTEN",
      `cannot listen for ${listener} on ${host}:${port}: ${reason}. Choose another port with ${flag}.`,
      { cause },
    );
  }
}

/** The bound address of each listener that is open. */
export interface OnairAddresses {
  rtmp: AddressInfo;
  flv: AddressInfo;
  rtmps?: AddressInfo;
  hls?: AddressInfo;
  api?: AddressInfo;
}

export interface OnairServerEvents {
  /** A recording (`flvDir`) is finished and closed: `info` is the recorder's (url: the file). */
  recordDone: [info: StreamInfo, path: string];
  /** Something failed that no request could be told of (an API handler bug, Redis going away). */
  error: [Error];
  /** A line worth logging: a webhook that failed, timed out or refused; a relay that went live, retries or stopped. */
  log: [message: string];
}

/** The server could not start for a reason other than a port (Redis unreachable, ...). */
export class ServerSetupError extends OnairError {
  constructor(message: string, cause?: unknown) {
    super("ERR_SERVER_SETUP", message, { cause });
  }
}

/** How long close() waits for recordings to be written out before it lets go of them. */
const CLOSE_RECORDINGS_MS = 1500;

/**
 * Hooks that must all allow, in order. A hook that renames the stream (channel keys: APP/KEY goes
 * live as APP/ROOM) passes the new name to the hooks after it, and the result carries it.
 */
export function allOf<Request extends AuthorizeRequest = AuthorizeRequest>(
  hooks: readonly (Authorize<Request> | undefined)[],
): Authorize<Request> | undefined {
  const list = hooks.filter((hook): hook is Authorize<Request> => hook !== undefined);
  if (list.length === 0) return undefined;
  if (list.length === 1) return list[0];
  return async (request: Request): Promise<AuthorizeResult> => {
    let current = request;
    let renamed: string | undefined;
    for (const hook of list) {
      const result = await hook(current);
      if (result === true) continue;
      if (result === false || typeof result !== "object" || result === null) return false;
      if (!result.allow) return result;
      if (typeof result.name === "string" && result.name !== current.name) {
        renamed = result.name;
        current = { ...current, name: renamed };
      }
    }
    return renamed === undefined ? true : { allow: true, name: renamed };
  };
}

/** Refuses apps not in `apps`, publishing to apps with `live: false`, and the protocols an app turns off. */
export function appsAuthorize(apps: readonly AppSettings[]): Authorize {
  const byName = new Map(apps.map((app) => [app.name, app]));
  return ({ action, protocol, app }) => {
    const settings = byName.get(app);
    if (settings === undefined) return { allow: false, reason: `unknown app "${app}"`, status: 403 };
    if (action === "publish" && settings.live === false) {
      return { allow: false, reason: `app "${app}" does not take publishers`, status: 403 };
    }
    if (action === "play" && protocol === "hls" && settings.hls === false) {
      return { allow: false, reason: `app "${app}" is not served over HLS`, status: 403 };
    }
    if (action === "play" && (protocol === "http-flv" || protocol === "ws-flv") && settings.flv === false) {
      return { allow: false, reason: `app "${app}" is not served over HTTP-FLV`, status: 403 };
    }
    return true;
  };
}

/**
 * The ready server: one hub, and the protocol servers that take it as their handler. Made by
 * {@link createServer}; `listen()` opens every listener, `close()` ends it all.
 */
export class OnairServer extends SafeEventEmitter<OnairServerEvents> {
  readonly hub: StreamHub;
  readonly rtmp: RtmpServer;
  readonly flv: HttpFlvServer;

  /** The relays the API's /control/push and /control/pull start (static pushes run on their own). */
  readonly relays: RelayRegistry;
  /** The webhooks; undefined unless a hook URL is configured. */
  readonly webhooks: Webhooks | undefined;

  readonly config: Readonly<OnairConfig>;
  /** The one hook every protocol asks (apps, keys, webhooks, the user's), before its own. */
  readonly authorize: Authorize | undefined;
  #keys: KeyStore | undefined;
  #hls: HlsServer | undefined;
  #metrics: Metrics | undefined;
  #api: HttpServer | undefined;
  /** The live dashboard on the API port (GET /, /stat/events). */
  #dashboard: Dashboard | undefined;
  #rtmps: TlsServer | undefined;
  #recording: ReturnType<typeof recordStreams> | undefined;
  #staticPush: StaticPush | undefined;
  #detachWebhooks: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  /** The room each publish the keys allowed is renamed to, until the hooks after them have answered. */
  readonly #keyedRooms = new WeakMap<AuthorizeRequest, string>();

  constructor(config: OnairConfig = {}) {
    super();
    this.config = config;
    this.hub = new StreamHub(config.hub);
    this.relays = new RelayRegistry(this.hub, { onRelay: (relay) => this.#followRelay(relay) });
    // Memory keys exist at once; Redis keys once listen() has connected.
    this.#keys = config.redis === undefined ? new MemoryKeyStore() : undefined;
    const hooks: (Authorize | undefined)[] = [];
    if (config.apps !== undefined) hooks.push(appsAuthorize(config.apps));
    if (config.rtmpNoAuth !== true) hooks.push(this.#keysAuthorize());
    const hookUrls = config.webhooks ?? {};
    const anyHook = [
      hookUrls.onPublish,
      hookUrls.onUnpublish,
      hookUrls.onPlay,
      hookUrls.onStop,
      hookUrls.onRecordDone,
    ].some((url) => url !== undefined && url !== "");
    this.webhooks = anyHook
      ? createWebhooks({ ...hookUrls, log: (message) => this.emit("log", message) })
      : undefined;
    // After the keys: a publish hook is told the room, never the key.
    hooks.push(this.webhooks?.authorize);
    hooks.push(config.authorize);
    const composed = allOf(hooks);
    this.authorize =
      composed === undefined || config.rtmpNoAuth === true ? composed : this.#recheckKey(composed);
    this.rtmp = createRtmpServer({
      ...config.rtmp,
      handler: this.hub,
      authorize: allOf([this.authorize, config.rtmp?.authorize]),
    });
    this.flv = createHttpFlvServer({
      cors: config.cors ?? "*",
      ...config.flv,
      handler: this.hub,
      authorize: allOf([this.authorize, config.flv?.authorize]),
    });
    if (config.rtmps !== undefined) {
      const { cert, key } = config.rtmps;
      this.#rtmps = createTlsServer(
        { cert, key, handshakeTimeout: config.rtmp?.handshakeTimeoutMs ?? 10_000 },
        (socket) => this.rtmp.handleSocket(socket),
      );
      // A client that fails the TLS handshake is that client's problem; the server goes on (node
      // destroys its socket).
      this.#rtmps.on("tlsClientError", () => undefined);
    }
  }

  /**
   * The HLS server, made by `listen()` (undefined before, and with `hls: false`). It and the API's
   * parts are loaded only when configured, so a server without them does not carry their code.
   */
  get hls(): HlsServer | undefined {
    return this.#hls;
  }

  /** The Prometheus metrics the API serves at /metrics; made by `listen()` unless `api: false`. */
  get metrics(): Metrics | undefined {
    return this.#metrics;
  }

  /** The channel keys (memory, or Redis once `listen()` connected); what /control/get hands out. */
  get keys(): KeyStore | undefined {
    return this.#keys;
  }

  /** Channel keys as a hook; until the store exists (Redis connecting) publishing is refused. */
  #keysAuthorize(): Authorize {
    let hook: Authorize | undefined;
    let hookFor: KeyStore | undefined;
    return async (request) => {
      const keys = this.#keys;
      if (keys === undefined) return { allow: false, reason: "channel keys are not ready", status: 403 };
      if (hookFor !== keys) {
        hook = channelKeyAuthorize(keys);
        hookFor = keys;
      }
      const result = await (hook as Authorize)(request);
      if (typeof result === "object" && result.allow && result.name !== undefined) {
        this.#keyedRooms.set(request, result.name);
      }
      return result;
    };
  }

  /**
   * The hooks after the keys (a webhook) may take seconds; a `/control/reset` or `/control/delete`
   * of the room in that time must still refuse the publish. So the key is looked up once more
   * when every hook has allowed.
   */
  #recheckKey(composed: Authorize): Authorize {
    return async (request) => {
      const result = await composed(request);
      const room = this.#keyedRooms.get(request);
      if (room === undefined) return result;
      this.#keyedRooms.delete(request);
      if (result === false || (typeof result === "object" && !result.allow)) return result;
      let now: string | undefined;
      try {
        now = await this.#keys?.roomOf(request.name);
      } catch {
        return { allow: false, reason: "channel keys are unavailable, try again", status: 403 };
      }
      return now === room ? result : { allow: false, reason: INVALID_CHANNEL_KEY, status: 403 };
    };
  }

  /**
   * Open every listener. If one fails (a port in use, an address not on this machine), the ones
   * already open are closed again and a {@link ServerStartError} names the port, the CLI flag
   * that sets it and the cause.
   */
  async listen(): Promise<OnairAddresses> {
    const config = this.config;
    const host = config.host ?? "0.0.0.0";
    // Recording starts here rather than in the constructor, so that the recorder joins a stream
    // after the hub's "publish" listeners added before listen() (the CLI's log) have run.
    if (config.flvDir !== undefined && this.#recording === undefined) {
      const recording = recordStreams(this.hub, { dir: config.flvDir });
      this.#recording = recording;
      this.hub.on("play", (info) => this.#watchRecording(recording.recordings, info));
    }
    if (this.webhooks !== undefined && this.#detachWebhooks === undefined) {
      const webhooks = this.webhooks;
      this.#detachWebhooks = webhooks.attach(this.hub);
      this.on("recordDone", (info, path) => webhooks.recordDone(info, path));
    }
    const pushRules = (config.apps ?? [])
      .filter((app) => app.staticPush !== undefined && app.staticPush.length > 0)
      .map((app) => ({ app: app.name, urls: app.staticPush ?? [] }));
    if (pushRules.length > 0 && this.#staticPush === undefined) {
      this.#staticPush = staticPush(this.hub, {
        rules: pushRules,
        onRelay: (relay) => this.#followRelay(relay),
      });
    }
    if (this.#keys === undefined && config.redis !== undefined) {
      try {
        const { createKeyStore } = await import("./keys/create-key-store.js");
        // Failed attempts while connecting end in the one error below; later ones are reported.
        let connected = false;
        this.#keys = await createKeyStore({
          redisAddr: config.redis.addr,
          ...(config.redis.password === undefined ? {} : { redisPassword: config.redis.password }),
          onError: (error) => {
            if (connected) this.emit("error", error);
          },
        });
        connected = true;
      } catch (error) {
        await this.close();
        throw new ServerSetupError(
          `cannot use Redis at ${redisAddrForLog(config.redis.addr)} for channel keys: ${(error as Error).message}. Check redis_addr (--redis-addr) and redis_pwd.`,
          error,
        );
      }
    }
    // Everything is made before the first listener opens, so no stream can go live unseen.
    if (config.hls !== false && this.#hls === undefined) {
      const { createHlsServer } = await import("@onair/hls");
      try {
        this.#hls = createHlsServer({
          ...config.hls,
          handler: this.hub,
          cors: config.cors ?? "*",
          ...(this.authorize === undefined ? {} : { authorize: this.authorize }),
        });
      } catch (error) {
        await this.close();
        // A bad combination of HLS settings: the user's to fix, like any setting.
        throw new ConfigError(
          `HLS settings: ${(error as Error).message} (hls_target_duration is targetDurationMs, hls_part_target partTargetMs, hls_window windowSegments, hls_keep_after_end keepAfterEndMs)`,
          "hls",
        );
      }
    }
    // Filled in as the listeners open (the dashboard reads it when asked).
    const addresses = {} as OnairAddresses;
    const api = config.api === false ? undefined : await this.#createApi(addresses);
    const rtmp = await this.#listenOne(
      "RTMP",
      "--rtmp-port",
      config.rtmpHost ?? host,
      config.rtmpPort ?? DEFAULT_PORTS.rtmp,
      (p, h) => this.rtmp.listen(p, h),
    );
    addresses.rtmp = rtmp;
    const tls = this.#rtmps;
    if (tls !== undefined) {
      addresses.rtmps = await this.#listenOne(
        "RTMPS",
        "--rtmps-port",
        config.rtmps?.host ?? host,
        config.rtmps?.port ?? DEFAULT_PORTS.rtmps,
        (p, h) => listenTcp(tls, p, h),
      );
    }
    addresses.flv = await this.#listenOne(
      "HTTP-FLV",
      "--flv-port",
      config.flvHost ?? host,
      config.flvPort ?? DEFAULT_PORTS.flv,
      (p, h) => this.flv.listen(p, h),
    );
    const hls = this.#hls;
    if (hls !== undefined) {
      addresses.hls = await this.#listenOne(
        "HLS",
        "--hls-port",
        config.hlsHost ?? host,
        config.hlsPort ?? DEFAULT_PORTS.hls,
        (p, h) => hls.listen(p, h),
      );
    }
    if (api !== undefined) {
      addresses.api = await this.#listenOne(
        "the API",
        "--api-port",
        config.apiHost ?? "127.0.0.1",
        config.apiPort ?? DEFAULT_PORTS.api,
        (p, h) => listenTcp(api, p, h),
      );
    }
    return addresses;
  }

  /**
   * Log a relay's life: live, each retry with its cause, and a stop with an error, so a push to a
   * wrong host is not silent. A push URL's last path part (where YouTube and Twitch put a stream
   * key) and every query are left out.
   */
  #followRelay(relay: Relay): void {
    const url = redactUrl(relay.url);
    const shown = relay.kind === "push" ? url.replace(/\/[^/?]*(\?\.\.\.)?$/, "/…") : url;
    const what = `relay ${relay.kind} ${relay.key} ${relay.kind === "push" ? "to" : "from"} ${shown}`;
    const reason = (error: Error | undefined): string =>
      error === undefined ? "" : `: ${(error as { code?: string }).code ?? error.message}`;
    relay.on("live", () => this.emit("log", `${what} live`));
    relay.on("retrying", (attempt, delayMs) =>
      this.emit("log", `${what} retrying in ${delayMs} ms (attempt ${attempt})${reason(relay.lastError)}`),
    );
    relay.on("stopped", (error) => this.emit("log", `${what} stopped${reason(error)}`));
  }

  async #createApi(addresses: OnairAddresses): Promise<HttpServer> {
    const keys = this.#keys as KeyStore;
    const [{ createApiHandler }, { createDashboard }, { createMetrics }] = await Promise.all([
      import("./api/api-handler.js"),
      import("./dashboard/dashboard.js"),
      import("./metrics.js"),
    ]);
    const metrics = createMetrics({
      hub: this.hub,
      rtmp: this.rtmp,
      flv: this.flv,
      ...(this.#hls === undefined ? {} : { hls: this.#hls }),
      ...(this.webhooks === undefined ? {} : { webhooks: this.webhooks }),
    });
    this.#metrics = metrics;
    // The dashboard's preview plays from the media ports; they are bound before the API.
    const dashboard = createDashboard({
      hub: this.hub,
      relays: this.relays,
      endpoints: () => ({
        rtmpPort: addresses.rtmp.port,
        flvPort: addresses.flv.port,
        ...boundHost("flvHost", addresses.flv),
        ...(addresses.hls === undefined
          ? {}
          : { hlsPort: addresses.hls.port, ...boundHost("hlsHost", addresses.hls) }),
      }),
    });
    this.#dashboard = dashboard;
    const handler = createApiHandler({
      hub: this.hub,
      keys,
      relays: this.relays,
      metrics: () => metrics.scrape(),
      dashboard,
      ...(this.config.jwt === undefined ? {} : { jwt: this.config.jwt }),
      onError: (error) => this.emit("error", error instanceof Error ? error : new Error(String(error))),
    });
    const server = createHttpServer(handler);
    this.#api = server;
    return server;
  }

  /** When `info` is a recorder of ours, emit `recordDone` once its file is finished. */
  #watchRecording(recordings: ReadonlySet<FlvRecorder>, info: StreamInfo): void {
    for (const recorder of recordings) {
      if (recorder.info.id !== info.id) continue;
      void recorder.finished.then(() => this.emit("recordDone", recorder.info, recorder.path));
      return;
    }
  }

  async #listenOne(
    what: string,
    flag: string,
    host: string,
    port: number,
    listen: (port: number, host: string) => Promise<AddressInfo>,
  ): Promise<AddressInfo> {
    if (this.#closing !== undefined) throw new OnairError("ERR_SERVER_CLOSED", "the server was closed");
    try {
      return await listen(port, host);
    } catch (error) {
      await this.close();
      throw new ServerStartError(what, flag, host, port, error);
    }
  }

  /**
   * Stop every listener, end every stream (RTMP publishers and players get their onStatus and a
   * close, HTTP responses end), finish recordings. Resolves within about 2 s whatever the peers
   * do: connections still open then are destroyed. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#staticPush?.stop();
    this.relays.close();
    const recording = this.#recording;
    // Players are told first, as when a publisher leaves (RTMP: StreamEOF, UnpublishNotify and
    // Play.Stop; HTTP-FLV and WS-FLV: the response ends; recordings finish their file); then the
    // hub ends the publishers, the listeners stop and the sockets that are left go.
    for (const stream of this.hub.streams()) stream.closeWriters();
    this.hub.close();
    const tls = this.#rtmps;
    const api = this.#api;
    this.#dashboard?.close();
    await Promise.all([
      this.rtmp.close(),
      this.flv.close(),
      this.#hls?.close(),
      api === undefined ? undefined : closeHttp(api),
      this.#keys?.close(),
      tls === undefined
        ? undefined
        : new Promise<void>((resolve) => (tls.listening ? tls.close(() => resolve()) : resolve())),
      recording === undefined ? undefined : withTimeout(recording.stop(), CLOSE_RECORDINGS_MS),
    ]);
    // Last, so that the unpublish, stop and record-done hooks of the streams just ended go out
    // (they get a short grace; the CLI's exit deadline is 2 s).
    this.#detachWebhooks?.();
    await this.webhooks?.close(300);
    this.#metrics?.close();
  }
}

/** `{ [name]: address }` when a listener is bound to one address (not every one), else `{}`. */
function boundHost(name: "flvHost" | "hlsHost", address: AddressInfo): Record<string, string> {
  const any = address.address === "0.0.0.0" || address.address === "::";
  return any ? {} : { [name]: address.address };
}

function listenTcp(server: TlsServer | HttpServer, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Stop listening and drop every connection (keep-alive ones included). */
function closeHttp(server: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    void promise.finally(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The ready server, from a config such as {@link loadConfig} returns (every field optional). */
export function createServer(config: OnairConfig = {}): OnairServer {
  return new OnairServer(config);
}
