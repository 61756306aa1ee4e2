import type { AddressInfo } from "node:net";
import { OnairError, StreamHub, type StreamHubOptions } from "@onair/core";
import {
  createHttpFlvServer,
  type HttpFlvServer,
  type HttpFlvServerOptions,
  recordStreams,
} from "@onair/flv";
import { createRtmpServer, type RtmpServer, type RtmpServerOptions } from "@onair/rtmp";

export interface OnairServerOptions {
  /** Address every listener binds. Default "0.0.0.0". */
  host?: string;
  /** RTMP port. Default 1935; 0 picks a free one. */
  rtmpPort?: number;
  /** HTTP-FLV and WebSocket-FLV port. Default 7001; 0 picks a free one. */
  flvPort?: number;
  /** Access-Control-Allow-Origin of HTTP-FLV responses. Default "*". */
  cors?: string;
  /** Record every published stream to DIR/APP/NAME-<start time>.flv. Off unless set. */
  flvDir?: string;
  hub?: StreamHubOptions;
  rtmp?: Omit<RtmpServerOptions, "handler" | "host" | "port">;
  /** HTTP-FLV / WS-FLV options: authorize, connection limits, exposeAddresses, ... (see @onair/flv). */
  flv?: Omit<HttpFlvServerOptions, "handler" | "host" | "port">;
}

/** A listener could not be opened; everything the server had opened is closed again. */
export class ServerStartError extends OnairError {
  constructor(
    readonly listener: string,
    readonly flag: string,
    readonly host: string,
    readonly port: number,
    cause: unknown,
  ) {
    const code = (cause as { code?: string } | undefined)?.code;
    const reason =
      code === "EADDRINUSE"
        ? "the port is already in use (another onair, or another server?)"
        : code === "EACCES"
          ? "permission denied (ports below 1024 need privileges)"
          : code === "EADDRNOTAVAIL"
            ? "the address is not on this machine (check --host)"
            : ((cause as Error | undefined)?.message ?? String(cause));
    super(
      "ERR_SERVER_LISTEN",
      `cannot listen for ${listener} on ${host}:${port}: ${reason}. Choose another port with ${flag}.`,
      { cause },
    );
  }
}

/** The ready server: one hub, and the protocol servers that take it as their handler. */
export class OnairServer {
  readonly hub: StreamHub;
  readonly rtmp: RtmpServer;
  readonly flv: HttpFlvServer;
  readonly #options: OnairServerOptions;
  #recording: ReturnType<typeof recordStreams> | undefined;

  constructor(options: OnairServerOptions = {}) {
    this.#options = options;
    this.hub = new StreamHub(options.hub);
    this.rtmp = createRtmpServer({ ...options.rtmp, handler: this.hub });
    this.flv = createHttpFlvServer({ cors: options.cors ?? "*", ...options.flv, handler: this.hub });
  }

  /**
   * Open every listener. If one fails (a port in use, an address not on this machine), the ones
   * already open are closed again and a {@link ServerStartError} names the port, the CLI flag
   * that sets it and the cause.
   */
  async listen(): Promise<{ rtmp: AddressInfo; flv: AddressInfo }> {
    const host = this.#options.host ?? "0.0.0.0";
    // Recording starts here rather than in the constructor, so that the recorder joins a stream
    // after the hub's "publish" listeners added before listen() (the CLI's log) have run.
    if (this.#options.flvDir !== undefined) {
      this.#recording ??= recordStreams(this.hub, { dir: this.#options.flvDir });
    }
    const rtmp = await this.#listenOne("RTMP", "--rtmp-port", host, this.#options.rtmpPort ?? 1935, (p, h) =>
      this.rtmp.listen(p, h),
    );
    const flv = await this.#listenOne("HTTP-FLV", "--flv-port", host, this.#options.flvPort ?? 7001, (p, h) =>
      this.flv.listen(p, h),
    );
    return { rtmp, flv };
  }

  async #listenOne(
    what: string,
    flag: string,
    host: string,
    port: number,
    listen: (port: number, host: string) => Promise<AddressInfo>,
  ): Promise<AddressInfo> {
    try {
      return await listen(port, host);
    } catch (error) {
      await this.close();
      throw new ServerStartError(what, flag, host, port, error);
    }
  }

  /** Stop every listener, end every stream and close recordings. Idempotent. */
  async close(): Promise<void> {
    await this.#recording?.stop();
    this.hub.close();
    await Promise.all([this.rtmp.close(), this.flv.close()]);
  }
}
