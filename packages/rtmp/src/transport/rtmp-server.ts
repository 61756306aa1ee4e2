import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import type { Handler } from "@onair/core";
import createDebug from "debug";
import { EventEmitter } from "eventemitter3";
import type { AmfLimits } from "../codec/amf.js";
import { type Authorize, ServerSession } from "../session/server-session.js";
import { RtmpConnection } from "./rtmp-connection.js";

const debug = createDebug("onair:rtmp:server");

export interface RtmpServerOptions {
  /** Where publishers and players go; usually a `StreamHub`. */
  handler: Handler;
  /** Async hook asked before every publish and play; see {@link Authorize}. */
  authorize?: Authorize;
  /** Address to listen on. Default "0.0.0.0". */
  host?: string;
  /** Port to listen on. Default 1935 (0 picks a free port). */
  port?: number;
  /** Outgoing chunk size. Default 4096. */
  chunkSize?: number;
  /** Largest message a client may send, in bytes. Default 16 MiB. */
  maxMessageSize?: number;
  /** Close connections silent for this long, in ms. Default 60 000. */
  idleTimeoutMs?: number;
  /** Close connections that have not finished the handshake in this time, in ms. Default 10 000. */
  handshakeTimeoutMs?: number;
  /** Most connections at once; more are refused. Default 10 000. */
  maxConnections?: number;
  amfLimits?: AmfLimits;
}

export interface RtmpServerEvents {
  listening: [AddressInfo];
  connection: [remoteAddress: string];
  /** A connection ended; `error` is the protocol error that closed it, if any. */
  disconnect: [remoteAddress: string, error: Error | undefined];
  error: [Error];
}

/** An RTMP server: accepts publishers and players and hands them to its handler. */
export class RtmpServer extends EventEmitter<RtmpServerEvents> {
  readonly #options: RtmpServerOptions;
  readonly #server: Server;
  readonly #connections = new Set<RtmpConnection>();
  #closing: Promise<void> | undefined;

  constructor(options: RtmpServerOptions) {
    super();
    this.#options = options;
    this.#server = createServer((socket) => this.#accept(socket));
    this.#server.maxConnections = options.maxConnections ?? 10_000;
    this.#server.on("error", (error) => this.emit("error", error));
  }

  /** The bound address, once listening. */
  address(): AddressInfo | undefined {
    const address = this.#server.address();
    return typeof address === "object" && address !== null ? address : undefined;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Start listening. `port` and `host` override the options. Resolves with the bound address. */
  listen(port = this.#options.port ?? 1935, host = this.#options.host ?? "0.0.0.0"): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.#server.once("error", onError);
      this.#server.listen(port, host, () => {
        this.#server.off("error", onError);
        const address = this.address() as AddressInfo;
        debug("listening on %s:%d", address.address, address.port);
        this.emit("listening", address);
        resolve(address);
      });
    });
  }

  /** Stop listening, end every connection and free the port. Idempotent. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closing = new Promise((resolve) => {
        if (!this.#server.listening) {
          resolve();
        } else {
          this.#server.close(() => resolve());
        }
        for (const connection of [...this.#connections]) connection.close();
        for (const connection of [...this.#connections]) connection.socket.destroy();
      });
    }
    return this.#closing;
  }

  #accept(socket: Socket): void {
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    const options = this.#options;
    const connection = new RtmpConnection(socket, "server", {
      maxMessageSize: options.maxMessageSize,
      idleTimeoutMs: options.idleTimeoutMs,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
    });
    const address = this.address();
    const session = new ServerSession(connection, {
      handler: options.handler,
      authorize: options.authorize,
      chunkSize: options.chunkSize,
      amfLimits: options.amfLimits,
      localAddress: address,
    });
    connection.onMessage = (message) => session.handleMessage(message);
    this.#connections.add(connection);
    const remote = connection.remoteAddress;
    connection.on("close", (error) => {
      this.#connections.delete(connection);
      session.close(error);
      this.emit("disconnect", remote, error);
    });
    this.emit("connection", remote);
  }
}

/** Create an RTMP server; call `listen()` to start it. */
export function createRtmpServer(options: RtmpServerOptions): RtmpServer {
  return new RtmpServer(options);
}
