import { LOOPBACK_ADDRESSES } from "./loopback.js";

export interface ConnectionLimits {
  /** Open connections at once; Infinity turns the limit off. */
  maxConnections: number;
  /** Open connections at once from one IP address; Infinity turns the limit off. */
  maxConnectionsPerIp: number;
  /** Addresses `maxConnectionsPerIp` does not apply to. Default `LOOPBACK_ADDRESSES`. */
  perIpExemptAddresses?: readonly string[];
}

/** Which limit a connection would pass, or undefined when it may come in. */
export type ConnectionRefusal = "maxConnections" | "perIp";

/**
 * The connection counts every protocol server keeps: in all and per peer address. A server asks
 * `admit` when a socket arrives and calls `release` with the same address when an admitted one
 * closes; how a refusal is told (a close, a 503, a 429) is the server's.
 */
export class ConnectionLimiter {
  readonly #maxConnections: number;
  readonly #maxPerIp: number;
  readonly #exempt: ReadonlySet<string>;
  readonly #perIp = new Map<string, number>();
  #count = 0;

  constructor(limits: ConnectionLimits) {
    this.#maxConnections = limits.maxConnections;
    this.#maxPerIp = limits.maxConnectionsPerIp;
    this.#exempt = new Set(limits.perIpExemptAddresses ?? LOOPBACK_ADDRESSES);
  }

  /** Admitted connections open now. */
  get count(): number {
    return this.#count;
  }

  /** Count a connection from `ip` and return undefined, or name the limit it would pass (nothing counted). */
  admit(ip: string): ConnectionRefusal | undefined {
    if (this.#count >= this.#maxConnections) return "maxConnections";
    const fromIp = this.#perIp.get(ip) ?? 0;
    if (fromIp >= this.#maxPerIp && !this.#exempt.has(ip)) return "perIp";
    this.#count += 1;
    this.#perIp.set(ip, fromIp + 1);
    return undefined;
  }

  /** An admitted connection from `ip` closed. */
  release(ip: string): void {
    this.#count -= 1;
    const left = (this.#perIp.get(ip) ?? 1) - 1;
    if (left > 0) this.#perIp.set(ip, left);
    else this.#perIp.delete(ip);
  }
}
