import { type ClientRequest, get as httpGet, type IncomingMessage } from "node:http";
import { get as httpsGet } from "node:https";
import {
  type Handler,
  nextStreamId,
  type PacketSink,
  StreamErrorCode,
  type StreamInfo,
  type StreamReader,
  StreamSource,
} from "@onair/core";
import { createPacketFromTagBody, FlvDemuxer, type FlvTag } from "@onair/flv";
import { RtmpClient, type RtmpPlayReader } from "@onair/rtmp";
import { RelayError, RelayErrorCode } from "./errors.js";
import { Relay, type RelayCommonOptions, type RelayTarget } from "./relay.js";

export interface RelayPullOptions extends RelayCommonOptions, RelayTarget {
  /**
   * APP and NAME: the key the pulled stream is published as in the hub. `url`: what to play,
   * "rtmp://host[:port]/app/name[?query]" or an HTTP-FLV URL "http[s]://host[:port]/app/name.flv".
   */
  url: string;
  /** Largest FLV tag accepted from an HTTP-FLV remote, in bytes. Default 16 MiB. */
  maxTagSize?: number;
}

/**
 * Plays a remote RTMP or HTTP-FLV stream and publishes it into a hub as APP/NAME. Each connection
 * is one {@link StreamReader}, handed to `hub.handleReader` when its first packet arrives (the
 * relay is then `live`; the `reader` getter gives it), so a
 * relay that reconnects is a publisher coming back: the hub's republish grace keeps the local
 * players, with time running forward. When the remote stream ends or the connection drops, the
 * relay tries again with backoff until `stop()`.
 *
 * A key already live in the hub refuses the reader (`ERR_STREAM_BUSY`): the relay retries; a hub
 * that was closed stops it.
 */
export class RelayPull extends Relay {
  readonly #hub: Handler;
  readonly #maxTagSize: number | undefined;
  #client: RtmpClient | undefined;
  #request: ClientRequest | undefined;
  #source: StreamSource | undefined;

  /** Throws `RelayError` (`ERR_RELAY_BAD_URL`, `ERR_RELAY_BAD_OPTION`) for what cannot work. */
  constructor(hub: Handler, options: RelayPullOptions) {
    super("pull", options, options, true);
    this.#hub = hub;
    const { maxTagSize } = options;
    if (maxTagSize !== undefined && !(Number.isInteger(maxTagSize) && maxTagSize > 0)) {
      throw new RelayError(
        RelayErrorCode.badOption,
        `maxTagSize must be a whole number of bytes above 0, not ${maxTagSize}`,
      );
    }
    this.#maxTagSize = maxTagSize;
  }

  /** The reader publishing into the hub now, while live. */
  get reader(): StreamReader | undefined {
    return this.#source;
  }

  protected open(generation: number): void {
    if (this.remote.protocol === "rtmp") this.#openRtmp(generation);
    else this.#openHttp(generation);
  }

  protected teardown(error: Error | undefined): void {
    const source = this.#source;
    this.#source = undefined;
    if (source !== undefined && !source.closed) source.end(error);
    this.#client?.close();
    this.#client = undefined;
    this.#request?.destroy();
    this.#request = undefined;
  }

  #info(): StreamInfo {
    return {
      key: this.key,
      app: this.app,
      name: this.name,
      url: this.remote.display,
      id: nextStreamId("relay-pull-"),
    };
  }

  /** A reader for this connection, handed to the hub; undefined when the hub refused it. */
  #publish(generation: number): StreamSource | undefined {
    // A connection refused or stopped while a chunk (or the early packets) is still being read
    // gets no second reader: the hub would count a refusal per tag, or take one nobody ends.
    if (!this.isCurrent(generation)) return undefined;
    const source = new StreamSource(this.#info(), (error) => {
      // The hub closed this reader: refused (key busy, limit), idle, or the hub closed.
      const hubClosed =
        error instanceof Error && (error as { code?: string }).code === StreamErrorCode.closed;
      this.reportDown(generation, error, hubClosed ? "stop" : "retry");
    });
    this.#source = source;
    this.#hub.handleReader(source);
    if (source.closed) return undefined;
    this.reportLive(generation);
    return this.isCurrent(generation) ? source : undefined;
  }

  #openRtmp(generation: number): void {
    RtmpClient.connect(this.remote.connectUrl, this.rtmpOptions)
      .then((client) => {
        if (!this.isCurrent(generation)) {
          client.close();
          return;
        }
        this.#client = client;
        client.on("close", (error) => this.reportDown(generation, error ?? remoteEnded(this.remote.display)));
        this.reportConnected(generation);
        return client.play(this.remote.streamName).then((reader) => this.#played(generation, reader));
      })
      .catch((error: Error) => this.reportDown(generation, error));
  }

  #played(generation: number, reader: RtmpPlayReader): void {
    if (!this.isCurrent(generation)) {
      reader.close();
      return;
    }
    // The hub gets the reader at the first packet: nginx-rtmp says Play.Start before its
    // stream has a publisher, and an empty stream is not live.
    let source: StreamSource | undefined;
    const sink: PacketSink = {
      packet: (packet) => {
        if (source === undefined) {
          source = this.#publish(generation);
          if (source === undefined) {
            reader.close();
            return;
          }
        }
        source.push(packet);
      },
      end: (error) => this.reportDown(generation, error ?? remoteEnded(this.remote.display)),
    };
    reader.attach(sink);
  }

  #openHttp(generation: number): void {
    const { url } = this.remote;
    const get = url.protocol === "https:" ? httpsGet : httpGet;
    // `timeout` here covers the TCP connect too; request.setTimeout starts only once connected.
    const request = get(url, { headers: { "user-agent": "onair-relay" }, timeout: this.connectTimeoutMs });
    this.#request = request;
    request.setTimeout(this.connectTimeoutMs, () =>
      request.destroy(
        new RelayError(
          RelayErrorCode.timeout,
          `${this.remote.display}: ${this.state === "connecting" ? "no answer" : "nothing received"} for ${
            this.state === "connecting" ? this.connectTimeoutMs : this.idleTimeoutMs
          } ms`,
        ),
      ),
    );
    request.on("error", (error) => this.reportDown(generation, error));
    request.on("response", (response) => this.#answered(generation, request, response));
  }

  #answered(generation: number, request: ClientRequest, response: IncomingMessage): void {
    if (!this.isCurrent(generation)) {
      response.destroy();
      return;
    }
    if (response.statusCode !== 200) {
      response.resume();
      this.reportDown(
        generation,
        new RelayError(
          RelayErrorCode.httpStatus,
          `${this.remote.display} answered HTTP ${response.statusCode} ${response.statusMessage ?? ""}`.trim(),
        ),
      );
      return;
    }
    request.setTimeout(this.idleTimeoutMs);
    this.reportConnected(generation);
    const demuxer = new FlvDemuxer({ maxTagSize: this.#maxTagSize });
    let source: StreamSource | undefined;
    // Bytes that trickle in keep the socket from idling; a connection that completes no tag for
    // idleTimeoutMs is dropped all the same (checked once per idleTimeoutMs, not per tag).
    let tags = 0;
    let tagsAtCheck = 0;
    const stall = setInterval(() => {
      if (tags === tagsAtCheck) {
        request.destroy(
          new RelayError(
            RelayErrorCode.timeout,
            `${this.remote.display}: no complete FLV tag for ${this.idleTimeoutMs} ms`,
          ),
        );
      }
      tagsAtCheck = tags;
    }, this.idleTimeoutMs);
    request.once("close", () => clearInterval(stall));
    // The hub gets the reader at the first tag: a remote that answers 200 and waits is "connected".
    const onTag = (tag: FlvTag): void => {
      tags += 1;
      if (source === undefined) {
        source = this.#publish(generation);
        if (source === undefined) {
          response.destroy();
          return;
        }
      }
      // A copy: the demuxer's body is a slice of the socket's chunk, which the GOP cache would
      // otherwise keep alive whole (a 100-byte audio tag holding a 64 KiB chunk).
      source.push(createPacketFromTagBody(tag.kind, tag.timestamp, Buffer.from(tag.body)));
    };
    response.on("data", (chunk: Buffer) => {
      if (!this.isCurrent(generation)) return;
      try {
        demuxer.push(chunk, onTag);
      } catch (error) {
        this.reportDown(generation, error as Error);
      }
    });
    response.on("end", () => this.reportDown(generation, remoteEnded(this.remote.display)));
    response.on("error", (error) => this.reportDown(generation, error));
    response.on("close", () => this.reportDown(generation, remoteEnded(this.remote.display)));
  }
}

function remoteEnded(url: string): RelayError {
  return new RelayError(RelayErrorCode.remoteEnded, `${url} ended the stream`);
}
