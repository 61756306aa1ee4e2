import { runAuthorize } from "@onair/core";
import createDebug from "debug";
import type { FlvHandlerOptions } from "./flv-handler.js";
import type { FlvTarget } from "./flv-path.js";
import { REFUSALS, type Refusal } from "./refusals.js";

const debug = createDebug("onair:flv:http");

export type PlayerVerdict = { ok: true } | { ok: false; refusal: Refusal; reason: string };
export const ALLOWED: PlayerVerdict = { ok: true };

/** Ask the authorize hook about a player, giving up after `authorizeTimeoutMs`. */
export async function authorizePlayer(
  options: FlvHandlerOptions,
  protocol: "http-flv" | "ws-flv",
  target: FlvTarget,
  remoteAddress: string,
): Promise<PlayerVerdict> {
  const request = { action: "play" as const, protocol, ...target, remoteAddress };
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(resolve, options.authorizeTimeoutMs ?? 10_000, "timeout");
    // A hook still thinking for a client that left must not hold the process open after close().
    timer.unref();
  });
  try {
    const verdict = await Promise.race([
      runAuthorize(options.authorize, request, (error) =>
        debug("authorize threw for %s %s/%s: %O", remoteAddress, target.app, target.name, error),
      ),
      timedOut,
    ]);
    if (verdict === "timeout")
      return { ok: false, refusal: REFUSALS.authorizeTimeout, reason: REFUSALS.authorizeTimeout.reason };
    if (verdict.ok) return ALLOWED;
    const refusal = verdict.status === 401 ? REFUSALS.unauthorized : REFUSALS.forbidden;
    return { ok: false, refusal, reason: verdict.reason };
  } finally {
    clearTimeout(timer);
  }
}
