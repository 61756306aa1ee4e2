import type { Authorize } from "@onair/core";
import type { KeyStore } from "./key-store.js";

export interface ChannelKeyAuthorizeOptions {
  /**
   * livego's `rtmp_noauth`: publishing to any APP/NAME is allowed as it is, with no key
   * (development). Default false.
   */
  noAuth?: boolean;
}

/** The reason a publish with an unknown key is refused (what the publisher is told). */
export const INVALID_CHANNEL_KEY = "invalid channel key";

/**
 * Channel keys as an authorize hook, livego's model: a publish to APP/KEY is allowed only when
 * KEY is a room's key, and goes live as APP/ROOM (`{ allow: true, name: room }`). Players are
 * always allowed (rooms are public, as in livego). A store that fails (Redis down) refuses the
 * publish.
 */
export function channelKeyAuthorize(store: KeyStore, options: ChannelKeyAuthorizeOptions = {}): Authorize {
  const noAuth = options.noAuth === true;
  return async ({ action, name }) => {
    if (action !== "publish" || noAuth) return true;
    let room: string | undefined;
    try {
      room = await store.roomOf(name);
    } catch {
      return { allow: false, reason: "channel keys are unavailable, try again", status: 403 };
    }
    if (room === undefined) return { allow: false, reason: INVALID_CHANNEL_KEY, status: 403 };
    return { allow: true, name: room };
  };
}
