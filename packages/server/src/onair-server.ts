import type { AddressInfo } from "node:net";
import { StreamHub, type StreamHubOptions } from "@onair/core";
import { createRtmpServer, type RtmpServer, type RtmpServerOptions } from "@onair/rtmp";

export interface OnairServerOptions {
  /** Address every listener binds. Default "0.0.0.0". */
  host?: string;
  /** RTMP port. Default 1935; 0 picks a free one. */
  rtmpPort?: number;
  hub?: StreamHubOptions;
  rtmp?: Omit<RtmpServerOptions, "handler" | "host" | "port">;
}

/** The ready server: one hub, and the protocol servers that take it as their handler. */
export class OnairServer {
  readonly hub: StreamHub;
  readonly rtmp: RtmpServer;
  readonly #options: OnairServerOptions;

  constructor(options: OnairServerOptions = {}) {
    this.#options = options;
    this.hub = new StreamHub(options.hub);
    this.rtmp = createRtmpServer({ ...options.rtmp, handler: this.hub });
  }

  async listen(): Promise<{ rtmp: AddressInfo }> {
    const host = this.#options.host ?? "0.0.0.0";
    const rtmp = await this.rtmp.listen(this.#options.rtmpPort ?? 1935, host);
    return { rtmp };
  }

  /** Stop every listener and end every stream. Idempotent. */
  async close(): Promise<void> {
    this.hub.close();
    await this.rtmp.close();
  }
}
