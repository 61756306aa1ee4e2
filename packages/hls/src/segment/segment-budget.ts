/**
 * A byte budget several segmenters share (HlsStreams gives one to every stream of a hub). When
 * the bytes they hold together pass the limit, the budget takes segments back, biggest holder
 * first: the oldest complete segment of the segmenter that holds the most bytes (even one still
 * listed in its playlist), and when no segmenter has a complete segment left, the segment in
 * progress of the biggest one.
 */

/** What the budget may ask of a segmenter; made once per segmenter. */
export interface BudgetMember {
  /** Bytes the segmenter holds (its segments, parts, init sections and queued samples). */
  readonly bytes: () => number;
  /** Complete segments it holds. */
  readonly segments: () => number;
  /** Drops its oldest complete segment. */
  readonly evictOldest: () => void;
  /** Drops its segment in progress. */
  readonly dropCurrent: () => void;
}

interface BudgetState {
  bytes: number;
  readonly members: Set<BudgetMember>;
  reclaiming: boolean;
}

const states = new WeakMap<HlsSegmentBudget, BudgetState>();

/** Bytes that HLS segmenters sharing it may hold together. */
export class HlsSegmentBudget {
  readonly maxBytes: number;

  constructor(maxBytes: number) {
    if (!(maxBytes > 0)) throw new RangeError(`HlsSegmentBudget maxBytes must be > 0, got ${maxBytes}`);
    this.maxBytes = maxBytes;
    states.set(this, { bytes: 0, members: new Set(), reclaiming: false });
  }

  /** Bytes held now by the segmenters that share it. */
  get bytes(): number {
    return stateOf(this).bytes;
  }
}

function stateOf(budget: HlsSegmentBudget): BudgetState {
  const state = states.get(budget);
  if (state === undefined) throw new TypeError("not an HlsSegmentBudget");
  return state;
}

/** Adds a segmenter to the budget; returns the function that takes it out (with its bytes). */
export function joinBudget(budget: HlsSegmentBudget, member: BudgetMember): () => void {
  const state = stateOf(budget);
  state.members.add(member);
  return () => {
    if (state.members.delete(member)) state.bytes = Math.max(0, state.bytes - member.bytes());
  };
}

/** Counts `delta` bytes (negative: given back) against the budget. */
export function chargeBudget(budget: HlsSegmentBudget, delta: number): void {
  stateOf(budget).bytes += delta;
}

/** Takes segments back until the budget holds no more than its limit (or nothing is left to take). */
export function reclaimBudget(budget: HlsSegmentBudget): void {
  const state = stateOf(budget);
  if (state.bytes <= budget.maxBytes || state.reclaiming) return;
  state.reclaiming = true;
  try {
    while (state.bytes > budget.maxBytes) {
      let withSegments: BudgetMember | undefined;
      let biggest: BudgetMember | undefined;
      for (const member of state.members) {
        const bytes = member.bytes();
        if (bytes <= 0) continue;
        if (biggest === undefined || bytes > biggest.bytes()) biggest = member;
        if (member.segments() > 0 && (withSegments === undefined || bytes > withSegments.bytes())) {
          withSegments = member;
        }
      }
      const before = state.bytes;
      if (withSegments !== undefined) withSegments.evictOldest();
      else if (biggest !== undefined) biggest.dropCurrent();
      else break;
      if (state.bytes >= before) break; // nothing could be freed
    }
  } finally {
    state.reclaiming = false;
  }
}
