/**
 * This machine's addresses as a socket reports them (IPv4, IPv6, IPv4-mapped IPv6). Per-IP limits
 * exempt them by default: a local reverse proxy or TLS terminator makes every client look like this
 * machine, and local benchmarks open hundreds of players from it.
 */
export const LOOPBACK_ADDRESSES: readonly string[] = Object.freeze(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);
