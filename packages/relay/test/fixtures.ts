/** In-process peers for relay tests: an onair RTMP server over a hub, a publisher, a recording player. */
import {
  createMediaPacket,
  type MediaPacket,
  nextStreamId,
  StreamHub,
  type StreamHubOptions,
  type StreamInfo,
  StreamSource,
  type StreamWriter,
} from "@onair/core";
import { createRtmpServer, type RtmpServer } from "@onair/rtmp";

export const avcHeader = (t = 0): MediaPacket =>
  createMediaPacket("video", t, Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 0]), {
    sequenceHeader: true,
  });
export const aacHeader = (t = 0): MediaPacket =>
  createMediaPacket("audio", t, Buffer.from([0xaf, 0, 0x12, 0x10]), { sequenceHeader: true });
export const keyframe = (t: number, size = 10): MediaPacket => {
  const payload = Buffer.alloc(size, 0x65);
  payload.set([0x17, 1, 0, 0, 0, 0, 0, 0, 1], 0);
  return createMediaPacket("video", t, payload, { keyframe: true });
};
export const interframe = (t: number): MediaPacket =>
  createMediaPacket("video", t, Buffer.from([0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41]));
export const audio = (t: number): MediaPacket =>
  createMediaPacket("audio", t, Buffer.from([0xaf, 1, 0x21, 0x10]));

/** An onair RTMP server on a loopback port (0: any) over its own hub. */
export interface OnairPeer {
  hub: StreamHub;
  server: RtmpServer;
  port: number;
  url: (path: string) => string;
  close: () => Promise<void>;
}

export async function startOnair(hubOptions: StreamHubOptions = {}, port = 0): Promise<OnairPeer> {
  const hub = new StreamHub({ batchWindowMs: 0, ...hubOptions });
  const server = createRtmpServer({ handler: hub, host: "127.0.0.1", port });
  const bound = (await server.listen()).port;
  return {
    hub,
    server,
    port: bound,
    url: (path) => `rtmp://127.0.0.1:${bound}/${path}`,
    close: async () => {
      hub.close();
      await server.close();
    },
  };
}

/** A publisher in a hub: push packets by hand. */
export function publish(hub: StreamHub, app: string, name: string): StreamSource {
  const source = new StreamSource({
    key: `${app}/${name}`,
    app,
    name,
    url: "test://",
    id: nextStreamId("test-"),
  });
  hub.handleReader(source);
  return source;
}

/** Headers then `gops` one-second GOPs (keyframe, 4 interframes, audio), from `t0`. */
export function gopPackets(t0: number, gops = 1): MediaPacket[] {
  const packets: MediaPacket[] = [];
  for (let g = 0; g < gops; g++) {
    const t = t0 + g * 200;
    packets.push(keyframe(t), audio(t + 5));
    for (let i = 1; i < 5; i++) packets.push(interframe(t + i * 40));
  }
  return packets;
}

/** A player in a hub that records what it gets. */
export class RecordingWriter implements StreamWriter {
  readonly info: StreamInfo;
  readonly packets: MediaPacket[] = [];
  discontinuities = 0;
  closed = false;
  closeError: Error | undefined;
  #listeners: ((error?: Error) => void)[] = [];

  constructor(app: string, name: string) {
    this.info = { key: `${app}/${name}`, app, name, url: "test://player", id: nextStreamId("test-w") };
  }

  get bufferedBytes(): number {
    return 0;
  }

  start(): void {}
  write(packet: MediaPacket): void {
    this.packets.push(packet);
  }
  flush(): void {}
  discontinuity(): void {
    this.discontinuities += 1;
  }
  close(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = error;
    for (const listener of this.#listeners) listener(error);
  }
  onClose(listener: (error?: Error) => void): void {
    this.#listeners.push(listener);
  }
}

/** A relay's events as they come, "name:arg". */
export function recordEvents(relay: {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}): string[] {
  const seen: string[] = [];
  for (const event of ["connecting", "connected", "live", "disconnected", "retrying", "stopped"]) {
    relay.on(event, (...args: unknown[]) => {
      const shown = args
        .filter((a) => a !== undefined)
        .map((a) => (a instanceof Error ? ((a as { code?: string }).code ?? a.message) : String(a)));
      seen.push([event, ...shown].join(":"));
    });
  }
  return seen;
}
