import createDebug from "debug";
import { EventEmitter } from "eventemitter3";

const debug = createDebug("onair:core:events");

/**
 * An eventemitter3 emitter whose `emit` never throws: a listener that throws is logged under
 * `onair:core:events` and the emit returns as if it had run. Sessions and servers emit from
 * socket callbacks and async paths, where a user's throwing listener would otherwise end the
 * session or, as an unhandled rejection, the process. Listeners registered after the one that
 * threw are still called.
 */
export class SafeEventEmitter<
  Events extends EventEmitter.ValidEventTypes = string | symbol,
> extends EventEmitter<Events> {
  override emit<T extends EventEmitter.EventNames<Events>>(
    event: T,
    ...args: EventEmitter.EventArgs<Events, T>
  ): boolean {
    // The common case, one listener or none, goes through eventemitter3's fast path.
    if (this.listenerCount(event) <= 1) {
      try {
        return super.emit(event, ...args);
      } catch (error) {
        reportListenerError(String(event), error);
        return true;
      }
    }
    // Several: call each so a throw in one does not skip the rest. `once` listeners are removed
    // first, as eventemitter3 does.
    const listeners = this.listeners(event);
    for (const listener of listeners) this.removeListener(event, listener as never, undefined, true);
    for (const listener of listeners) {
      try {
        (listener as (...values: unknown[]) => void).apply(this, args);
      } catch (error) {
        reportListenerError(String(event), error);
      }
    }
    return true;
  }
}

function reportListenerError(event: string, error: unknown): void {
  debug("a listener of %s threw: %O", event, error);
}
