import type { StreamHub } from "@onair/core";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { isClientProtocol, streamProtocol } from "./metrics-protocol.js";

/** What a server's `stats()` gives that metrics read: connections open now and refusals by reason. */
export interface ServerStatsSource {
  stats(): {
    connections?: number;
    /** Refusals since the server was made, by reason (a record of counts; nested records are skipped). */
    refused?: object;
  };
}

/** The HLS server's stats, read structurally (and only what is there). */
export interface HlsStatsSource {
  stats(): {
    connections?: number;
    refused?: object;
    /** Responses served since the server was made. */
    served?: { playlists?: number; files?: number };
    /** Requests held now (blocking playlist reloads, ...). */
    held?: number;
  };
}

/** The webhooks' stats (see `createWebhooks`), read structurally. */
export interface WebhookStatsSource {
  stats(): Record<string, unknown> & { inFlight?: number };
}

export interface MetricsOptions {
  hub: StreamHub;
  rtmp?: ServerStatsSource;
  /** The RTMPS listener, when it is a server of its own with `stats()`. */
  rtmps?: ServerStatsSource;
  flv?: ServerStatsSource;
  hls?: HlsStatsSource;
  webhooks?: WebhookStatsSource;
  /**
   * prom-client's default Node.js metrics (process CPU and memory, heap, event-loop lag as
   * `nodejs_eventloop_lag_seconds`, GC, handles), under their usual names. Default true.
   */
  defaultMetrics?: boolean;
  /** Labels put on every series (e.g. `{ instance_name: "edge-1" }`). */
  labels?: Record<string, string>;
}

export interface Metrics {
  /** The registry of these metrics (ours, not prom-client's global one). */
  readonly registry: Registry;
  /** The Content-Type of {@link render}'s text (Prometheus text format 0.0.4). */
  readonly contentType: string;
  /** The metrics in Prometheus text format, read from the hub and servers now. */
  render(): Promise<string>;
  /** The shape the control API mounts at GET /metrics. */
  scrape(): Promise<{ contentType: string; body: string }>;
  /** Forget every metric (the registry is emptied). */
  close(): void;
}

/**
 * prom-client's default metrics, collected once per process however many `createMetrics` there
 * are: each collection starts an event-loop delay histogram and a GC observer that cannot be
 * stopped, so they are made once and shared by every registry that shows them.
 */
let nodeMetrics: Registry | undefined;
function sharedNodeMetrics(): Registry {
  if (nodeMetrics === undefined) {
    nodeMetrics = new Registry();
    collectDefaultMetrics({ register: nodeMetrics });
  }
  return nodeMetrics;
}

/** Reads a refusals record: only numeric fields, so a nested record never becomes a label. */
function refusalEntries(refused: object | undefined): [string, number][] {
  if (refused === undefined || refused === null) return [];
  const entries: [string, number][] = [];
  for (const [reason, count] of Object.entries(refused)) {
    if (typeof count === "number" && Number.isFinite(count) && count >= 0) entries.push([reason, count]);
  }
  return entries;
}

/** Set a counter to totals read from elsewhere (they only grow; prom-client counters only add). */
function setCounter<L extends string>(
  counter: Counter<L>,
  values: [Partial<Record<L, string>>, number][],
): void {
  counter.reset();
  for (const [labels, value] of values) counter.inc(labels, value);
}

/**
 * Prometheus metrics of a running onair: every value is read from the hub's counters and the
 * servers' `stats()` when scraped, so nothing is counted twice and the hot path pays nothing.
 *
 * | name | type | labels |
 * | --- | --- | --- |
 * | onair_streams | gauge | |
 * | onair_publishers | gauge | protocol |
 * | onair_players | gauge | protocol |
 * | onair_recordings | gauge | |
 * | onair_player_buffered_bytes | gauge | |
 * | onair_gop_cache_bytes | gauge | |
 * | onair_connections | gauge | protocol |
 * | onair_received_bytes_total / onair_received_packets_total | counter | |
 * | onair_sent_bytes_total / onair_sent_packets_total | counter | |
 * | onair_refused_total | counter | protocol, reason |
 * | onair_stream_refused_total | counter | reason |
 * | onair_slow_player_skips_total / onair_slow_players_closed_total | counter | |
 * | onair_republishes_total / onair_idle_publishers_closed_total | counter | |
 * | onair_hls_responses_total | counter | kind |
 * | onair_hls_held_requests | gauge | |
 * | onair_webhook_requests_total | counter | hook, outcome |
 * | onair_webhook_requests_in_flight | gauge | |
 */
export function createMetrics(options: MetricsOptions): Metrics {
  const { hub } = options;
  const own = new Registry();
  const registers = [own];

  // One snapshot of the hub per scrape, taken by the first collector that runs.
  let snapshot: { at: number; value: ReturnType<typeof readHub> } | undefined;
  const readHub = () => {
    let streams = 0;
    let playerBufferedBytes = 0;
    let gopCacheBytes = 0;
    let recordings = 0;
    const publishers = new Map<string, number>();
    const players = new Map<string, number>();
    for (const stats of hub.stats()) {
      gopCacheBytes += stats.gopCacheBytes;
      if (stats.publisher !== undefined) {
        streams += 1;
        const protocol = streamProtocol(stats.publisher);
        publishers.set(protocol, (publishers.get(protocol) ?? 0) + 1);
      }
      for (const player of stats.playerStats) {
        playerBufferedBytes += player.bufferedBytes;
        const protocol = streamProtocol(player.info);
        if (protocol === "record") recordings += 1;
        else if (isClientProtocol(protocol) || protocol === "relay") {
          players.set(protocol, (players.get(protocol) ?? 0) + 1);
        }
      }
    }
    return {
      streams,
      publishers,
      players,
      recordings,
      playerBufferedBytes,
      gopCacheBytes,
      counters: hub.counters(),
    };
  };
  /** prom-client collects each metric in turn within one render; they share one reading. */
  const hubNow = (): ReturnType<typeof readHub> => {
    const now = Date.now();
    if (snapshot === undefined || now - snapshot.at > 100) snapshot = { at: now, value: readHub() };
    return snapshot.value;
  };

  const perProtocol = (gauge: Gauge<"protocol">, counts: Map<string, number>, always: readonly string[]) => {
    gauge.reset();
    for (const protocol of always) gauge.set({ protocol }, counts.get(protocol) ?? 0);
    for (const [protocol, count] of counts) if (!always.includes(protocol)) gauge.set({ protocol }, count);
  };
  const servedProtocols = [
    ...(options.rtmp === undefined ? [] : ["rtmp"]),
    ...(options.rtmps === undefined ? [] : ["rtmps"]),
    ...(options.flv === undefined ? [] : ["http-flv", "ws-flv"]),
  ];

  new Gauge({
    name: "onair_streams",
    help: "Live streams (with a publisher).",
    registers,
    collect() {
      this.set(hubNow().streams);
    },
  });
  new Gauge({
    name: "onair_publishers",
    help: "Publishers now, by protocol (rtmp, rtmps, relay, file, ...).",
    labelNames: ["protocol"],
    registers,
    collect() {
      perProtocol(this, hubNow().publishers, options.rtmp === undefined ? [] : ["rtmp"]);
    },
  });
  new Gauge({
    name: "onair_players",
    help: "Players now, by protocol (rtmp, rtmps, http-flv, ws-flv, relay); HLS viewers are counted as requests.",
    labelNames: ["protocol"],
    registers,
    collect() {
      perProtocol(this, hubNow().players, servedProtocols);
    },
  });
  new Gauge({
    name: "onair_recordings",
    help: "Streams being recorded to files now.",
    registers,
    collect() {
      this.set(hubNow().recordings);
    },
  });
  new Gauge({
    name: "onair_player_buffered_bytes",
    help: "Bytes queued to players and not yet taken by their peers, all players together.",
    registers,
    collect() {
      this.set(hubNow().playerBufferedBytes);
    },
  });
  new Gauge({
    name: "onair_gop_cache_bytes",
    help: "Payload bytes held in the GOP caches of all streams.",
    registers,
    collect() {
      this.set(hubNow().gopCacheBytes);
    },
  });
  const hubCounter = (
    name: string,
    help: string,
    read: (counters: ReturnType<StreamHub["counters"]>) => number,
  ): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        setCounter(this, [[{}, read(hubNow().counters)]]);
      },
    });
  };
  hubCounter(
    "onair_received_bytes_total",
    "Media payload bytes received from publishers (FLV tag bodies; protocol framing not counted).",
    (c) => c.bytesIn,
  );
  hubCounter("onair_received_packets_total", "Media packets received from publishers.", (c) => c.packetsIn);
  hubCounter(
    "onair_sent_bytes_total",
    "Media payload bytes given to players, recorders and relays (FLV tag bodies; framing not counted).",
    (c) => c.bytesOut,
  );
  hubCounter(
    "onair_sent_packets_total",
    "Media packets given to players, recorders and relays.",
    (c) => c.packetsOut,
  );
  hubCounter(
    "onair_slow_player_skips_total",
    "Times a player fell behind and was made to skip to the next keyframe.",
    (c) => c.slowPlayerSkips,
  );
  hubCounter(
    "onair_slow_players_closed_total",
    "Players closed for falling too far behind.",
    (c) => c.slowPlayersClosed,
  );
  hubCounter(
    "onair_republishes_total",
    "Publishers that took over a stream within the republish grace.",
    (c) => c.republishes,
  );
  hubCounter(
    "onair_idle_publishers_closed_total",
    "Publishers closed for sending nothing for the idle timeout.",
    (c) => c.idlePublishersClosed,
  );
  new Counter({
    name: "onair_stream_refused_total",
    help: "Publishers and players the stream hub refused, by error code (stream busy, limits, not live, ...).",
    labelNames: ["reason"],
    registers,
    collect() {
      setCounter(
        this,
        refusalEntries(hubNow().counters.refused).map(([reason, n]) => [{ reason }, n]),
      );
    },
  });

  const servers: [string, ServerStatsSource | HlsStatsSource | undefined][] = [
    ["rtmp", options.rtmp],
    ["rtmps", options.rtmps],
    ["http-flv", options.flv],
    ["hls", options.hls],
  ];
  const readServers = () =>
    servers.flatMap(([protocol, source]) =>
      source === undefined ? [] : [{ protocol, stats: source.stats() }],
    );
  new Gauge({
    name: "onair_connections",
    help: "Open connections by listener (http-flv counts HTTP-FLV and WS-FLV).",
    labelNames: ["protocol"],
    registers,
    collect() {
      this.reset();
      for (const { protocol, stats } of readServers()) {
        if (typeof stats.connections === "number") this.set({ protocol }, stats.connections);
      }
    },
  });
  new Counter({
    name: "onair_refused_total",
    help: "Connections and requests a listener refused or closed, by reason (limits, timeouts, protocol errors, unauthorized).",
    labelNames: ["protocol", "reason"],
    registers,
    collect() {
      const values: [Partial<Record<"protocol" | "reason", string>>, number][] = [];
      for (const { protocol, stats } of readServers()) {
        for (const [reason, n] of refusalEntries(stats.refused)) values.push([{ protocol, reason }, n]);
      }
      setCounter(this, values);
    },
  });

  const { hls } = options;
  if (hls !== undefined) {
    new Counter({
      name: "onair_hls_responses_total",
      help: "HLS playlists and files (segments, parts, init segments) served.",
      labelNames: ["kind"],
      registers,
      collect() {
        const served = hls.stats().served;
        setCounter(this, [
          [{ kind: "playlist" }, served?.playlists ?? 0],
          [{ kind: "file" }, served?.files ?? 0],
        ]);
      },
    });
    new Gauge({
      name: "onair_hls_held_requests",
      help: "HLS requests held now (blocking playlist reloads, playlists waiting for the first segment).",
      registers,
      collect() {
        this.set(hls.stats().held ?? 0);
      },
    });
  }

  const { webhooks } = options;
  if (webhooks !== undefined) {
    new Counter({
      name: "onair_webhook_requests_total",
      help: "Webhook POSTs by hook and outcome (ok: 2xx, rejected: other status, timed_out, failed, dropped).",
      labelNames: ["hook", "outcome"],
      registers,
      collect() {
        const values: [Partial<Record<"hook" | "outcome", string>>, number][] = [];
        for (const [hook, counts] of Object.entries(webhooks.stats())) {
          if (typeof counts !== "object" || counts === null) continue;
          for (const [outcome, n] of Object.entries(counts)) {
            if (typeof n !== "number") continue;
            values.push([{ hook, outcome: outcome === "timedOut" ? "timed_out" : outcome }, n]);
          }
        }
        setCounter(this, values);
      },
    });
    new Gauge({
      name: "onair_webhook_requests_in_flight",
      help: "Webhook POSTs waiting for an answer now.",
      registers,
      collect() {
        this.set(webhooks.stats().inFlight ?? 0);
      },
    });
  }

  // Registered last, so the merge sees every metric above.
  const registry = options.defaultMetrics === false ? own : Registry.merge([own, sharedNodeMetrics()]);
  if (options.labels !== undefined) registry.setDefaultLabels(options.labels);

  const render = async (): Promise<string> => {
    snapshot = undefined;
    try {
      return await registry.metrics();
    } finally {
      snapshot = undefined;
    }
  };
  return {
    registry,
    contentType: registry.contentType,
    render,
    scrape: async () => ({ contentType: registry.contentType, body: await render() }),
    close: () => registry.clear(),
  };
}
