import { nextStreamId, SafeEventEmitter, type StreamInfo } from "@onair/core";
import createDebug from "debug";
import type { AmfObject, AmfValue } from "../codec/amf.js";
import {
  ChunkStream,
  commandMessage,
  decodeCommand,
  type RtmpCommand,
  type StatusInfo,
} from "../codec/command.js";
import { userControlMessage } from "../codec/control-messages.js";
import { MessageType, type RtmpMessage, UserControlEvent } from "../codec/rtmp-message.js";
import { RtmpErrorCode, RtmpProtocolError, RtmpStatusError } from "../errors.js";
import { ingestMediaMessage } from "./media-ingest.js";
import { RtmpPlayReader } from "./rtmp-play-reader.js";
import { RtmpPublishWriter } from "./rtmp-publish-writer.js";

const debug = createDebug("onair:rtmp:client");

/** "|RtmpSampleAccess" as an AMF0 string: a Flash player permission some servers send, not stream data. */
const SAMPLE_ACCESS = Buffer.from([0x02, 0x00, 0x11, ...Buffer.from("|RtmpSampleAccess", "latin1")]);

/** What a client session needs from its connection; a socket in production, a pipe in tests. */
export interface ClientTransport {
  /** "host:port" of the server. */
  readonly remoteAddress: string;
  /** Bytes queued and not yet written (a publisher's backpressure). */
  readonly bufferedBytes: number;
  send(message: RtmpMessage): void;
  /** Tell the peer, then use `size` for every message sent from now on. */
  setChunkSize(size: number): void;
  close(error?: Error): void;
}

export interface ClientSessionOptions {
  /** The server URL, "rtmp://host[:port]/app[?query]": app, tcUrl and stream URLs come from it. */
  url: URL;
  /** Outgoing chunk size, announced before connect. Default 4096. */
  chunkSize?: number;
  /** flashVer sent in connect. Default "FMLE/3.0 (compatible; onair)". */
  flashVer?: string;
}

export interface ClientSessionEvents {
  /** Every onStatus the server sends. */
  status: [StatusInfo, streamId: number];
  /** The connection is gone; `error` says why when it was not a clean close. */
  close: [Error | undefined];
}

interface Pending {
  resolve: (command: RtmpCommand) => void;
  reject: (error: Error) => void;
}

/** Where one of this client's streams stands. */
interface ClientStream {
  /** Waiting for NetStream.Publish.Start or NetStream.Play.Start. */
  waiting?: { success: string; resolve: () => void; reject: (error: Error) => void };
  reader?: RtmpPlayReader;
  writer?: RtmpPublishWriter;
}

/**
 * The client side of one RTMP connection as a state machine:
 *
 *   new --connect()--> connecting --_result--> connected --close (either side)--> closed
 *   connected: createStream --_result(id)--> publish/play --onStatus *.Start--> streaming
 *   streaming --error onStatus, Play.Stop/UnpublishNotify, deleteStream--> stream gone
 *
 * Commands wait for their `_result` by transaction id; publish and play wait for their onStatus.
 * It consumes decoded messages and acts through its transport; it never touches a socket.
 */
export class ClientSession extends SafeEventEmitter<ClientSessionEvents> {
  readonly url: URL;
  readonly #transport: ClientTransport;
  readonly #options: ClientSessionOptions;
  readonly #app: string;
  readonly #pending = new Map<number, Pending>();
  readonly #streams = new Map<number, ClientStream>();
  #nextTransaction = 1;
  #closed = false;

  constructor(transport: ClientTransport, options: ClientSessionOptions) {
    super();
    this.#transport = transport;
    this.#options = options;
    this.url = options.url;
    this.#app = options.url.pathname.replace(/^\/+/, "").replace(/\/+$/, "");
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Announce the chunk size and send connect; resolves on the server's `_result`. A refused
   * connect (RtmpStatusError) closes the transport: the connection has no other use.
   */
  async connect(): Promise<void> {
    const { url } = this;
    this.#transport.setChunkSize(this.#options.chunkSize ?? 4096);
    const connected = this.call("connect", {
      app: `${this.#app}${url.search}`,
      type: "nonprivate",
      flashVer: this.#options.flashVer ?? "FMLE/3.0 (compatible; onair)",
      tcUrl: `rtmp://${url.host}/${this.#app}${url.search}`,
      fpad: false,
      capabilities: 15,
      audioCodecs: 4071,
      videoCodecs: 252,
      videoFunction: 1,
      objectEncoding: 0,
    });
    try {
      await connected;
    } catch (error) {
      this.#transport.close(error as Error);
      throw error;
    }
  }

  /** Send a command and wait for its `_result` (rejects with RtmpStatusError on `_error`). */
  call(name: string, commandObject: AmfValue = null, ...args: AmfValue[]): Promise<RtmpCommand> {
    const transactionId = this.#nextTransaction++;
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new Error("client is closed"));
        return;
      }
      this.#pending.set(transactionId, { resolve, reject });
      this.#transport.send(commandMessage({ name, transactionId, commandObject, args }));
    });
  }

  /**
   * Publish `name` (may carry "?query") live. Resolves with a writer once the server says
   * NetStream.Publish.Start.
   */
  async publish(name: string): Promise<RtmpPublishWriter> {
    this.#send("releaseStream", null, name);
    this.#send("FCPublish", null, name);
    const id = await this.#createStream();
    await this.#startStream(id, "publish", [name, "live"], "NetStream.Publish.Start", {});
    const transport = this.#transport;
    const writer = new RtmpPublishWriter(this.#info(name, "rtmp-push-"), id, {
      get bufferedBytes() {
        return transport.bufferedBytes;
      },
      send: (message) => {
        if (!this.#closed) transport.send(message);
      },
      release: () => {
        if (this.#closed) return;
        this.#send("FCUnpublish", null, name);
        this.#send("deleteStream", null, id);
        this.#streams.delete(id);
      },
    });
    const stream = this.#streams.get(id);
    if (stream === undefined) writer.finish(new Error("connection closed"));
    else stream.writer = writer;
    return writer;
  }

  /**
   * Play `name`. Resolves once the server says NetStream.Play.Start with a reader; packets that
   * arrive before a sink is attached are kept for it.
   */
  async play(name: string): Promise<RtmpPlayReader> {
    const id = await this.#createStream();
    const reader = new RtmpPlayReader(this.#info(name, "rtmp-pull-"), () => {
      if (this.#closed) return;
      this.#send("deleteStream", null, id);
      this.#streams.delete(id);
    });
    this.#transport.send(userControlMessage(UserControlEvent.setBufferLength, id, 3000));
    await this.#startStream(id, "play", [name, -2000], "NetStream.Play.Start", { reader });
    return reader;
  }

  /** Feed one decoded message. Throws RtmpProtocolError for a command that does not decode. */
  handleMessage(message: RtmpMessage): void {
    if (this.#closed) return;
    switch (message.typeId) {
      case MessageType.commandAmf0:
      case MessageType.commandAmf3:
        this.#command(decodeCommand(message), message.messageStreamId);
        return;
      case MessageType.audio:
      case MessageType.video:
      case MessageType.dataAmf0:
      case MessageType.dataAmf3:
      case MessageType.aggregate:
        this.#media(message);
        return;
    }
  }

  /** The connection is gone: fail what waits, end every stream. Idempotent. */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    const reason = error ?? new Error("connection closed");
    for (const pending of this.#pending.values()) pending.reject(reason);
    this.#pending.clear();
    for (const stream of this.#streams.values()) {
      stream.waiting?.reject(reason);
      stream.reader?.end(error);
      stream.writer?.finish(error);
    }
    this.#streams.clear();
    this.emit("close", error);
  }

  /** Audio, video, data and aggregates of them on a played stream, parsed once. */
  #media(message: RtmpMessage): void {
    const reader = this.#streams.get(message.messageStreamId)?.reader;
    if (reader === undefined) return;
    // |RtmpSampleAccess is the server telling a Flash player what it may read, not stream data.
    ingestMediaMessage(message, reader, this.#dropMedia, SAMPLE_ACCESS);
  }

  readonly #dropMedia = (what: string, error: RtmpProtocolError): void => {
    debug("%s: %s dropped: %s", this.#transport.remoteAddress, what, error.message);
  };

  #info(name: string, prefix: string): StreamInfo {
    const [bare] = name.split("?", 1);
    const app = this.#app;
    return {
      key: `${app}/${bare}`,
      app,
      name: bare,
      url: `rtmp://${this.url.host}/${app}/${bare}`,
      id: nextStreamId(prefix),
      query: new URLSearchParams(name.includes("?") ? name.slice(name.indexOf("?") + 1) : ""),
      remoteAddress: this.#transport.remoteAddress,
    };
  }

  async #createStream(): Promise<number> {
    const reply = await this.call("createStream");
    const id = reply.args[0];
    if (typeof id !== "number")
      throw new RtmpProtocolError(RtmpErrorCode.command, "createStream reply without a stream id");
    return id;
  }

  #startStream(
    id: number,
    command: string,
    args: AmfValue[],
    success: string,
    stream: ClientStream,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new Error("client is closed"));
        return;
      }
      this.#streams.set(id, { ...stream, waiting: { success, resolve, reject } });
      this.#transport.send(
        commandMessage(
          { name: command, transactionId: 0, commandObject: null, args },
          id,
          ChunkStream.command,
        ),
      );
    });
  }

  #send(name: string, commandObject: AmfValue, ...args: AmfValue[]): void {
    this.#transport.send(commandMessage({ name, transactionId: 0, commandObject, args }));
  }

  #command(command: RtmpCommand, streamId: number): void {
    if (command.name === "_result" || command.name === "_error") {
      const pending = this.#pending.get(command.transactionId);
      if (pending === undefined) return;
      this.#pending.delete(command.transactionId);
      if (command.name === "_result") pending.resolve(command);
      else {
        const info = (command.args[0] ?? {}) as AmfObject;
        pending.reject(new RtmpStatusError(String(info.code ?? "_error"), String(info.description ?? "")));
      }
      return;
    }
    if (command.name !== "onStatus") return;
    const info = (command.args[0] ?? {}) as StatusInfo;
    debug("onStatus %s on stream %d", info.code, streamId);
    this.emit("status", info, streamId);
    const stream = this.#streams.get(streamId);
    if (stream === undefined) return;
    const waiting = stream.waiting;
    if (waiting !== undefined) {
      if (info.code === waiting.success) {
        stream.waiting = undefined;
        waiting.resolve();
      } else if (info.level === "error") {
        this.#streams.delete(streamId);
        waiting.reject(statusError(info));
      }
      return;
    }
    const error = info.level === "error" ? statusError(info) : undefined;
    if (
      error !== undefined ||
      info.code === "NetStream.Play.Stop" ||
      info.code === "NetStream.Play.UnpublishNotify"
    ) {
      stream.reader?.end(error);
    }
    // A publish the server stopped (NetStream.Publish.Failed, ...): nothing more goes out on it.
    if (error !== undefined && stream.writer !== undefined) {
      this.#streams.delete(streamId);
      stream.writer.finish(error);
    }
  }
}

function statusError(info: StatusInfo): RtmpStatusError {
  return new RtmpStatusError(String(info.code), String(info.description ?? ""));
}
