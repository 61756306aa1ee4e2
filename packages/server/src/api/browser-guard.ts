import type { IncomingMessage } from "node:http";
import { hostname } from "node:os";

/**
 * Why a browser request must not reach the control API, or undefined when it may.
 *
 * The API hands out channel keys and can reset, delete and relay, with GET as livego has it; on
 * loopback without a JWT anything that can make the operator's browser send a request could use
 * it. Two attacks are closed here:
 *
 * - **Cross-site requests** (CSRF: `<img src="http://127.0.0.1:8090/control/reset?room=live">` on
 *   any page): browsers say where a request comes from in `Sec-Fetch-Site`; only "same-origin"
 *   (the dashboard) and "none" (typed, bookmarked) are let through, plus a top-level navigation
 *   to the dashboard page itself (a link from elsewhere: the page then asks same-origin).
 *   Browsers that send no `Sec-Fetch-Site` are judged by `Origin` when they send one.
 * - **DNS rebinding** (a page on an attacker's domain, re-resolved to 127.0.0.1, is
 *   "same-origin" with the API): when `checkHost` is set (the server does it for a loopback
 *   connection without a JWT), the `Host` header must be a loopback name or address
 *   (localhost, *.localhost, 127.x.x.x, [::1]) or this machine's host name.
 *
 * Clients that are not browsers (curl, Prometheus, scripts) send none of these headers and are
 * not affected. With a JWT configured the token is the protection, and a reverse proxy may pass
 * its own Host; cross-site requests are refused all the same.
 */
export function browserRequestProblem(
  req: IncomingMessage,
  path: string,
  checkHost: boolean,
): string | undefined {
  const host = (req.headers.host ?? "").toLowerCase();
  const site = req.headers["sec-fetch-site"];
  if (typeof site === "string") {
    const page = path === "/" || path === "/dashboard" || path === "/dashboard/";
    const navigation =
      req.headers["sec-fetch-mode"] === "navigate" && (req.method === "GET" || req.method === "HEAD");
    if (site !== "same-origin" && site !== "none" && !(page && navigation)) {
      return "requests from other sites are refused (Sec-Fetch-Site)";
    }
  } else {
    const origin = req.headers.origin;
    if (typeof origin === "string" && !sameOrigin(origin, host)) {
      return "requests from other origins are refused (Origin)";
    }
  }
  if (checkHost && host !== "" && !loopbackHost(host)) {
    return `Host "${host.length > 100 ? `${host.slice(0, 100)}…` : host}" is not a loopback name: this API answers only to 127.0.0.1, localhost or [::1] (against DNS rebinding); configure a JWT to reach it under another name`;
  }
  return undefined;
}

/** Whether an `Origin` header names the same host:port as the request's `Host`. */
function sameOrigin(origin: string, host: string): boolean {
  if (origin === "null") return false;
  try {
    return new URL(origin).host.toLowerCase() === host;
  } catch {
    return false;
  }
}

/** Whether a connection's local address is a loopback one (127/8, ::1, IPv4-mapped 127/8). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  return v4.startsWith("127.") || address === "::1";
}

/** "host[:port]" of a Host header names this machine through loopback (or its own host name). */
function loopbackHost(host: string): boolean {
  let name = host;
  if (name.startsWith("[")) {
    const end = name.indexOf("]");
    name = end === -1 ? name : name.slice(1, end);
    return name === "::1";
  }
  const colon = name.lastIndexOf(":");
  if (colon !== -1) name = name.slice(0, colon);
  if (name.endsWith(".")) name = name.slice(0, -1);
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)) return true;
  return name === hostname().toLowerCase();
}
