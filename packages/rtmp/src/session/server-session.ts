import type { AddressInfo } from "node:net";
import {
  type ByteOutput,
  type Authorize as CoreAuthorize,
  type AuthorizeRequest as CoreAuthorizeRequest,
  type AuthorizeResult as CoreAuthorizeResult,
  type Handler,
  nextStreamId,
  OnairError,
  runAuthorize,
  StreamErrorCode,
  type StreamInfo,
  StreamSource,
} from "@onair/core";
import createDebug from "debug";
import type { AmfLimits, AmfObject, AmfValue } from "../codec/amf.js";
import { commandMessage, decodeCommand, type RtmpCommand, statusMessage } from "../codec/command.js";
import {
  setPeerBandwidthMessage,
  userControlMessage,
  windowAckSizeMessage,
} from "../codec/control-messages.js";
import { MessageType, type RtmpMessage, UserControlEvent } from "../codec/rtmp-message.js";
import { RtmpErrorCode, RtmpProtocolError } from "../errors.js";
import { ingestMediaMessage } from "./media-ingest.js";
import { RtmpPlayerWriter } from "./rtmp-player-writer.js";

const debug = createDebug("onair:rtmp:session");

/**
 * What `authorize` is asked about: core's request for one publish or play (`protocol` is "rtmp";
 * `query` holds the stream name's parameters over the connect tcUrl's), plus the connect command.
 */
export interface AuthorizeRequest extends CoreAuthorizeRequest {
  /** The connect command object (tcUrl, flashVer, ...). */
  connect: AmfObject;
}

/** Allow with `true`; refuse with `false` or `{ allow: false, reason }`: the client sees the reason. */
export type AuthorizeResult = CoreAuthorizeResult;
/** core's one authorization hook, given the RTMP request. A hook written for core's request fits too. */
export type Authorize = CoreAuthorize<AuthorizeRequest>;

/** What a session needs from its connection; a socket in production, a recorder in tests. */
export interface SessionTransport {
  readonly output: ByteOutput;
  readonly chunkSize: number;
  readonly remoteAddress: string;
  send(message: RtmpMessage): void;
  setChunkSize(size: number): void;
  close(error?: Error): void;
}

export interface ServerSessionOptions {
  handler: Handler;
  authorize?: Authorize;
  /** Outgoing chunk size announced after connect. Default 4096. */
  chunkSize?: number;
  /** Window acknowledgement size and peer bandwidth told to the client. Default 2 500 000. */
  windowAckSize?: number;
  amfLimits?: AmfLimits;
  /** Used to build the stream URL in StreamInfo, e.g. "rtmp://127.0.0.1:1935". */
  localAddress?: AddressInfo | string;
  /** Told of each refusal the client was sent, for counting (the server's `stats()`). */
  onRefusal?: (reason: SessionRefusalReason) => void;
}

/** Why a session said no: a bad app or stream name, or `authorize` refused. */
export type SessionRefusalReason = "badName" | "unauthorized";

type StreamSlot =
  | { state: "idle" }
  | { state: "pending" }
  | { state: "publishing"; source: StreamSource; requestedName: string }
  | { state: "playing"; writer: RtmpPlayerWriter };

/**
 * The server side of one RTMP connection as a state machine:
 *
 *   awaiting-connect --connect--> connected --createStream--> stream idle
 *   stream idle --publish (authorized, key free)--> publishing --FCUnpublish/deleteStream/close--> gone
 *   stream idle --play (authorized)--> playing (waiting, then live) --stream ends/deleteStream--> idle
 *
 * It consumes decoded messages and acts through its transport; it never touches a socket.
 */
export class ServerSession {
  readonly #transport: SessionTransport;
  readonly #options: ServerSessionOptions;
  #state: "awaiting-connect" | "connected" | "closed" = "awaiting-connect";
  #app = "";
  #connect: AmfObject = {};
  #connectQuery = new URLSearchParams();
  readonly #streams = new Map<number, StreamSlot>();

  constructor(transport: SessionTransport, options: ServerSessionOptions) {
    this.#transport = transport;
    this.#options = options;
  }

  get state(): string {
    return this.#state;
  }

  get app(): string {
    return this.#app;
  }

  /** Feed one decoded message. Throws RtmpProtocolError for messages that break the protocol. */
  handleMessage(message: RtmpMessage): void {
    if (this.#state === "closed") return;
    switch (message.typeId) {
      case MessageType.audio:
      case MessageType.video:
      case MessageType.dataAmf0:
      case MessageType.dataAmf3:
      case MessageType.aggregate:
        this.#media(message);
        return;
      case MessageType.commandAmf0:
      case MessageType.commandAmf3:
        this.#command(decodeCommand(message, this.#options.amfLimits), message.messageStreamId);
        return;
      default:
        // User control events from clients (SetBufferLength) and shared objects are ignored.
        return;
    }
  }

  /** The connection is gone: end what this session published or played. Idempotent. */
  close(error?: Error): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    for (const id of [...this.#streams.keys()]) this.#releaseStream(id, error);
  }

  /** Audio, video, data and aggregates of them from this session's publisher, parsed once. */
  #media(message: RtmpMessage): void {
    const slot = this.#streams.get(message.messageStreamId);
    if (slot?.state !== "publishing") return;
    ingestMediaMessage(message, slot.source, this.#dropMedia);
  }

  readonly #dropMedia = (what: string, error: RtmpProtocolError): void => {
    debug("%s: %s dropped: %s", this.#transport.remoteAddress, what, error.message);
  };

  #command(command: RtmpCommand, messageStreamId: number): void {
    debug(
      "%s: command %s (tx %d, stream %d)",
      this.#transport.remoteAddress,
      command.name,
      command.transactionId,
      messageStreamId,
    );
    if (this.#state === "awaiting-connect") {
      if (command.name !== "connect") {
        throw new RtmpProtocolError(RtmpErrorCode.state, `${command.name} before connect`);
      }
      this.#onConnect(command);
      return;
    }
    switch (command.name) {
      case "connect":
        throw new RtmpProtocolError(RtmpErrorCode.state, "connect on a connected session");
      case "createStream":
        this.#onCreateStream(command);
        return;
      case "releaseStream":
      case "FCPublish":
      case "FCSubscribe":
        this.#result(command.transactionId, null, undefined);
        return;
      case "getStreamLength":
        this.#result(command.transactionId, null, 0);
        return;
      case "publish":
        this.#onPublish(command, messageStreamId).catch((error: unknown) =>
          this.#startFailed(messageStreamId, "publish", error),
        );
        return;
      case "play":
        this.#onPlay(command, messageStreamId).catch((error: unknown) =>
          this.#startFailed(messageStreamId, "play", error),
        );
        return;
      case "FCUnpublish":
        this.#onFcUnpublish(command);
        return;
      case "deleteStream":
        this.#releaseStream(typeof command.args[0] === "number" ? command.args[0] : messageStreamId);
        return;
      case "closeStream":
        this.#releaseStream(messageStreamId);
        return;
      case "receiveAudio":
      case "receiveVideo": {
        const slot = this.#streams.get(messageStreamId);
        if (slot?.state !== "playing") return;
        const on = command.args[0] !== false;
        if (command.name === "receiveAudio") slot.writer.receiveAudio = on;
        else slot.writer.receiveVideo = on;
        return;
      }
      case "pause":
        this.#onPause(command, messageStreamId);
        return;
      default:
        debug("%s: ignoring command %s", this.#transport.remoteAddress, command.name);
        if (command.transactionId > 0) {
          this.#transport.send(
            commandMessage({
              name: "_error",
              transactionId: command.transactionId,
              commandObject: null,
              args: [
                {
                  level: "error",
                  code: "NetConnection.Call.Failed",
                  description: `unknown command ${command.name}`,
                },
              ],
            }),
          );
        }
    }
  }

  #result(transactionId: number, commandObject: AmfValue, value: AmfValue): void {
    if (transactionId === 0) return;
    const args = value === undefined ? [] : [value];
    this.#transport.send(commandMessage({ name: "_result", transactionId, commandObject, args }));
  }

  #onConnect(command: RtmpCommand): void {
    const object = (command.commandObject ?? {}) as AmfObject;
    const app = typeof object.app === "string" ? object.app : "";
    const [appName, appQuery = ""] = app.split("?", 2);
    this.#app = appName.replace(/\/+$/, "");
    this.#connect = object;
    const appProblem = this.#app === "" ? "no application name" : nameProblem(this.#app, "application");
    const tcUrl = typeof object.tcUrl === "string" ? object.tcUrl : "";
    const tcQuery = tcUrl.includes("?") ? tcUrl.slice(tcUrl.indexOf("?") + 1) : "";
    this.#connectQuery = new URLSearchParams(appQuery || tcQuery);
    if (appProblem !== undefined) {
      debug("%s: connect rejected: %s", this.#transport.remoteAddress, appProblem);
      this.#options.onRefusal?.("badName");
      this.#transport.send(
        commandMessage({
          name: "_error",
          transactionId: command.transactionId,
          commandObject: null,
          args: [{ level: "error", code: "NetConnection.Connect.Rejected", description: appProblem }],
        }),
      );
      this.#transport.close();
      return;
    }
    this.#state = "connected";
    const t = this.#transport;
    const window = this.#options.windowAckSize ?? 2_500_000;
    t.send(windowAckSizeMessage(window));
    t.send(setPeerBandwidthMessage(window, 2));
    t.setChunkSize(this.#options.chunkSize ?? 4096);
    const objectEncoding = typeof object.objectEncoding === "number" ? object.objectEncoding : 0;
    t.send(
      commandMessage({
        name: "_result",
        transactionId: command.transactionId,
        commandObject: { fmsVer: "FMS/3,5,7,7009", capabilities: 31, mode: 1 },
        args: [
          {
            level: "status",
            code: "NetConnection.Connect.Success",
            description: "Connection succeeded.",
            objectEncoding,
          },
        ],
      }),
    );
  }

  #onCreateStream(command: RtmpCommand): void {
    if (this.#streams.size >= 16) {
      throw new RtmpProtocolError(RtmpErrorCode.state, "too many streams on one connection");
    }
    // The lowest free id: ids pick the shared media encoder (per chunk size and stream id), so a
    // client looping createStream/deleteStream must not walk through fresh ids and encoders.
    let id = 1;
    while (this.#streams.has(id)) id++;
    this.#streams.set(id, { state: "idle" });
    this.#result(command.transactionId, null, id);
  }

  #streamInfo(rawName: string, prefix: string): StreamInfo {
    const [name, nameQuery = ""] = rawName.split("?", 2);
    const query = new URLSearchParams(this.#connectQuery);
    for (const [k, v] of new URLSearchParams(nameQuery)) query.set(k, v);
    return {
      key: `${this.#app}/${name}`,
      app: this.#app,
      name,
      url: `${this.#baseUrl()}/${this.#app}/${name}`,
      id: nextStreamId(prefix),
      query,
      remoteAddress: this.#transport.remoteAddress,
    };
  }

  /**
   * "rtmp://host[:port]" as the client reached this server: the scheme and host of the connect
   * command's tcUrl, else the connection's local address (never an unspecified 0.0.0.0 or ::).
   */
  #baseUrl(): string {
    const tcUrl = this.#connect.tcUrl;
    if (typeof tcUrl === "string") {
      try {
        const url = new URL(tcUrl);
        const unspecified = url.hostname === "0.0.0.0" || url.hostname === "[::]";
        if (/^rtmp[a-z]*:$/.test(url.protocol) && url.hostname !== "" && !unspecified) {
          return `${url.protocol}//${url.host}`;
        }
      } catch {
        // not a URL: fall back to the local address
      }
    }
    const local = this.#options.localAddress;
    if (typeof local === "string") return local;
    if (local === undefined || local.address === "0.0.0.0" || local.address === "::")
      return "rtmp://localhost";
    const host = local.address.includes(":") ? `[${local.address}]` : local.address;
    return `rtmp://${host}:${local.port}`;
  }

  async #authorize(
    action: "publish" | "play",
    info: StreamInfo,
  ): Promise<{ ok: true; name?: string } | { ok: false; reason: string }> {
    return runAuthorize(
      this.#options.authorize,
      {
        action,
        protocol: "rtmp",
        app: info.app,
        name: info.name,
        query: info.query ?? new URLSearchParams(),
        remoteAddress: info.remoteAddress ?? "",
        connect: this.#connect,
      },
      (error) => debug("authorize threw: %O", error),
    );
  }

  /**
   * Starting a publish or play threw (the handler, or a listener of the hub's events if the hub
   * emits unsafely): end what the stream id started, tell the client, close this connection.
   */
  #startFailed(streamId: number, action: "publish" | "play", cause: unknown): void {
    debug("%s: %s on stream %d failed: %O", this.#transport.remoteAddress, action, streamId, cause);
    const error = new OnairError(RtmpErrorCode.handler, `the handler failed to start the ${action}`, {
      cause,
    });
    const slot = this.#streams.get(streamId);
    this.#streams.delete(streamId);
    if (this.#state !== "closed") {
      this.#transport.send(
        statusMessage(streamId, {
          level: "error",
          code: action === "publish" ? "NetStream.Publish.Failed" : "NetStream.Play.Failed",
          description: `${action} failed on the server`,
        }),
      );
      this.#transport.close(error);
    }
    // After the close, so a half-started player's goodbye messages go nowhere.
    if (slot?.state === "publishing") slot.source.end(error);
    else if (slot?.state === "playing") slot.writer.close(error);
  }

  /**
   * Checks the stream name and state and asks `authorize`. Returns the stream's info when it may
   * start; otherwise the client has been told why and undefined is returned. A publish the hook
   * allowed under another name (`{ allow: true, name }`) gets the info of that name: the name
   * the client asked for (a channel key) appears in no StreamInfo, URL or log.
   */
  async #admit(
    command: RtmpCommand,
    streamId: number,
    action: "publish" | "play",
  ): Promise<StreamInfo | undefined> {
    const slot = this.#streams.get(streamId);
    const rawName = typeof command.args[0] === "string" ? command.args[0] : "";
    const problem =
      slot?.state !== "idle"
        ? `stream id ${streamId} is not created or already in use`
        : nameProblem(rawName.split("?", 1)[0], "stream");
    if (problem !== undefined) {
      if (slot?.state === "idle") this.#options.onRefusal?.("badName");
      this.#transport.send(
        statusMessage(streamId, {
          level: "error",
          code: action === "publish" ? "NetStream.Publish.BadName" : "NetStream.Play.Failed",
          description: problem,
        }),
      );
      return undefined;
    }
    // Hold the stream id while authorize runs, so a repeated command cannot start it twice.
    const pending: StreamSlot = { state: "pending" };
    this.#streams.set(streamId, pending);
    const info = this.#streamInfo(rawName, action === "publish" ? "rtmp-pub-" : "rtmp-play-");
    const verdict = await this.#authorize(action, info);
    // The connection closed or the stream was deleted while authorize ran (the id may since have
    // been created again, and be pending for another command: that one is not this one's).
    if (this.#state === "closed" || this.#streams.get(streamId) !== pending) return undefined;
    const renamed =
      verdict.ok && action === "publish" && verdict.name !== undefined ? verdict.name : undefined;
    const renameProblem = renamed === undefined ? undefined : nameProblem(renamed, "stream");
    if (!verdict.ok || renameProblem !== undefined) {
      if (renameProblem !== undefined) debug("authorize gave a bad stream name: %s", renameProblem);
      this.#options.onRefusal?.("unauthorized");
      this.#streams.set(streamId, { state: "idle" });
      this.#refuse(
        streamId,
        action === "publish" ? "NetStream.Publish.Unauthorized" : "NetStream.Play.Failed",
        verdict.ok ? `${action} not authorized` : verdict.reason,
      );
      return undefined;
    }
    if (renamed === undefined || renamed === info.name) return info;
    return {
      ...info,
      key: `${info.app}/${renamed}`,
      name: renamed,
      url: `${this.#baseUrl()}/${info.app}/${renamed}`,
    };
  }

  async #onPublish(command: RtmpCommand, streamId: number): Promise<void> {
    const info = await this.#admit(command, streamId, "publish");
    if (info === undefined) return;
    const requestedName = typeof command.args[0] === "string" ? command.args[0].split("?", 1)[0] : "";
    const source = new StreamSource(info, (error) => {
      if (this.#state === "closed") return;
      this.#streams.delete(streamId);
      const busy = (error as { code?: string } | undefined)?.code === StreamErrorCode.busy;
      this.#refuse(
        streamId,
        busy ? "NetStream.Publish.BadName" : "NetStream.Publish.Failed",
        error?.message ?? "publish stopped",
      );
    });
    this.#streams.set(streamId, { state: "publishing", source, requestedName });
    this.#options.handler.handleReader(source);
    if (source.closed) return;
    this.#transport.send(userControlMessage(UserControlEvent.streamBegin, streamId));
    this.#transport.send(
      statusMessage(streamId, {
        level: "status",
        code: "NetStream.Publish.Start",
        description: `${info.name} is now published.`,
        details: info.name,
      }),
    );
  }

  /** Tell the client no, and let it go: a refused publisher or player has nothing more to do here. */
  #refuse(streamId: number, code: string, description: string): void {
    debug("%s: %s (%s)", this.#transport.remoteAddress, code, description);
    this.#transport.send(statusMessage(streamId, { level: "error", code, description }));
    this.#transport.close();
  }

  async #onPlay(command: RtmpCommand, streamId: number): Promise<void> {
    const info = await this.#admit(command, streamId, "play");
    if (info === undefined) return;
    const writer = new RtmpPlayerWriter(info, streamId, {
      output: this.#transport.output,
      chunkSize: this.#transport.chunkSize,
      send: (message) => this.#transport.send(message),
      released: (id, error) => this.#playerReleased(id, error),
    });
    this.#streams.set(streamId, { state: "playing", writer });
    this.#options.handler.handleWriter(writer);
  }

  #playerReleased(streamId: number, error?: Error): void {
    const slot = this.#streams.get(streamId);
    if (slot?.state === "playing") this.#streams.set(streamId, { state: "idle" });
    if (this.#state === "closed") return;
    const code = (error as { code?: string } | undefined)?.code;
    // A player too slow to keep up, or a hub shutting down: nothing more will come on this connection.
    if (code === StreamErrorCode.slowPlayer || code === StreamErrorCode.closed) this.#transport.close(error);
  }

  #onFcUnpublish(command: RtmpCommand): void {
    const name = typeof command.args[0] === "string" ? command.args[0].split("?")[0] : undefined;
    for (const [id, slot] of this.#streams) {
      // The client names the stream as it published it (a channel key), not as it went live.
      if (
        slot.state === "publishing" &&
        (name === undefined || slot.source.info.name === name || slot.requestedName === name)
      )
        this.#releaseStream(id);
    }
    this.#result(command.transactionId, null, undefined);
  }

  #onPause(command: RtmpCommand, streamId: number): void {
    const slot = this.#streams.get(streamId);
    if (slot?.state !== "playing") return;
    const paused = command.args[0] === true;
    slot.writer.pause(paused);
    this.#transport.send(
      statusMessage(
        streamId,
        paused
          ? { level: "status", code: "NetStream.Pause.Notify", description: "Paused live" }
          : { level: "status", code: "NetStream.Unpause.Notify", description: "Unpaused live" },
      ),
    );
  }

  /** End whatever a stream id publishes or plays. */
  #releaseStream(streamId: number, error?: Error): void {
    const slot = this.#streams.get(streamId);
    if (slot === undefined) return;
    this.#streams.delete(streamId);
    if (slot.state === "publishing") {
      slot.source.end(error);
      if (this.#state !== "closed")
        this.#transport.send(
          statusMessage(streamId, {
            level: "status",
            code: "NetStream.Unpublish.Success",
            description: `${slot.source.info.name} is now unpublished.`,
          }),
        );
    } else if (slot.state === "playing") {
      slot.writer.close();
    }
  }
}

/**
 * Why an app or stream name (without its query) cannot be one part of an "app/name" key, or
 * undefined when it can: keys and recording paths are built from them.
 */
function nameProblem(name: string, what: "application" | "stream"): string | undefined {
  if (name.length === 0 || name.length > 256) return `${what} name must be 1 to 256 characters`;
  if (name === "." || name === "..") return `${what} name must not be "." or ".."`;
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    // Control characters, "/" and "\\" never belong in a key part.
    if (code < 0x20 || code === 0x2f || code === 0x5c) {
      return `${what} name must not contain "/", "\\" or control characters`;
    }
  }
  return undefined;
}
