/**
 * What happens to a player that cannot keep up. Its backlog (bytes queued and not yet taken by
 * the kernel) is checked before every write, the join burst included:
 * - past `skipBytes` it stops receiving media and resumes at the next video keyframe, so the
 *   backlog drains and the picture stays decodable (headers still go through);
 * - a write that would take it past `closeBytes` closes it instead of queueing, and so does
 *   skipping for longer than `closeAfterMs`.
 * So a player's backlog never exceeds `closeBytes`, give or take the framing the wire adds to
 * the payloads being written (the check counts payload bytes: FLV adds 15 bytes per tag, RTMP
 * 12 per message and 1 per chunk), and the join burst holds only the GOPs that fit.
 */
export interface SlowPlayerPolicy {
  skipBytes: number;
  closeBytes: number;
  closeAfterMs: number;
}

/**
 * Defaults: about 6 s of a 2.5 Mbps stream before skipping, 4× that before closing, and 10 s
 * of continuous skipping. Memory per stuck player is therefore bounded by `closeBytes` (8 MiB).
 */
export const DEFAULT_SLOW_PLAYER_POLICY: Readonly<SlowPlayerPolicy> = Object.freeze({
  skipBytes: 2 * 1024 * 1024,
  closeBytes: 8 * 1024 * 1024,
  closeAfterMs: 10_000,
});
