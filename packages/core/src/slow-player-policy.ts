/**
 * What happens to a player that cannot keep up. Its backlog (bytes queued and not yet taken by
 * the kernel) is checked on every packet:
 * - past `skipBytes` it stops receiving media and resumes at the next video keyframe, so the
 *   backlog drains and the picture stays decodable;
 * - past `closeBytes`, or when it has been skipping for `closeAfterMs`, it is closed.
 */
export interface SlowPlayerPolicy {
  skipBytes: number;
  closeBytes: number;
  closeAfterMs: number;
}

/**
 * Defaults: about 6 s of a 2.5 Mbps stream before skipping, 4× that before closing, and 10 s
 * of continuous skipping. Memory per stuck player is therefore bounded by `closeBytes`.
 */
export const DEFAULT_SLOW_PLAYER_POLICY: Readonly<SlowPlayerPolicy> = Object.freeze({
  skipBytes: 2 * 1024 * 1024,
  closeBytes: 8 * 1024 * 1024,
  closeAfterMs: 10_000,
});
