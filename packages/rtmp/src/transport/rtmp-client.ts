import { connect as netConnect } from "node:net";
import {
  type MediaPacket,
  nextStreamId,
  type PacketSink,
  type StreamInfo,
  type StreamReader,
  type StreamWriter,
} from "@onair/core";
import { createPacketFromTagBody } from "@onair/flv";
import createDebug from "debug";
import { EventEmitter } from "eventemitter3";
import type { AmfObject, AmfValue } from "../codec/amf.js";
import { encodeAmf0 } from "../codec/amf0.js";
import {
  ChunkStream,
  commandMessage,
  decodeCommand,
  decodeData,
  type RtmpCommand,
  type StatusInfo,
} from "../codec/command.js";
import { userControlMessage } from "../codec/control-messages.js";
import { MessageType, type RtmpMessage, UserControlEvent } from "../codec/rtmp-message.js";
import { RtmpErrorCode, RtmpProtocolError, RtmpStatusError } from "../errors.js";
import { RtmpConnection } from "./rtmp-connection.js";

const debug = createDebug("onair:rtmp:client");

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
}

export interface RtmpClientEvents {
  /** Every onStatus the server sends. */
  status: [StatusInfo, streamId: number];
  close: [Error | undefined];
}

interface Pending {
  resolve: (command: RtmpCommand) => void;
  reject: (error: Error) => void;
}

/** Where one of this client's streams stands. */
interface ClientStream {
  id: number;
  /** Waiting for NetStream.Publish.Start or NetStream.Play.Start. */
  waiting?: { success: string; resolve: () => void; reject: (error: Error) => void };
  reader?: RtmpPlayReader;
}

/**
 * An RTMP client that publishes to or plays from any RTMP server (onair, nginx-rtmp, node-media-server,
 * livego...). Published streams are {@link StreamWriter}s and played streams {@link StreamReader}s,
 * so a client plugs into a hub like any server does (that is what relays are).
 */
export class RtmpClient extends EventEmitter<RtmpClientEvents> {
  readonly url: URL;
  readonly #connection: RtmpConnection;
  readonly #pending = new Map<number, Pending>();
  readonly #streams = new Map<number, ClientStream>();
  #nextTransaction = 1;
  #closed = false;

  private constructor(url: URL, connection: RtmpConnection) {
    super();
    this.url = url;
    this.#connection = connection;
    connection.onMessage = (message) => this.#handle(message);
    connection.on("close", (error) => this.#onClose(error));
  }

  /** Connect to `url` ("rtmp://host[:port]/app[?query]") and complete the RTMP connect. */
  static async connect(url: string | URL, options: RtmpClientOptions = {}): Promise<RtmpClient> {
    const target = new URL(url);
    if (target.protocol !== "rtmp:") throw new TypeError(`not an rtmp:// URL: ${target.href}`);
    const app = target.pathname.replace(/^\/+/, "").replace(/\/+$/, "");
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    const socket = netConnect({
      host: target.hostname.replace(/^\[|\]$/g, ""),
      port: Number(target.port || 1935),
    });
    const connection = new RtmpConnection(socket, "client", {
      maxMessageSize: options.maxMessageSize,
      idleTimeoutMs: options.idleTimeoutMs,
      handshakeTimeoutMs: timeoutMs,
    });
    const client = new RtmpClient(target, connection);
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
        connection.setChunkSize(options.chunkSize ?? 4096);
        const tcUrl = `rtmp://${target.host}/${app}${target.search}`;
        client
          .call("connect", {
            app: `${app}${target.search}`,
            type: "nonprivate",
            flashVer: options.flashVer ?? "FMLE/3.0 (compatible; onair)",
            tcUrl,
            fpad: false,
            capabilities: 15,
            audioCodecs: 4071,
            videoCodecs: 252,
            videoFunction: 1,
            objectEncoding: 0,
          })
          .then(() => {
            clearTimeout(timer);
            connection.off("close", fail);
            resolve();
          }, fail);
      });
    });
    return client;
  }

  get closed(): boolean {
    return this.#closed;
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
      this.#connection.send(commandMessage({ name, transactionId, commandObject, args }));
    });
  }

  /**
   * Publish `name` (may carry "?query") live. Resolves with a writer once the server says
   * NetStream.Publish.Start; write packets to it (or hand it to a hub with `handleWriter`).
   */
  async publish(name: string): Promise<RtmpPublishWriter> {
    this.#send("releaseStream", null, name);
    this.#send("FCPublish", null, name);
    const id = await this.#createStream();
    await this.#startStream(id, "publish", [name, "live"], "NetStream.Publish.Start");
    return new RtmpPublishWriter(this.#info(name, "rtmp-push-"), id, this.#connection, () => {
      this.#send("FCUnpublish", null, name);
      this.#send("deleteStream", null, id);
      this.#streams.delete(id);
    });
  }

  /**
   * Play `name`. Resolves once the server says NetStream.Play.Start with a reader; packets that
   * arrive before a sink is attached are kept for it.
   */
  async play(name: string): Promise<RtmpPlayReader> {
    const id = await this.#createStream();
    const reader = new RtmpPlayReader(this.#info(name, "rtmp-pull-"), () => {
      this.#send("deleteStream", null, id);
      this.#streams.delete(id);
    });
    this.#connection.send(userControlMessage(UserControlEvent.setBufferLength, id, 3000));
    await this.#startStream(id, "play", [name, -2000], "NetStream.Play.Start", reader);
    return reader;
  }

  /** Close the connection and end every stream. Idempotent. */
  close(error?: Error): void {
    this.#connection.close(error);
  }

  #info(name: string, prefix: string): StreamInfo {
    const [bare] = name.split("?", 1);
    const app = this.url.pathname.replace(/^\/+/, "").replace(/\/+$/, "");
    return {
      key: `${app}/${bare}`,
      app,
      name: bare,
      url: `rtmp://${this.url.host}/${app}/${bare}`,
      id: nextStreamId(prefix),
      query: new URLSearchParams(name.includes("?") ? name.slice(name.indexOf("?") + 1) : ""),
      remoteAddress: this.#connection.remoteAddress,
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
    reader?: RtmpPlayReader,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#streams.set(id, { id, reader, waiting: { success, resolve, reject } });
      this.#connection.send(
        commandMessage(
          { name: command, transactionId: 0, commandObject: null, args },
          id,
          ChunkStream.command,
        ),
      );
    });
  }

  #send(name: string, commandObject: AmfValue, ...args: AmfValue[]): void {
    this.#connection.send(commandMessage({ name, transactionId: 0, commandObject, args }));
  }

  #handle(message: RtmpMessage): void {
    switch (message.typeId) {
      case MessageType.commandAmf0:
      case MessageType.commandAmf3:
        this.#command(decodeCommand(message), message.messageStreamId);
        return;
      case MessageType.audio:
      case MessageType.video: {
        const reader = this.#streams.get(message.messageStreamId)?.reader;
        if (reader === undefined || message.payload.length === 0) return;
        reader.push(
          createPacketFromTagBody(
            message.typeId === MessageType.audio ? "audio" : "video",
            message.timestamp,
            message.payload,
          ),
        );
        return;
      }
      case MessageType.dataAmf0:
      case MessageType.dataAmf3: {
        const reader = this.#streams.get(message.messageStreamId)?.reader;
        if (reader === undefined) return;
        const values = decodeData(message);
        if (values[0] === "|RtmpSampleAccess") return;
        const body = values[0] === "@setDataFrame" ? encodeAmf0(values.slice(1)) : encodeAmf0(values);
        reader.push(createPacketFromTagBody("script", message.timestamp, body));
        return;
      }
    }
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
        stream.waiting = undefined;
        this.#streams.delete(streamId);
        waiting.reject(new RtmpStatusError(String(info.code), String(info.description ?? "")));
      }
      return;
    }
    if (
      info.code === "NetStream.Play.Stop" ||
      info.code === "NetStream.Play.UnpublishNotify" ||
      info.level === "error"
    ) {
      stream.reader?.end(
        info.level === "error"
          ? new RtmpStatusError(String(info.code), String(info.description ?? ""))
          : undefined,
      );
    }
  }

  #onClose(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    const reason = error ?? new Error("connection closed");
    for (const pending of this.#pending.values()) pending.reject(reason);
    this.#pending.clear();
    for (const stream of this.#streams.values()) {
      stream.waiting?.reject(reason);
      stream.reader?.end(error);
    }
    this.#streams.clear();
    this.emit("close", error);
  }
}

/** A stream this client publishes, as a writer: packets written go to the server at once. */
export class RtmpPublishWriter implements StreamWriter {
  readonly info: StreamInfo;
  readonly streamId: number;
  readonly #connection: RtmpConnection;
  readonly #release: () => void;
  #closed = false;
  #listeners: ((error?: Error) => void)[] = [];
  static readonly #setDataFrame = encodeAmf0(["@setDataFrame"]);

  constructor(info: StreamInfo, streamId: number, connection: RtmpConnection, release: () => void) {
    this.info = info;
    this.streamId = streamId;
    this.#connection = connection;
    this.#release = release;
    connection.once("close", (error) => this.#finish(error));
  }

  get bufferedBytes(): number {
    return this.#connection.socket.writableLength;
  }

  start(): void {}

  write(packet: MediaPacket): void {
    if (this.#closed) return;
    const script = packet.kind === "script";
    this.#connection.send({
      chunkStreamId: script
        ? ChunkStream.data
        : packet.kind === "audio"
          ? ChunkStream.audio
          : ChunkStream.video,
      typeId: script ? MessageType.dataAmf0 : packet.kind === "audio" ? MessageType.audio : MessageType.video,
      messageStreamId: this.streamId,
      timestamp: packet.timestamp,
      payload: script ? Buffer.concat([RtmpPublishWriter.#setDataFrame, packet.payload]) : packet.payload,
    });
  }

  flush(): void {}

  /** Stop publishing (FCUnpublish + deleteStream); the connection stays open. Idempotent. */
  close(error?: Error): void {
    if (this.#closed) return;
    if (!this.#connection.closed) this.#release();
    this.#finish(error);
  }

  onClose(listener: (error?: Error) => void): void {
    if (this.#closed) listener();
    else this.#listeners.push(listener);
  }

  #finish(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const listener of this.#listeners) listener(error);
    this.#listeners = [];
  }
}

/** A stream this client plays, as a reader. Packets before `attach` are kept (up to 10 000). */
export class RtmpPlayReader implements StreamReader {
  readonly info: StreamInfo;
  readonly #release: () => void;
  #sink: PacketSink | undefined;
  #early: MediaPacket[] | undefined = [];
  #ended: { error?: Error } | undefined;
  #closed = false;

  constructor(info: StreamInfo, release: () => void) {
    this.info = info;
    this.#release = release;
  }

  attach(sink: PacketSink): void {
    if (this.#closed) return;
    this.#sink = sink;
    const early = this.#early ?? [];
    this.#early = undefined;
    for (const packet of early) sink.packet(packet);
    if (this.#ended !== undefined) sink.end(this.#ended.error);
  }

  push(packet: MediaPacket): void {
    if (this.#sink !== undefined) this.#sink.packet(packet);
    else if (this.#early !== undefined && this.#early.length < 10_000) this.#early.push(packet);
  }

  /** The server ended the stream or the connection closed. */
  end(error?: Error): void {
    if (this.#ended !== undefined) return;
    this.#ended = { error };
    this.#sink?.end(error);
  }

  /** Stop playing (deleteStream); the connection stays open. Idempotent. */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
    this.end(error);
    this.#sink = undefined;
  }
}
