/**
 * A client session and a server session joined by an in-memory byte pipe, no sockets: each side
 * chunk-encodes what it sends and the other side chunk-decodes it, as over TCP. Delivery is queued
 * (microtasks, in order) so neither side re-enters the other.
 */
import type { ByteOutput, Handler } from "@onair/core";
import {
  type Authorize,
  ChunkDecoder,
  ChunkEncoder,
  ClientSession,
  type ClientTransport,
  type RtmpMessage,
  ServerSession,
  type SessionTransport,
  setChunkSizeMessage,
} from "../src/index.js";

/** One direction of the pipe: bytes in, decoded messages out to `deliver`. */
class Pipe {
  readonly #decoder = new ChunkDecoder();
  readonly #encoder = new ChunkEncoder();
  deliver: (message: RtmpMessage) => void = () => {};
  onError: (error: Error) => void = () => {};
  closed = false;

  get chunkSize(): number {
    return this.#encoder.chunkSize;
  }

  send(message: RtmpMessage): void {
    this.write(this.#encoder.encode(message));
  }

  setChunkSize(size: number): void {
    this.send(setChunkSizeMessage(size));
    this.#encoder.chunkSize = size;
  }

  write(bytes: Buffer): void {
    if (this.closed) return;
    queueMicrotask(() => {
      if (this.closed) return;
      try {
        this.#decoder.push(bytes, (message) => this.deliver(message));
      } catch (error) {
        this.onError(error as Error);
      }
    });
  }
}

export interface SessionPair {
  client: ClientSession;
  server: ServerSession;
  /** Set once the connection closed, with the error given to close (undefined: a clean close). */
  closedWith: { error: Error | undefined } | undefined;
}

export function sessionPair(options: { url: string; handler: Handler; authorize?: Authorize }): SessionPair {
  const toClient = new Pipe();
  const toServer = new Pipe();
  const pair = { closedWith: undefined } as SessionPair;
  // Either side closing ends the connection for both, once.
  const close = (error?: Error): void => {
    if (pair.closedWith !== undefined) return;
    pair.closedWith = { error };
    queueMicrotask(() => {
      toClient.closed = true;
      toServer.closed = true;
      pair.server.close(error);
      pair.client.close(error);
    });
  };
  const serverOutput: ByteOutput = {
    write: (bytes: Buffer) => {
      toClient.write(bytes);
      return true;
    },
    writableLength: 0,
  };
  const serverTransport: SessionTransport = {
    output: serverOutput,
    get chunkSize() {
      return toClient.chunkSize;
    },
    remoteAddress: "10.0.0.2:50000",
    send: (message) => toClient.send(message),
    setChunkSize: (size) => toClient.setChunkSize(size),
    close,
  };
  const clientTransport: ClientTransport = {
    remoteAddress: "10.0.0.1:1935",
    bufferedBytes: 0,
    send: (message) => toServer.send(message),
    setChunkSize: (size) => toServer.setChunkSize(size),
    close,
  };
  pair.server = new ServerSession(serverTransport, {
    handler: options.handler,
    authorize: options.authorize,
    chunkSize: 4096,
  });
  pair.client = new ClientSession(clientTransport, { url: new URL(options.url) });
  toServer.deliver = (message) => pair.server.handleMessage(message);
  toClient.deliver = (message) => pair.client.handleMessage(message);
  toServer.onError = close;
  toClient.onError = close;
  return pair;
}
