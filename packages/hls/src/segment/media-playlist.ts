/**
 * The media playlist as text (RFC 8216, and draft-pantos-hls-rfc8216bis for Low-Latency HLS): a pure
 * function of a small model, so its bytes are tested as vectors and the segmenter only keeps state.
 *
 * Per segment, in this order: EXT-X-DISCONTINUITY, EXT-X-MAP (when it differs from the one before),
 * EXT-X-PROGRAM-DATE-TIME, its EXT-X-PART lines (low-latency, recent segments only), EXTINF and the
 * URI. After the last complete segment (low-latency): the segment in progress (its discontinuity,
 * map and date, once it has a part) with its parts, and EXT-X-PRELOAD-HINT for the next part. EXT-X-ENDLIST closes an ended playlist.
 */

/** A partial segment, as listed by EXT-X-PART. */
export interface PlaylistPart {
  /** File name (the URI is `uriPrefix + file`). */
  readonly file: string;
  readonly durationMs: number;
  /** Its first video frame is a keyframe (or the stream has no video): INDEPENDENT=YES. */
  readonly independent: boolean;
}

/** A media segment, complete or (low-latency) in progress. */
export interface PlaylistSegment {
  readonly file: string;
  /** EXTINF, in ms; ignored for the segment in progress. */
  readonly durationMs: number;
  /** EXT-X-DISCONTINUITY before it. */
  readonly discontinuity: boolean;
  /** EXT-X-PROGRAM-DATE-TIME (an ISO 8601 date), when known. */
  readonly programDateTime: string | undefined;
  /** The init section (fMP4) file name; EXT-X-MAP is written where it changes. */
  readonly map: string | undefined;
  /** Its partial segments, oldest first (low-latency). */
  readonly parts: readonly PlaylistPart[];
}

export interface LowLatencyPlaylist {
  /** EXT-X-PART-INF PART-TARGET, in ms. */
  readonly partTargetMs: number;
  /** EXT-X-SERVER-CONTROL PART-HOLD-BACK, in ms. */
  readonly partHoldBackMs: number;
  /** EXT-X-PART lines are written for the complete segments from this index of `segments` on. */
  readonly partsFrom: number;
  /** The segment in progress: its parts so far (and its discontinuity and map). */
  readonly inProgress: PlaylistSegment | undefined;
  /** The file name of the next part (EXT-X-PRELOAD-HINT), unless the playlist ended. */
  readonly preloadHint: string | undefined;
}

export interface MediaPlaylistModel {
  /** EXT-X-VERSION. */
  readonly version: number;
  readonly targetDurationS: number;
  /** EXT-X-MEDIA-SEQUENCE: the sequence number of `segments[0]`. */
  readonly mediaSequence: number;
  readonly discontinuitySequence: number;
  /** Complete segments, oldest first. */
  readonly segments: readonly PlaylistSegment[];
  readonly lowLatency: LowLatencyPlaylist | undefined;
  readonly ended: boolean;
  /** Put in front of every file name, e.g. "cam1/" (already URI-encoded). */
  readonly uriPrefix: string;
}

/** Seconds with 3 decimals, from ms: 1000 → "1.000". */
export function formatSeconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

/** Renders the playlist; `uriQuery` ("token=abc", no "?") is appended to every URI in it. */
export function renderMediaPlaylist(model: MediaPlaylistModel, uriQuery?: string): string {
  const suffix = uriQuery === undefined || uriQuery === "" ? "" : `?${uriQuery}`;
  const uri = (file: string): string => `${model.uriPrefix}${file}${suffix}`;
  const ll = model.lowLatency;
  const lines: string[] = [
    "#EXTM3U",
    `#EXT-X-VERSION:${model.version}`,
    `#EXT-X-TARGETDURATION:${model.targetDurationS}`,
  ];
  if (ll !== undefined) {
    lines.push(
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${formatSeconds(ll.partHoldBackMs)}`,
      `#EXT-X-PART-INF:PART-TARGET=${formatSeconds(ll.partTargetMs)}`,
    );
  }
  lines.push(
    `#EXT-X-MEDIA-SEQUENCE:${model.mediaSequence}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${model.discontinuitySequence}`,
  );
  let map: string | undefined;
  const head = (segment: PlaylistSegment): void => {
    if (segment.discontinuity) lines.push("#EXT-X-DISCONTINUITY");
    if (segment.map !== undefined && segment.map !== map) {
      map = segment.map;
      lines.push(`#EXT-X-MAP:URI="${uri(segment.map)}"`);
    }
  };
  const parts = (segment: PlaylistSegment): void => {
    for (const part of segment.parts) {
      lines.push(
        `#EXT-X-PART:DURATION=${formatSeconds(part.durationMs)},URI="${uri(part.file)}"${part.independent ? ",INDEPENDENT=YES" : ""}`,
      );
    }
  };
  const date = (segment: PlaylistSegment): void => {
    if (segment.programDateTime !== undefined) {
      lines.push(`#EXT-X-PROGRAM-DATE-TIME:${segment.programDateTime}`);
    }
  };
  const { segments } = model;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    head(segment);
    date(segment);
    if (ll !== undefined && i >= ll.partsFrom) parts(segment);
    lines.push(`#EXTINF:${formatSeconds(segment.durationMs)},`, uri(segment.file));
  }
  if (ll !== undefined && !model.ended) {
    // Its tags only once it has a part: a discontinuity or map with nothing after it means nothing.
    if (ll.inProgress !== undefined && ll.inProgress.parts.length > 0) {
      head(ll.inProgress);
      date(ll.inProgress); // there from its first part: tags are never inserted before published lines
      parts(ll.inProgress);
    }
    if (ll.preloadHint !== undefined) {
      lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${uri(ll.preloadHint)}"`);
    }
  }
  if (model.ended) lines.push("#EXT-X-ENDLIST");
  lines.push("");
  return lines.join("\n");
}
