import {
  type MediaPacket,
  nextStreamId,
  StreamErrorCode,
  type StreamHub,
  type StreamInfo,
  type StreamWriter,
} from "@onair/core";
import { RtmpClient, type RtmpPublishWriter } from "@onair/rtmp";
import { RelayError, RelayErrorCode } from "./errors.js";
import { Relay, type RelayCommonOptions, type RelayTarget } from "./relay.js";

/** The part of a hub a push needs: hand it writers, and ask whether a stream is still there. */
export type RelayPushHub = Pick<StreamHub, "handleWriter" | "get">;

export interface RelayPushOptions extends RelayCommonOptions, RelayTarget {
  /** APP and NAME: the local stream to push. `url`: where, "rtmp://host[:port]/app/name[?query]". */
  url: string;
}

/**
 * The hub side of one push connection: a {@link StreamWriter} of APP/NAME whose packets go to the
 * remote as they come (one RTMP message each). `bufferedBytes` is what the socket has not sent, so
 * a remote that cannot keep up is skipped to the next keyframe, then closed, by the hub's
 * slow-player policy like any player.
 */
export class RelayPushWriter implements StreamWriter {
  readonly info: StreamInfo;
  readonly #remote: RtmpPublishWriter;
  #closedByHub = false;
  #closed = false;

  constructor(info: StreamInfo, remote: RtmpPublishWriter) {
    this.info = info;
    this.#remote = remote;
    remote.onClose(() => {
      this.#closed = true;
    });
  }

  /** True once the writer ended, from either side. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True when the hub ended it (the stream ended, the slow-player policy, the hub closed). */
  get closedByHub(): boolean {
    return this.#closedByHub;
  }

  get bufferedBytes(): number {
    return this.#remote.bufferedBytes;
  }

  start(): void {}

  write(packet: MediaPacket): void {
    this.#remote.write(packet);
  }

  flush(): void {}

  close(error?: Error): void {
    if (this.#closed) return;
    this.#closedByHub = true;
    this.#remote.close(error);
  }

  /** End it from the relay's side (the connection is going away): the hub lets go of it. */
  detach(error?: Error): void {
    this.#remote.close(error);
  }

  onClose(listener: (error?: Error) => void): void {
    this.#remote.onClose(listener);
  }
}

/**
 * Publishes the local stream APP/NAME to a remote RTMP server: each connection is a
 * {@link RelayPushWriter} handed to `hub.handleWriter`, so the remote gets the metadata, codec
 * headers and the GOP cache first, then the live packets. When the connection drops, or the hub
 * closes the writer for being slow, the relay reconnects with backoff while the local stream is
 * there (live, or within its republish grace); when the local stream ends, the relay stops (also
 * when it ends while the relay connects).
 *
 * Started before the stream is live, the writer waits for it like any player (the hub's
 * `playWaitTimeoutMs`); if it never comes, the relay stops with `ERR_STREAM_NOT_FOUND`.
 */
export class RelayPush extends Relay {
  readonly #hub: RelayPushHub;
  #client: RtmpClient | undefined;
  #writer: RelayPushWriter | undefined;
  #publishTimer: NodeJS.Timeout | undefined;
  /** Whether the local stream was in the hub when the current attempt began. */
  #streamAtOpen = false;

  /** Throws `RelayError` (`ERR_RELAY_BAD_URL`, `ERR_RELAY_BAD_OPTION`) for what cannot work. */
  constructor(hub: RelayPushHub, options: RelayPushOptions) {
    super("push", options, options, false);
    this.#hub = hub;
  }

  /** The writer in the hub now, while live. */
  get writer(): RelayPushWriter | undefined {
    return this.#writer;
  }

  protected override shouldReconnect(): boolean {
    return this.#hub.get(this.key) !== undefined;
  }

  protected open(generation: number): void {
    this.#streamAtOpen = this.#hub.get(this.key) !== undefined;
    RtmpClient.connect(this.remote.connectUrl, this.rtmpOptions)
      .then((client) => {
        if (!this.isCurrent(generation)) {
          client.close();
          return;
        }
        this.#client = client;
        client.on("close", (error) =>
          this.reportDown(
            generation,
            error ??
              new RelayError(RelayErrorCode.remoteEnded, `${this.remote.display} closed the connection`),
          ),
        );
        this.reportConnected(generation);
        this.#publishTimer = setTimeout(() => {
          this.#publishTimer = undefined;
          this.reportDown(
            generation,
            new RelayError(
              RelayErrorCode.timeout,
              `${this.remote.display}: publish did not start within ${this.connectTimeoutMs} ms`,
            ),
          );
        }, this.connectTimeoutMs);
        return client.publish(this.remote.streamName).then((remote) => this.#published(generation, remote));
      })
      .catch((error: Error) => this.reportDown(generation, error));
  }

  #published(generation: number, remote: RtmpPublishWriter): void {
    this.#clearPublishTimer();
    if (!this.isCurrent(generation)) {
      remote.close();
      return;
    }
    if (this.#streamAtOpen && this.#hub.get(this.key) === undefined) {
      // The local stream ended while this attempt connected: nothing to push (a writer handed
      // to the hub now would wait for a new publisher, holding the remote's stream meanwhile).
      remote.close();
      this.reportDown(generation, undefined, "stop");
      return;
    }
    const writer = new RelayPushWriter(
      {
        key: this.key,
        app: this.app,
        name: this.name,
        url: this.remote.display,
        id: nextStreamId("relay-push-"),
      },
      remote,
    );
    this.#writer = writer;
    writer.onClose((error) => this.#writerClosed(generation, writer, error));
    this.#hub.handleWriter(writer);
    if (!writer.closed) this.reportLive(generation);
  }

  #writerClosed(generation: number, writer: RelayPushWriter, error: Error | undefined): void {
    if (!writer.closedByHub) {
      // The remote stopped the publish or the connection went.
      this.reportDown(
        generation,
        error ?? new RelayError(RelayErrorCode.remoteEnded, `${this.remote.display} ended the publish`),
      );
      return;
    }
    const code = (error as { code?: string } | undefined)?.code;
    if (error === undefined || code === StreamErrorCode.closed || code === StreamErrorCode.notFound) {
      // The local stream ended (or never came, or the hub closed): nothing more to push.
      this.reportDown(generation, error, "stop");
    } else {
      // Too slow, or refused for a limit: try again later.
      this.reportDown(generation, error);
    }
  }

  #clearPublishTimer(): void {
    if (this.#publishTimer !== undefined) clearTimeout(this.#publishTimer);
    this.#publishTimer = undefined;
  }

  protected teardown(error: Error | undefined): void {
    this.#clearPublishTimer();
    const writer = this.#writer;
    this.#writer = undefined;
    writer?.detach(error);
    this.#client?.close();
    this.#client = undefined;
  }
}
