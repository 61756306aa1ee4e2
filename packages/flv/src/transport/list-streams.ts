import type { StreamHub, StreamInfo } from "@onair/core";

/** A live stream as `GET /streams` lists it. */
export interface ListedStream {
  key: string;
  publisher: { id: string; url: string; remoteAddress?: string } | undefined;
  startedAt: string | undefined;
  packets: number;
  bytes: number;
  players: { id: string; url: string; remoteAddress?: string }[];
}

export interface ListStreamsOptions {
  /** Include each peer's `remoteAddress`. Default false: the list is often public. */
  exposeAddresses?: boolean;
}

/** Live streams and their players, as `GET /streams` shows them. */
export function listStreams(
  hub: Pick<StreamHub, "streams">,
  options: ListStreamsOptions = {},
): ListedStream[] {
  const peer = (info: StreamInfo): { id: string; url: string; remoteAddress?: string } =>
    options.exposeAddresses === true
      ? { id: info.id, url: info.url, remoteAddress: info.remoteAddress }
      : { id: info.id, url: info.url };
  return hub
    .streams()
    .filter((stream) => stream.live)
    .map((stream) => {
      const stats = stream.stats();
      return {
        key: stats.key,
        publisher: stats.publisher && peer(stats.publisher),
        startedAt: stats.startedAt === undefined ? undefined : new Date(stats.startedAt).toISOString(),
        packets: stats.packets,
        bytes: stats.bytes,
        players: stats.players.map(peer),
      };
    });
}
