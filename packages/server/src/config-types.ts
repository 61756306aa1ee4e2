import type { Authorize, StreamHubOptions } from "@onair/core";
import type { HttpFlvServerOptions } from "@onair/flv";
import type { RtmpServerOptions } from "@onair/rtmp";

/** HLS flavours: MPEG-TS segments, fMP4 (CMAF) segments, or fMP4 with LL-HLS parts. */
export type HlsVariant = "ts" | "fmp4" | "low-latency";

export interface HlsSettings {
  /** Default "low-latency". */
  variant?: HlsVariant;
  targetDurationMs?: number;
  partTargetMs?: number;
  /** Segments a live playlist lists. */
  windowSegments?: number;
  /** How long a stream's playlist stays served after it ends, in ms. */
  keepAfterEndMs?: number;
  /** Write segments to this folder instead of keeping them in memory. */
  dir?: string;
  /** Serve HLS over HTTPS and HTTP/2 with this certificate (PEM). */
  tls?: TlsCredentials;
}

/** An application (livego's `server:` entries): a publish or play to an app not listed is refused. */
export interface AppSettings {
  name: string;
  /** Publishing accepted. Default true. */
  live?: boolean;
  /** Played over HLS. Default true. */
  hls?: boolean;
  /** Played over HTTP-FLV and WebSocket-FLV. Default true. */
  flv?: boolean;
  /** Accepted for livego.yaml compatibility; the control API serves every app. */
  api?: boolean;
  /** RTMP URLs every stream of this app is pushed to while it is live (APP/NAME: URL + "/" + NAME). */
  staticPush?: string[];
}

export interface WebhookSettings {
  onPublish?: string;
  onUnpublish?: string;
  onPlay?: string;
  onStop?: string;
  onRecordDone?: string;
  /** How long a hook may take, in ms. Default 5000. */
  timeoutMs?: number;
  /** What a publish or play gets when its hook fails or times out. Default "deny". */
  onError?: "allow" | "deny";
}

export interface JwtSettings {
  secret: string;
  /** Default "HS256". */
  algorithm?: string;
}

/** A certificate chain and its private key, PEM. */
export interface TlsCredentials {
  cert: string | Buffer;
  key: string | Buffer;
}

export interface RtmpsSettings extends TlsCredentials {
  /** Default: the media host (`host`, "0.0.0.0"). */
  host?: string;
  /** Default 1936. */
  port?: number;
}

/**
 * Everything `createServer` composes. Every field is optional; what is left out gets the ready
 * server's defaults: RTMP on 0.0.0.0:1935, HTTP-FLV/WS-FLV on 0.0.0.0:7001, HLS (low-latency) on
 * 0.0.0.0:7002, the control API on 127.0.0.1:8090, channel keys in memory.
 */
export interface OnairConfig {
  /** Address the media listeners (RTMP, RTMPS, HTTP-FLV, HLS) bind unless theirs is set. Default "0.0.0.0". */
  host?: string;
  rtmpHost?: string;
  /** Default 1935; 0 picks a free one. */
  rtmpPort?: number;
  flvHost?: string;
  /** HTTP-FLV and WebSocket-FLV port. Default 7001; 0 picks a free one. */
  flvPort?: number;
  hlsHost?: string;
  /** Default 7002; 0 picks a free one. */
  hlsPort?: number;
  /** Default "127.0.0.1": the API hands out publishing keys. */
  apiHost?: string;
  /** Default 8090; 0 picks a free one. */
  apiPort?: number;
  /** An RTMPS (RTMP over TLS) listener for publishing and playing, with this certificate. Off unless set. */
  rtmps?: RtmpsSettings;
  /** HLS settings, or false for no HLS listener. */
  hls?: false | HlsSettings;
  /** false: no control API listener (nor /metrics). */
  api?: boolean;
  /** A JWT secret makes every API call need a token. */
  jwt?: JwtSettings;
  /**
   * true: anyone may publish to any APP/NAME (development). Default false: publishing needs a
   * channel key from /control/get (livego's model).
   */
  rtmpNoAuth?: boolean;
  /** Keep channel keys in Redis (shared by servers, kept across restarts) instead of memory. */
  redis?: { addr: string; password?: string };
  webhooks?: WebhookSettings;
  /** The apps served; undefined serves any app. */
  apps?: AppSettings[];
  /** The user's own hook, asked after the built-in ones (apps, keys, webhooks); every one must allow. */
  authorize?: Authorize;
  /** Access-Control-Allow-Origin of HTTP-FLV and HLS responses. Default "*". */
  cors?: string;
  /** Record every published stream to DIR/APP/NAME-<start time>.flv. Off unless set. */
  flvDir?: string;
  hub?: StreamHubOptions;
  /** More RTMP options (limits, timeouts); `authorize` here is asked too. */
  rtmp?: Omit<RtmpServerOptions, "handler" | "host" | "port">;
  /** More HTTP-FLV / WS-FLV options; `authorize` here is asked too. */
  flv?: Omit<HttpFlvServerOptions, "handler" | "host" | "port">;
}
