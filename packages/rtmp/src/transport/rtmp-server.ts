import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { ByteBudget, ConnectionLimiter, type Handler, SafeEventEmitter } from "@onair/core";
import createDebug from "debug";
import type { AmfLimits } from "../codec/amf.js";
import { ChunkDecoder } from "../codec/chunk-decoder.js";
import { RtmpErrorCode, RtmpProtocolError } from "../errors.js";
import { type Authorize, ServerSession } from "../session/server-session.js";
import { partialMessageTimeout, RtmpConnection } from "./rtmp-connection.js";

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
  /**
   * Most bytes one connection may hold in partial messages, all its chunk streams together; more
   * closes it with `ERR_RTMP_BUFFER_LIMIT`. Memory is taken as bytes arrive, never on a length a
   * header announces. Default `maxMessageSize` + 1 MiB (17 MiB).
   */
  maxBufferedBytes?: number;
  /**
   * Most bytes all connections together may hold in partial messages; the connection whose bytes
   * would go over is closed with `ERR_RTMP_SERVER_BUFFER_LIMIT`, the others go on. Default 256 MiB.
   */
  maxServerBufferedBytes?: number;
  /** Close connections silent for this long, in ms. Default 60 000. */
  idleTimeoutMs?: number;
  /** Close connections that have not finished the handshake in this time, in ms. Default 10 000. */
  handshakeTimeoutMs?: number;
  /**
   * Close a connection on which a message stays partial this long, in ms, whatever completes on
   * its other chunk streams meanwhile (a peer that announces 16 MB and trickles a byte now and then
   * is never idle, and would keep its slot and the bytes it holds forever), with
   * `ERR_RTMP_MESSAGE_TIMEOUT`, counted in `stats().refused.messageTimeout`.
   * Checked every tenth of it, so the close comes after 1 to 1.2 times it. Default 60 000; 0 turns it off.
   */
  partialMessageTimeoutMs?: number;
  /**
   * Most connections at once; more are closed at accept and counted in `stats().refused`.
   * Default 10 000.
   */
  maxConnections?: number;
  /**
   * Most connections at once from one IP address, so one host cannot take every slot; more are
   * closed at accept and counted. Default 256: room for a relay or edge pulling many streams, or an
   * office behind one NAT, while it takes 40 hosts to fill the default `maxConnections`. Addresses
   * in `perIpExemptAddresses` are not limited.
   */
  maxConnectionsPerIp?: number;
  /**
   * Peer addresses `maxConnectionsPerIp` does not apply to. Default `LOOPBACK_ADDRESSES` from
   * @onair/core ("127.0.0.1", "::1", "::ffff:127.0.0.1"): a local TLS terminator or proxy makes every
   * client look like this machine. `[]` limits every address.
   */
  perIpExemptAddresses?: readonly string[];
  amfLimits?: AmfLimits;
}

/** Why the server refused or ended a connection on its own; counted in {@link RtmpServerStats}. */
export type RtmpRefusalReason = keyof RtmpServerStats["refused"];

// A type, not an interface, so it reads as a plain record (Object.entries, Record<string, unknown>).
export type RtmpServerStats = {
  /** Connections open now. */
  connections: number;
  /** Bytes held now for partial messages, all connections together. */
  partialMessageBytes: number;
  /** Connections accepted since the server was created. */
  accepted: number;
  /** Connections refused at accept, or closed by a limit or a protocol error, by reason, since creation. */
  refused: {
    /** Closed at accept: `maxConnections` were open. */
    maxConnections: number;
    /** Closed at accept: `maxConnectionsPerIp` were open from that address. */
    maxConnectionsPerIp: number;
    /** The handshake did not finish within `handshakeTimeoutMs`. */
    handshakeTimeout: number;
    /** Silent for `idleTimeoutMs` after the handshake. */
    idleTimeout: number;
    /** Left a message partial for `partialMessageTimeoutMs`. */
    messageTimeout: number;
    /** Closed for breaking the protocol or a size limit (an `RtmpProtocolError` other than the timeouts above). */
    protocolError: number;
    /** A connect or publish/play refused for a bad app or stream name. */
    badName: number;
    /** A publish or play refused by `authorize`. */
    unauthorized: number;
  };
};

export interface RtmpServerEvents {
  listening: [AddressInfo];
  connection: [remoteAddress: string];
  /** A connection was refused at accept or closed by a limit; counted in `stats()`. */
  refused: [remoteAddress: string, reason: RtmpRefusalReason];
  /** A connection ended; `error` is the protocol error that closed it, if any. */
  disconnect: [remoteAddress: string, error: Error | undefined];
  error: [Error];
}

/** An RTMP server: accepts publishers and players and hands them to its handler. */
export class RtmpServer extends SafeEventEmitter<RtmpServerEvents> {
  readonly #options: RtmpServerOptions;
  readonly #server: Server;
  readonly #connections = new Set<RtmpConnection>();
  /** Partial message bytes of all connections, against `maxServerBufferedBytes`. */
  readonly #bufferBudget: ByteBudget;
  /** Open connections, in all and per peer IP, against `maxConnections` and `maxConnectionsPerIp`. */
  readonly #limiter: ConnectionLimiter;
  #accepted = 0;
  readonly #refused: RtmpServerStats["refused"] = {
    maxConnections: 0,
    maxConnectionsPerIp: 0,
    handshakeTimeout: 0,
    idleTimeout: 0,
    messageTimeout: 0,
    protocolError: 0,
    badName: 0,
    unauthorized: 0,
  };
  #closing: Promise<void> | undefined;

  constructor(options: RtmpServerOptions) {
    super();
    this.#options = options;
    // Checked here, not at accept, where a throw would reach no caller (and end the process).
    partialMessageTimeout(options.partialMessageTimeoutMs);
    new ChunkDecoder({ maxMessageSize: options.maxMessageSize, maxBufferedBytes: options.maxBufferedBytes });
    this.#limiter = new ConnectionLimiter({
      maxConnections: options.maxConnections ?? 10_000,
      maxConnectionsPerIp: options.maxConnectionsPerIp ?? 256,
      ...(options.perIpExemptAddresses === undefined
        ? {}
        : { perIpExemptAddresses: options.perIpExemptAddresses }),
    });
    this.#bufferBudget = new ByteBudget(options.maxServerBufferedBytes ?? 256 * 1024 * 1024);
    // The limit is checked in #accept rather than by net.Server.maxConnections, which drops
    // sockets silently: here each refusal is counted and reported.
    this.#server = createServer((socket) => this.#accept(socket));
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

  /** Open connections, and what the limits refused since the server was created. */
  stats(): RtmpServerStats {
    let partialMessageBytes = 0;
    for (const connection of this.#connections) partialMessageBytes += connection.partialMessageBytes;
    return {
      connections: this.#connections.size,
      partialMessageBytes,
      accepted: this.#accepted,
      refused: { ...this.#refused },
    };
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
        // A copy first: each close() takes its connection out of the set, and the sockets must
        // not wait out a clean close's deadline for peers that do not hang up.
        const connections = [...this.#connections];
        for (const connection of connections) connection.close();
        for (const connection of connections) connection.socket.destroy();
      });
    }
    return this.#closing;
  }

  /**
   * Serve a connection accepted elsewhere, as if this server's own listener had accepted it: a
   * `tls.Server`'s sockets for RTMPS, or a socket from the user's own `net.Server`. The same limits,
   * counters, handler and authorize apply, and `close()` ends it with the others.
   */
  handleSocket(socket: Socket): void {
    this.#accept(socket);
  }

  #accept(socket: Socket): void {
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    // Refused before the handshake: RTMP can only say no after a handshake and a connect, and
    // spending those on an overload would spend what the limit protects. The client sees a close.
    const ip = socket.remoteAddress ?? "";
    const limit = this.#limiter.admit(ip);
    if (limit !== undefined) {
      this.#refuse(socket, limit === "perIp" ? "maxConnectionsPerIp" : "maxConnections");
      return;
    }
    this.#accepted++;
    const options = this.#options;
    const connection = new RtmpConnection(socket, "server", {
      maxMessageSize: options.maxMessageSize,
      maxBufferedBytes: options.maxBufferedBytes,
      bufferBudget: this.#bufferBudget,
      idleTimeoutMs: options.idleTimeoutMs,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      partialMessageTimeoutMs: options.partialMessageTimeoutMs,
    });
    // The address this client reached (the listener's may be 0.0.0.0): StreamInfo URLs use it.
    const address =
      socket.localAddress !== undefined && socket.localPort !== undefined
        ? { address: socket.localAddress, port: socket.localPort, family: socket.localFamily ?? "" }
        : this.address();
    const session = new ServerSession(connection, {
      handler: options.handler,
      authorize: options.authorize,
      chunkSize: options.chunkSize,
      amfLimits: options.amfLimits,
      localAddress: address,
      onRefusal: (reason) => {
        this.#refused[reason]++;
        this.emit("refused", connection.remoteAddress, reason);
      },
    });
    connection.onMessage = (message) => session.handleMessage(message);
    this.#connections.add(connection);
    const remote = connection.remoteAddress;
    connection.on("close", (error) => {
      this.#connections.delete(connection);
      this.#limiter.release(ip);
      if (error instanceof RtmpProtocolError) {
        const reason: RtmpRefusalReason =
          error.code === RtmpErrorCode.messageTimeout
            ? "messageTimeout"
            : error.code !== RtmpErrorCode.timeout
              ? "protocolError"
              : connection.ready
                ? "idleTimeout"
                : "handshakeTimeout";
        this.#refused[reason]++;
        this.emit("refused", remote, reason);
      }
      session.close(error);
      this.emit("disconnect", remote, error);
    });
    this.emit("connection", remote);
  }

  #refuse(socket: Socket, reason: RtmpRefusalReason): void {
    const remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    debug("refused %s: %s", remote, reason);
    this.#refused[reason]++;
    socket.destroy();
    this.emit("refused", remote, reason);
  }
}

/** Create an RTMP server; call `listen()` to start it. */
export function createRtmpServer(options: RtmpServerOptions): RtmpServer {
  return new RtmpServer(options);
}
