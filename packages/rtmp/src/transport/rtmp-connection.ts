import type { Socket } from "node:net";
import { type ByteBudget, type ByteOutput, SafeEventEmitter } from "@onair/core";
import createDebug from "debug";
import { ChunkDecoder } from "../codec/chunk-decoder.js";
import { ChunkEncoder } from "../codec/chunk-encoder.js";
import {
  acknowledgementMessage,
  decodeControlMessage,
  setChunkSizeMessage,
  userControlMessage,
  windowAckSizeMessage,
} from "../codec/control-messages.js";
import { HandshakeClient, HandshakeServer, type HandshakeStep } from "../codec/handshake.js";
import { MessageType, type RtmpMessage, UserControlEvent } from "../codec/rtmp-message.js";
import { RtmpErrorCode, RtmpProtocolError } from "../errors.js";

const debug = createDebug("onair:rtmp:connection");

/** How long a connection closed without an error has to flush to its peer before it is destroyed. */
const CLOSE_DEADLINE_MS = 5000;
/** The partial message check runs this many times per `partialMessageTimeoutMs`. */
const STALL_CHECKS = 10;

/** `partialMessageTimeoutMs` checked: a finite number of ms, at least 0 (0 = off); default 60 000. */
export function partialMessageTimeout(value: number | undefined): number {
  if (value === undefined) return 60_000;
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`partialMessageTimeoutMs must be a finite number >= 0, got ${value}`);
  }
  return value;
}

export interface RtmpConnectionOptions {
  /** Largest message a peer may send, in bytes. Default 16 MiB. */
  maxMessageSize?: number;
  /**
   * Most bytes held for the peer's partial messages, all chunk streams together; more closes the
   * connection with `ERR_RTMP_BUFFER_LIMIT`. Default `maxMessageSize` + 1 MiB (17 MiB).
   */
  maxBufferedBytes?: number;
  /** A budget for partial messages shared with other connections (a server's); default none. */
  bufferBudget?: ByteBudget;
  /** Close a connection with no traffic either way for this long, in ms. Default 60 000. */
  idleTimeoutMs?: number;
  /** Close a connection that has not finished the handshake in this time, in ms. Default 10 000. */
  handshakeTimeoutMs?: number;
  /**
   * Close a connection on which a message stays partial this long, in ms, with
   * `ERR_RTMP_MESSAGE_TIMEOUT`, whatever completes on its other chunk streams meanwhile: a peer
   * trickling a large message is never idle, so the idle timeout does not end it. Checked every
   * tenth of this (one timer per connection), so the close comes after 1 to 1.2 times it.
   * Default 60 000; 0 turns it off.
   */
  partialMessageTimeoutMs?: number;
}

export interface RtmpConnectionEvents {
  /** Handshake done; messages may be sent. */
  ready: [];
  /** The connection is gone. `error` says why when it was not a clean close. */
  close: [error: Error | undefined];
}

/**
 * The transport of one RTMP connection: the only RTMP code that touches a socket. It runs the
 * handshake, decodes and encodes chunks, answers pings and sends acknowledgements, and hands
 * every other message to `onMessage`.
 */
export class RtmpConnection extends SafeEventEmitter<RtmpConnectionEvents> {
  readonly socket: Socket;
  readonly remoteAddress: string;
  /** Every non-control message, in order. Set by the session that owns this connection. */
  onMessage: (message: RtmpMessage) => void = () => {};
  readonly #decoder: ChunkDecoder;
  readonly #encoder = new ChunkEncoder();
  #handshake: HandshakeServer | HandshakeClient | undefined;
  #handshakeTimer: NodeJS.Timeout | undefined;
  readonly #partialMessageTimeoutMs: number;
  #stallTimer: NodeJS.Timeout | undefined;
  /** The decoder's oldest partial message at the last stall check (0: none). */
  #oldestAtLastCheck = 0;
  /** Consecutive checks since the last one that found the same oldest partial message. */
  #stalledChecks = 0;
  #peerWindow = 2_500_000;
  #lastAcknowledged = 0;
  #closed = false;
  #ready = false;
  readonly #deliver = (message: RtmpMessage): void => this.#handle(message);

  constructor(socket: Socket, role: "server" | "client", options: RtmpConnectionOptions = {}) {
    super();
    this.#partialMessageTimeoutMs = partialMessageTimeout(options.partialMessageTimeoutMs);
    this.socket = socket;
    this.remoteAddress = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    this.#decoder = new ChunkDecoder({
      maxMessageSize: options.maxMessageSize ?? 16 * 1024 * 1024,
      maxBufferedBytes: options.maxBufferedBytes,
      budget: options.bufferBudget,
    });
    socket.setNoDelay(true);
    socket.setTimeout(options.idleTimeoutMs ?? 60_000);
    socket.on("timeout", () =>
      this.close(new RtmpProtocolError(RtmpErrorCode.timeout, `no traffic from ${this.remoteAddress}`)),
    );
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("error", (error) => this.close(error));
    socket.on("close", () => this.close());
    this.#handshakeTimer = setTimeout(
      () => this.close(new RtmpProtocolError(RtmpErrorCode.timeout, "handshake not finished in time")),
      options.handshakeTimeoutMs ?? 10_000,
    );
    if (role === "server") {
      this.#handshake = new HandshakeServer();
    } else {
      const client = new HandshakeClient();
      this.#handshake = client;
      socket.write(client.start());
    }
  }

  /** The socket as a byte output, for writers that send shared pre-encoded bytes. */
  get output(): ByteOutput {
    return this.socket;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Outgoing chunk size. */
  get chunkSize(): number {
    return this.#encoder.chunkSize;
  }

  /** Bytes received after the handshake. */
  get bytesReceived(): number {
    return this.#decoder.bytesReceived;
  }

  /** Bytes held for messages not yet complete. */
  get partialMessageBytes(): number {
    return this.#decoder.bufferedBytes;
  }

  send(message: RtmpMessage): void {
    if (this.#closed) return;
    this.socket.write(this.#encoder.encode(message));
  }

  /** Tell the peer, then use `size` for every message sent from now on. */
  setChunkSize(size: number): void {
    this.send(setChunkSizeMessage(size));
    this.#encoder.chunkSize = size;
  }

  /**
   * Close the connection. With an error the socket is destroyed at once; without, pending
   * bytes are flushed first. Idempotent.
   */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#handshakeTimer !== undefined) clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    if (this.#stallTimer !== undefined) clearInterval(this.#stallTimer);
    this.#stallTimer = undefined;
    this.#decoder.dispose();
    if (error !== undefined) debug("%s closed: %s", this.remoteAddress, error.message);
    else debug("%s closed", this.remoteAddress);
    const socket = this.socket;
    if (error instanceof RtmpProtocolError || socket.destroyed) socket.destroy();
    else {
      socket.end();
      // A peer that never reads, or keeps sending, must not keep the socket alive: a deadline,
      // not an idle timeout, which every byte the peer sends would restart.
      socket.setTimeout(0);
      const deadline = setTimeout(() => socket.destroy(), CLOSE_DEADLINE_MS);
      socket.once("close", () => clearTimeout(deadline));
    }
    this.emit("close", error);
    this.removeAllListeners();
  }

  #receive(chunk: Buffer): void {
    if (this.#closed) return;
    try {
      const handshake = this.#handshake;
      if (handshake !== undefined) {
        const step: HandshakeStep = handshake.push(chunk);
        if (step.output !== undefined) this.socket.write(step.output);
        if (!step.done) return;
        this.#handshake = undefined;
        clearTimeout(this.#handshakeTimer);
        this.#handshakeTimer = undefined;
        this.#ready = true;
        this.#startStallCheck();
        this.emit("ready");
        if (step.remainder.length === 0 || this.#closed) return;
        chunk = step.remainder;
      }
      this.#decoder.push(chunk, this.#deliver);
      const received = this.#decoder.bytesReceived;
      if (received - this.#lastAcknowledged >= this.#peerWindow) {
        this.#lastAcknowledged = received;
        this.send(acknowledgementMessage(received % 0x100000000));
      }
    } catch (error) {
      this.close(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * One interval per connection, never a timer per chunk (the decoder numbers messages as they
   * start, no clock). A check that finds the same oldest partial message as STALL_CHECKS checks
   * before has seen that message partial all along for at least the timeout (it was partial at
   * the first of them), and, when it started just after a check, at most 1.1 times it; other
   * messages completing meanwhile, on other chunk streams, change nothing.
   */
  #startStallCheck(): void {
    const timeout = this.#partialMessageTimeoutMs;
    if (timeout === 0) return;
    this.#stallTimer = setInterval(() => this.#checkStall(), Math.ceil(timeout / STALL_CHECKS));
    this.#stallTimer.unref();
  }

  #checkStall(): void {
    const oldest = this.#decoder.oldestPartialMessage;
    if (oldest === 0 || oldest !== this.#oldestAtLastCheck) {
      this.#oldestAtLastCheck = oldest;
      this.#stalledChecks = 0;
      return;
    }
    if (++this.#stalledChecks < STALL_CHECKS) return;
    this.close(
      new RtmpProtocolError(
        RtmpErrorCode.messageTimeout,
        `${this.remoteAddress} left a message partial for over ${this.#partialMessageTimeoutMs} ms (${this.#decoder.bufferedBytes} bytes held)`,
      ),
    );
  }

  #handle(message: RtmpMessage): void {
    if (this.#closed) return;
    switch (message.typeId) {
      case MessageType.setChunkSize:
      case MessageType.abort:
      case MessageType.acknowledgement:
        // The decoder applied chunk size and abort itself; acknowledgements need no answer.
        return;
      case MessageType.windowAckSize: {
        const control = decodeControlMessage(message);
        if (control.type === "windowAckSize" && control.size > 0) this.#peerWindow = control.size;
        return;
      }
      case MessageType.setPeerBandwidth: {
        const control = decodeControlMessage(message);
        if (control.type === "setPeerBandwidth") this.send(windowAckSizeMessage(control.size));
        return;
      }
      case MessageType.userControl: {
        const control = decodeControlMessage(message);
        if (control.type === "userControl" && control.event === UserControlEvent.pingRequest) {
          // A ping carries a timestamp where other events carry a stream id; echo it back.
          this.send(userControlMessage(UserControlEvent.pingResponse, control.streamId));
          return;
        }
        break;
      }
    }
    this.onMessage(message);
  }
}
