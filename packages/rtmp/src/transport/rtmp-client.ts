import { isIP, connect as netConnect } from "node:net";
import { type ConnectionOptions, connect as tlsConnect } from "node:tls";
import { SafeEventEmitter } from "@onair/core";
import type { AmfValue } from "../codec/amf.js";
import type { RtmpCommand, StatusInfo } from "../codec/command.js";
import { RtmpErrorCode, RtmpProtocolError } from "../errors.js";
import { ClientSession, type ClientTransport } from "../session/client-session.js";
import type { RtmpPlayReader } from "../session/rtmp-play-reader.js";
import type { RtmpPublishWriter } from "../session/rtmp-publish-writer.js";
import { RtmpConnection } from "./rtmp-connection.js";

export interface RtmpClientOptions {
  /** Outgoing chunk size, announced after connect. Default 4096. */
  chunkSize?: number;
  /** Give up connecting (TCP, handshake and the connect reply) after this long, in ms. Default 10 000. */
  connectTimeoutMs?: number;
  /** Largest message the server may send, in bytes. Default 16 MiB. */
  maxMessageSize?: number;
  /** Close when nothing moved either way for this long, in ms. Default 60 000. */
  idleTimeoutMs?: number;
  /** flashVer sent in connect. Default "FMLE/3.0 (compatible; onair)". */
  flashVer?: string;
  /**
   * TLS options for rtmps:// URLs (`ca` for a private CA, `rejectUnauthorized: false` for a
   * self-signed test certificate, ...). The host and port come from the URL.
   */
  tls?: Omit<ConnectionOptions, "host" | "port">;
}

export interface RtmpClientEvents {
  /** Every onStatus the server sends. */
  status: [StatusInfo, streamId: number];
  close: [Error | undefined];
}

/**
 * An RTMP client that publishes to or plays from any RTMP server (onair, nginx-rtmp, node-media-server,
 * livego...). Published streams are {@link RtmpPublishWriter}s and played streams
 * {@link RtmpPlayReader}s, so a client plugs into a hub like any server does (that is what relays
 * are). This is the transport: a socket and an {@link RtmpConnection} under a {@link ClientSession}.
 */
export class RtmpClient extends SafeEventEmitter<RtmpClientEvents> {
  readonly url: URL;
  readonly #connection: RtmpConnection;
  readonly #session: ClientSession;

  private constructor(url: URL, connection: RtmpConnection, options: RtmpClientOptions) {
    super();
    this.url = url;
    this.#connection = connection;
    const transport: ClientTransport = {
      remoteAddress: connection.remoteAddress,
      get bufferedBytes() {
        return connection.socket.writableLength;
      },
      send: (message) => connection.send(message),
      setChunkSize: (size) => connection.setChunkSize(size),
      close: (error) => connection.close(error),
    };
    this.#session = new ClientSession(transport, {
      url,
      chunkSize: options.chunkSize,
      flashVer: options.flashVer,
    });
    this.#session.on("status", (info, streamId) => this.emit("status", info, streamId));
    this.#session.on("close", (error) => this.emit("close", error));
    connection.onMessage = (message) => this.#session.handleMessage(message);
    connection.on("close", (error) => this.#session.close(error));
  }

  /** Connect to `url` ("rtmp://host[:port]/app[?query]") and complete the RTMP connect. */
  static async connect(url: string | URL, options: RtmpClientOptions = {}): Promise<RtmpClient> {
    const target = new URL(url);
    if (target.protocol !== "rtmp:" && target.protocol !== "rtmps:") {
      throw new TypeError(`not an rtmp:// or rtmps:// URL: ${target.href}`);
    }
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    const host = target.hostname.replace(/^\[|\]$/g, "");
    // rtmps:// is RTMP over TLS, on port 443 unless the URL names one (as ffmpeg and OBS do).
    const socket =
      target.protocol === "rtmps:"
        ? tlsConnect({
            ...options.tls,
            host,
            port: Number(target.port || 443),
            ...(isIP(host) === 0 ? { servername: host } : {}),
          })
        : netConnect({ host, port: Number(target.port || 1935) });
    const connection = new RtmpConnection(socket, "client", {
      maxMessageSize: options.maxMessageSize,
      idleTimeoutMs: options.idleTimeoutMs,
      handshakeTimeoutMs: timeoutMs,
    });
    const client = new RtmpClient(target, connection, options);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new RtmpProtocolError(RtmpErrorCode.timeout, `connect to ${target.host} timed out`)),
        timeoutMs,
      );
      const fail = (error: Error | undefined): void => {
        clearTimeout(timer);
        connection.close(error);
        reject(error ?? new Error(`connection to ${target.host} closed`));
      };
      connection.once("close", fail);
      connection.once("ready", () => {
        client.#session.connect().then(() => {
          clearTimeout(timer);
          connection.off("close", fail);
          resolve();
        }, fail);
      });
    });
    return client;
  }

  get closed(): boolean {
    return this.#session.closed;
  }

  /** Send a command and wait for its `_result` (rejects with RtmpStatusError on `_error`). */
  call(name: string, commandObject: AmfValue = null, ...args: AmfValue[]): Promise<RtmpCommand> {
    return this.#session.call(name, commandObject, ...args);
  }

  /**
   * Publish `name` (may carry "?query") live. Resolves with a writer once the server says
   * NetStream.Publish.Start; write packets to it (or hand it to a hub with `handleWriter`).
   */
  publish(name: string): Promise<RtmpPublishWriter> {
    return this.#session.publish(name);
  }

  /**
   * Play `name`. Resolves once the server says NetStream.Play.Start with a reader; packets that
   * arrive before a sink is attached are kept for it.
   */
  play(name: string): Promise<RtmpPlayReader> {
    return this.#session.play(name);
  }

  /** Close the connection and end every stream. Idempotent. */
  close(error?: Error): void {
    this.#connection.close(error);
  }
}
