/**
 * The seam between the segmenter (which makes one live stream's segments, parts and playlist) and
 * the HTTP layer (which serves them and holds blocking playlist reloads). The HTTP layer sees only
 * this interface, so it is tested against small fakes and the segmenter without sockets.
 */

/**
 * What the segmenter writes:
 * - `ts`: MPEG-TS segments (the most compatible: old smart TVs and set-top boxes);
 * - `fmp4`: fMP4/CMAF segments with an init section (EXT-X-MAP);
 * - `low-latency`: fMP4 with partial segments, preload hints and blocking reload (LL-HLS).
 */
export type HlsVariant = "ts" | "fmp4" | "low-latency";

/** A segment, part or init section, as the HTTP layer sends it. */
export interface HlsResource {
  readonly bytes: Buffer;
  /** "video/mp2t", "video/mp4" (init, fMP4 segments and parts) or "audio/mp4"... */
  readonly contentType: string;
}

/** One stream's HLS output, as the HTTP layer reads it. */
export interface HlsPlaylistSource {
  /** "app/name". */
  readonly key: string;
  readonly variant: HlsVariant;
  /** The stream ended: the playlist has EXT-X-ENDLIST and will not change again. */
  readonly ended: boolean;
  /**
   * The newest media sequence number in the playlist: the segment in progress (which may already
   * have parts) in low-latency mode, else the newest complete segment. -1 before the first one.
   */
  readonly lastMsn: number;
  /**
   * The index of the newest complete part of segment `lastMsn`; -1 when it has none yet (and
   * always -1 outside low-latency mode).
   */
  readonly lastPart: number;
  /** EXT-X-PART-INF PART-TARGET, in ms (0 outside low-latency mode). */
  readonly partTargetMs: number;
  /** EXT-X-TARGETDURATION, in seconds. */
  readonly targetDurationS: number;
  /**
   * Whether the playlist already holds segment `msn` (complete, or in low-latency mode in progress
   * with part `part` complete). `part` undefined: the segment as a whole is complete.
   */
  has(msn: number, part?: number): boolean;
  /**
   * The media playlist text. `uriQuery` (e.g. "token=abc", no "?") is appended to every URI in it
   * (segments, parts, the map, the preload hint), so a token given to the playlist reaches them.
   */
  playlist(uriQuery?: string): string;
  /**
   * A segment, part or init section by its file name (the last part of its URI: the playlist at
   * `/APP/NAME.m3u8` names them `NAME/FILE`, so they are served at `/APP/NAME/FILE`). Undefined
   * when there is no such file, or it left the window.
   */
  resource(file: string): HlsResource | undefined;
  /**
   * Whether `file` is the part announced by EXT-X-PRELOAD-HINT (not written yet): the HTTP layer
   * holds such a request until `resource(file)` has it (or the stream ends or a timeout passes).
   */
  isPreloadHint(file: string): boolean;
  /**
   * Call `listener` after each change: a new part, a new segment, the end. Returns the function
   * that removes it. One listener per HTTP server per stream, not one per request.
   */
  onChange(listener: () => void): () => void;
}

/** The HLS output of every stream of a hub, by app and name. */
export interface HlsSourceDirectory {
  get(app: string, name: string): HlsPlaylistSource | undefined;
}
