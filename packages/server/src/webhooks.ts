import {
  type Authorize,
  type AuthorizeRequest,
  type AuthorizeResult,
  OnairError,
  type StreamHub,
  type StreamInfo,
} from "@onair/core";
import createDebug from "debug";
import { isClientProtocol, streamProtocol } from "./metrics-protocol.js";

const debug = createDebug("onair:server:webhooks");

/** A webhook setting is wrong (a URL that is not http(s), a timeout that is not a positive number). */
export class WebhookError extends OnairError {
  constructor(message: string) {
    super("ERR_WEBHOOK_CONFIG", message);
  }
}

/** Which hook a POST is for; also the `action` of its body. */
export type WebhookAction = "publish" | "unpublish" | "play" | "stop" | "record_done";

export interface WebhookOptions {
  /** POSTed before a publish is accepted; a non-2xx answer refuses it (nginx-rtmp's on_publish). */
  onPublish?: string;
  /** POSTed when a publisher leaves (nginx-rtmp's on_publish_done); the answer is not waited for. */
  onUnpublish?: string;
  /** POSTed before a player is accepted; a non-2xx answer refuses it (nginx-rtmp's on_play). */
  onPlay?: string;
  /** POSTed when a player leaves (nginx-rtmp's on_play_done). */
  onStop?: string;
  /** POSTed when a recording file is finished (nginx-rtmp's on_record_done). */
  onRecordDone?: string;
  /** How long a hook may take, in ms; past it the POST is aborted and counts as failed. Default 5000. */
  timeoutMs?: number;
  /**
   * What a publish or play gets when its hook fails (no answer in time, connection refused, too
   * many POSTs in flight). Default "deny": a hook that stands between a stream and the world is
   * an access check, and an access check that is down must not open everything.
   */
  onError?: "allow" | "deny";
  /**
   * POSTs in flight at once, all hooks together. Past it a publish or play follows `onError` and a
   * notification (unpublish, stop, record done) is dropped and logged. Default 64.
   */
  maxInFlight?: number;
  /**
   * How long an HLS viewer's play verdict is reused, in ms. HLS asks `authorize` for every
   * playlist and segment request; the hook is POSTed once per viewer (app, name, IP, query) in
   * this time. 0 asks every time. Default 30 000.
   */
  hlsVerdictMs?: number;
  /** Failures, timeouts and refusals, one line each (hook URLs without query or credentials). */
  log?: (message: string) => void;
}

/** The JSON body of an `onPublish` / `onPlay` POST. */
export interface WebhookAuthorizeBody {
  action: "publish" | "play";
  /** "app/name". */
  key: string;
  app: string;
  name: string;
  /** The server that asks: "rtmp", "http-flv", "ws-flv", "hls". */
  protocol: string;
  /** The request's query parameters (RTMP: the stream name's over the connect tcUrl's). */
  query: Record<string, string>;
  /** "ip:port" of the peer. */
  remoteAddress: string;
  /** When the request came, ISO 8601. */
  time: string;
}

/** The JSON body of an `onUnpublish` / `onStop` POST. */
export interface WebhookEventBody {
  action: "unpublish" | "stop";
  key: string;
  app: string;
  name: string;
  /** "rtmp", "rtmps", "http-flv", "ws-flv". */
  protocol: string;
  /** The publisher's or player's id, as in /stat/livestat ("rtmp-pub-3"). */
  id: string;
  url: string;
  query: Record<string, string>;
  remoteAddress?: string;
  time: string;
}

/** The JSON body of an `onRecordDone` POST. */
export interface WebhookRecordBody {
  action: "record_done";
  key: string;
  app: string;
  name: string;
  /** The recorder's id ("flv-record-2"). */
  id: string;
  /** The finished file. */
  path: string;
  time: string;
}

/** What each hook's POSTs came to, since the webhooks were made. */
export interface WebhookHookStats {
  /** Answered 2xx. */
  ok: number;
  /** Answered, not 2xx (for publish and play: refused). */
  rejected: number;
  /** No answer within `timeoutMs`. */
  timedOut: number;
  /** Failed otherwise (connection refused, reset, ...). */
  failed: number;
  /** Not sent: `maxInFlight` POSTs were in flight, or the webhooks were closed. */
  dropped: number;
}

export type WebhookStats = Record<WebhookAction, WebhookHookStats> & {
  /** POSTs in flight now. */
  inFlight: number;
};

export interface Webhooks {
  /** The hook for `authorize` of every server: POSTs `onPublish` / `onPlay`, allows on 2xx. */
  readonly authorize: Authorize;
  /** POST `onUnpublish` and `onStop` on the hub's events. Returns a function that stops it. */
  attach(hub: StreamHub): () => void;
  /** POST `onRecordDone` for a finished recording (`info` is the recorder's). */
  recordDone(info: StreamInfo, path: string): void;
  stats(): WebhookStats;
  /**
   * Stop: POSTs still in flight get up to `graceMs` (default 1000) to finish, then are aborted;
   * later events are dropped and publish/play follow `onError`. Idempotent.
   */
  close(graceMs?: number): Promise<void>;
}

/** The hook outcome the code acts on. */
type Outcome = { kind: "answered"; status: number } | { kind: "timeout" } | { kind: "failed"; error: string };

const HOOK_NAMES: Record<WebhookAction, string> = {
  publish: "on_publish",
  unpublish: "on_unpublish",
  play: "on_play",
  stop: "on_stop",
  record_done: "on_record_done",
};

/** Most HLS verdicts remembered; past it the oldest go. */
const MAX_HLS_VERDICTS = 10_000;

/** A hook's URL (no credentials: fetch refuses them) and the Basic authorization they make. */
interface HookTarget {
  url: URL;
  authorization: string | undefined;
}

function hookTarget(name: string, value: string | undefined): HookTarget | undefined {
  if (value === undefined || value === "") return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new WebhookError(`webhook ${name}: not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new WebhookError(`webhook ${name}: only http and https URLs can be posted to, not ${url.protocol}`);
  }
  let authorization: string | undefined;
  if (url.username !== "" || url.password !== "") {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    url.username = "";
    url.password = "";
  }
  return { url, authorization };
}

/** The URL as it may be logged: no credentials, no query (either may hold a secret). */
function safeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

function positive(name: string, value: number | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new WebhookError(`webhook ${name}: must be a ${allowZero ? "non-negative" : "positive"} number`);
  }
  return value;
}

function emptyStats(): WebhookHookStats {
  return { ok: 0, rejected: 0, timedOut: 0, failed: 0, dropped: 0 };
}

/** The host part of "ip:port" / "[v6]:port", for the HLS verdict key. */
function hostOf(remoteAddress: string): string {
  const at = remoteAddress.lastIndexOf(":");
  return at <= 0 ? remoteAddress : remoteAddress.slice(0, at);
}

/**
 * HTTP callbacks as nginx-rtmp and SRS make them: a JSON POST on publish, play, unpublish, stop
 * and record done. A non-2xx answer to publish or play refuses it; the others are
 * fire-and-forget. Hooks fire for clients (RTMP, RTMPS, HTTP-FLV, WS-FLV, HLS play); a recorder,
 * the HLS segmenter or a relay joining the hub fires none.
 */
export function createWebhooks(options: WebhookOptions): Webhooks {
  const urls: Record<WebhookAction, HookTarget | undefined> = {
    publish: hookTarget("onPublish", options.onPublish),
    unpublish: hookTarget("onUnpublish", options.onUnpublish),
    play: hookTarget("onPlay", options.onPlay),
    stop: hookTarget("onStop", options.onStop),
    record_done: hookTarget("onRecordDone", options.onRecordDone),
  };
  const timeoutMs = positive("timeoutMs", options.timeoutMs, 5000);
  // A Node timer holds at most 2^31-1 ms: past it AbortSignal.timeout fires after 1 ms (every
  // hook "timed out", so on_error decided everything) or throws (past 2^32-1).
  if (timeoutMs > 2 ** 31 - 1) throw new WebhookError("webhook timeoutMs: must be at most 2147483647 ms");
  const maxInFlight = Math.floor(positive("maxInFlight", options.maxInFlight, 64));
  const hlsVerdictMs = positive("hlsVerdictMs", options.hlsVerdictMs, 30_000, true);
  const onError = options.onError ?? "deny";
  if (onError !== "allow" && onError !== "deny") {
    throw new WebhookError(`webhook onError: "allow" or "deny", not ${JSON.stringify(onError)}`);
  }
  const log = (message: string): void => {
    debug(message);
    try {
      options.log?.(message);
    } catch (error) {
      debug("the log callback threw: %O", error);
    }
  };
  const stats: Record<WebhookAction, WebhookHookStats> = {
    publish: emptyStats(),
    unpublish: emptyStats(),
    play: emptyStats(),
    stop: emptyStats(),
    record_done: emptyStats(),
  };
  /** Aborts every POST in flight at close. */
  const closer = new AbortController();
  const inFlight = new Set<Promise<Outcome>>();
  let closed = false;
  /** Drops are logged at most once a second, with how many were not logged. */
  let dropsUnlogged = 0;
  let lastDropLog = 0;
  /** HLS play verdicts by (app, name, IP, query): a promise while the hook is asked. */
  const hlsVerdicts = new Map<string, { at: number; result: Promise<AuthorizeResult> }>();
  /** Verdicts the `onError` policy gave (the hook did not answer); HLS asks again for these. */
  const policyVerdicts = new WeakSet<object>();

  const post = (action: WebhookAction, target: HookTarget, body: object): Promise<Outcome> | undefined => {
    if (closed || inFlight.size >= maxInFlight) {
      stats[action].dropped += 1;
      return undefined;
    }
    const request = send(target, body).then((outcome) => {
      inFlight.delete(request);
      const counts = stats[action];
      if (outcome.kind === "answered") {
        if (outcome.status >= 200 && outcome.status < 300) counts.ok += 1;
        else counts.rejected += 1;
      } else if (outcome.kind === "timeout") counts.timedOut += 1;
      else counts.failed += 1;
      return outcome;
    });
    inFlight.add(request);
    return request;
  };

  const send = async (target: HookTarget, body: object): Promise<Outcome> => {
    const signal = AbortSignal.any([closer.signal, AbortSignal.timeout(timeoutMs)]);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "onair-webhooks",
    };
    if (target.authorization !== undefined) headers.authorization = target.authorization;
    try {
      const response = await fetch(target.url, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        // A redirect is an answer that is not 2xx, as in nginx-rtmp without its redirect support.
        redirect: "manual",
        signal,
      });
      // The body is not read: only the status counts. Cancelling frees the connection.
      await response.body?.cancel().catch(() => {});
      return { kind: "answered", status: response.status };
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === "TimeoutError" || (name === "AbortError" && !closer.signal.aborted))
        return { kind: "timeout" };
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      return { kind: "failed", error: cause?.code ?? cause?.message ?? (error as Error).message };
    }
  };

  const describe = (outcome: Outcome): string =>
    outcome.kind === "answered"
      ? `answered ${outcome.status}`
      : outcome.kind === "timeout"
        ? `did not answer within ${timeoutMs} ms`
        : `failed (${outcome.error})`;

  const logDrop = (action: WebhookAction): void => {
    const now = Date.now();
    if (now - lastDropLog < 1000) {
      dropsUnlogged += 1;
      return;
    }
    const more = dropsUnlogged > 0 ? ` (and ${dropsUnlogged} more since the last such line)` : "";
    dropsUnlogged = 0;
    lastDropLog = now;
    const why = closed ? "the webhooks are closed" : `${maxInFlight} webhook POSTs are in flight`;
    log(`webhook ${HOOK_NAMES[action]} not sent: ${why}${more}`);
  };

  /** A publish or play whose hook did not answer: the policy decides. */
  const policy = (what: string, reason: string): AuthorizeResult => {
    const verdict = onError === "allow" ? "allowed" : "refused";
    log(`webhook ${what} ${reason}: ${verdict} (on_error: ${onError})`);
    const result =
      onError === "allow"
        ? { allow: true as const }
        : { allow: false as const, reason: "webhook failed", status: 403 as const };
    policyVerdicts.add(result);
    return result;
  };

  const ask = async (request: AuthorizeRequest): Promise<AuthorizeResult> => {
    const action = request.action;
    const target = urls[action];
    if (target === undefined) return true;
    // The stream name of a publish may be a secret (a channel key): logs name the app only.
    const what = `${HOOK_NAMES[action]} (${safeUrl(target.url)}) for ${request.protocol} ${action} ${
      action === "publish" ? `to app ${request.app}` : `of ${request.app}/${request.name}`
    } from ${request.remoteAddress}`;
    const body: WebhookAuthorizeBody = {
      action,
      key: `${request.app}/${request.name}`,
      app: request.app,
      name: request.name,
      protocol: request.protocol,
      query: Object.fromEntries(request.query),
      remoteAddress: request.remoteAddress,
      time: new Date().toISOString(),
    };
    const pending = post(action, target, body);
    if (pending === undefined) {
      logDrop(action);
      return policy(what, closed ? "not sent (closed)" : "not sent (too many in flight)");
    }
    const outcome = await pending;
    if (outcome.kind !== "answered") return policy(what, describe(outcome));
    if (outcome.status >= 200 && outcome.status < 300) return true;
    log(`webhook ${what} ${describe(outcome)}: refused`);
    return {
      allow: false,
      reason: `${action} refused by webhook`,
      status: outcome.status === 401 ? 401 : 403,
    };
  };

  /** HLS asks for every request: one POST per viewer and `hlsVerdictMs`, shared while pending. */
  const askHls = (request: AuthorizeRequest): Promise<AuthorizeResult> => {
    const query = new URLSearchParams(request.query);
    // HLS's own directives change at every reload; they say nothing about who plays.
    query.delete("_HLS_msn");
    query.delete("_HLS_part");
    query.delete("_HLS_skip");
    query.sort();
    const key = `${request.app}/${request.name}\n${hostOf(request.remoteAddress)}\n${query}`;
    const now = Date.now();
    const known = hlsVerdicts.get(key);
    if (known !== undefined && now - known.at < hlsVerdictMs) return known.result;
    if (known !== undefined) hlsVerdicts.delete(key);
    const result = ask(request);
    const entry = { at: now, result };
    hlsVerdicts.set(key, entry);
    if (hlsVerdicts.size > MAX_HLS_VERDICTS) {
      const oldest = hlsVerdicts.keys().next().value;
      if (oldest !== undefined) hlsVerdicts.delete(oldest);
    }
    // Only a hook's own answer is reused; after a failure the next request asks again.
    void result.then((verdict) => {
      if (typeof verdict === "object" && policyVerdicts.has(verdict) && hlsVerdicts.get(key) === entry) {
        hlsVerdicts.delete(key);
      }
    });
    return result;
  };

  const authorize: Authorize = (request) => {
    if (urls[request.action] === undefined) return true;
    if (request.protocol === "hls" && request.action === "play" && hlsVerdictMs > 0) return askHls(request);
    return ask(request);
  };

  const notify = (action: WebhookAction, body: object, what: string): void => {
    const target = urls[action];
    if (target === undefined) return;
    const pending = post(action, target, body);
    if (pending === undefined) {
      logDrop(action);
      return;
    }
    void pending.then((outcome) => {
      if (outcome.kind === "answered" && outcome.status >= 200 && outcome.status < 300) return;
      log(`webhook ${HOOK_NAMES[action]} (${safeUrl(target.url)}) for ${what} ${describe(outcome)}`);
    });
  };

  const event = (action: "unpublish" | "stop", info: StreamInfo): void => {
    const protocol = streamProtocol(info);
    if (!isClientProtocol(protocol)) return;
    const body: WebhookEventBody = {
      action,
      key: info.key,
      app: info.app,
      name: info.name,
      protocol,
      id: info.id,
      url: info.url,
      query: info.query === undefined ? {} : Object.fromEntries(info.query),
      ...(info.remoteAddress === undefined ? {} : { remoteAddress: info.remoteAddress }),
      time: new Date().toISOString(),
    };
    notify(action, body, `${action} of ${info.key} by ${info.id}`);
  };

  return {
    authorize,
    attach(hub: StreamHub): () => void {
      const onUnpublish = (info: StreamInfo): void => event("unpublish", info);
      const onStop = (info: StreamInfo): void => event("stop", info);
      hub.on("unpublish", onUnpublish);
      hub.on("stop", onStop);
      return () => {
        hub.off("unpublish", onUnpublish);
        hub.off("stop", onStop);
      };
    },
    recordDone(info: StreamInfo, path: string): void {
      const body: WebhookRecordBody = {
        action: "record_done",
        key: info.key,
        app: info.app,
        name: info.name,
        id: info.id,
        path,
        time: new Date().toISOString(),
      };
      notify("record_done", body, `the recording of ${info.key}`);
    },
    stats(): WebhookStats {
      return {
        publish: { ...stats.publish },
        unpublish: { ...stats.unpublish },
        play: { ...stats.play },
        stop: { ...stats.stop },
        record_done: { ...stats.record_done },
        inFlight: inFlight.size,
      };
    },
    async close(graceMs = 1000): Promise<void> {
      if (closed) return;
      closed = true;
      hlsVerdicts.clear();
      if (inFlight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled([...inFlight]),
          new Promise((resolve) => {
            timer = setTimeout(resolve, graceMs);
          }),
        ]);
        clearTimeout(timer);
      }
      closer.abort();
      await Promise.allSettled([...inFlight]);
    },
  };
}
