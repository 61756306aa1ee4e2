import type { AddressInfo } from "node:net";
import { StreamHub, type StreamHubOptions } from "@onair/core";
import { createHttpFlvServer, type HttpFlvServer, recordStreams } from "@onair/flv";
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
    this.flv = createHttpFlvServer({ handler: this.hub, cors: options.cors ?? "*" });
    if (options.flvDir !== undefined) this.#recording = recordStreams(this.hub, { dir: options.flvDir });
  }

  async listen(): Promise<{ rtmp: AddressInfo; flv: AddressInfo }> {
    const host = this.#options.host ?? "0.0.0.0";
    const rtmp = await this.rtmp.listen(this.#options.rtmpPort ?? 1935, host);
    const flv = await this.flv.listen(this.#options.flvPort ?? 7001, host);
    return { rtmp, flv };
  }

  /** Stop every listener, end every stream and close recordings. Idempotent. */
  async close(): Promise<void> {
    await this.#recording?.stop();
    this.hub.close();
    await Promise.all([this.rtmp.close(), this.flv.close()]);
  }
}
