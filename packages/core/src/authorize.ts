/**
 * One authorization hook for every protocol. Each server asks it before a publisher or player
 * reaches the handler, and maps a refusal to its own form: RTMP onStatus, HTTP 401/403 with JSON,
 * a WebSocket close code.
 */
export interface AuthorizeRequest {
  action: "publish" | "play";
  /** Which server asks: "rtmp", "http-flv", "ws-flv", "hls", ... */
  protocol: string;
  app: string;
  name: string;
  /** Query string parameters of the request (RTMP: the stream name's, then the connect tcUrl's). */
  query: URLSearchParams;
  /** "ip:port" of the peer. */
  remoteAddress: string;
}

/**
 * Allow with `true` (or `{ allow: true }`); refuse with `false` or `{ allow: false, reason }`.
 * `status` picks the HTTP status of a refusal (401 or 403; default 403).
 *
 * `{ allow: true, name }` allows a publish under another stream name: the stream goes live as
 * "app/name" instead of the name the publisher asked for (channel keys: a publisher pushes to
 * APP/KEY, players play APP/ROOM). Servers that cannot rename (players) ignore it.
 */
export type AuthorizeResult =
  | boolean
  | { allow: true; name?: string }
  | { allow: false; reason?: string; status?: 401 | 403 };

export type Authorize<Request extends AuthorizeRequest = AuthorizeRequest> = (
  request: Request,
) => AuthorizeResult | Promise<AuthorizeResult>;

/** `name`: the hook's stream name for a publish, when it gave one (see {@link AuthorizeResult}). */
export type AuthorizeVerdict = { ok: true; name?: string } | { ok: false; reason: string; status: 401 | 403 };

/**
 * Run `authorize` (undefined allows everything). A hook that throws or rejects refuses, so a bug in
 * it never opens a stream; the error is handed to `onError` for logging.
 */
export async function runAuthorize<Request extends AuthorizeRequest>(
  authorize: Authorize<Request> | undefined,
  request: Request,
  onError?: (error: unknown) => void,
): Promise<AuthorizeVerdict> {
  if (authorize === undefined) return { ok: true };
  const refused = `${request.action} not authorized`;
  try {
    const result = await authorize(request);
    if (result === true) return { ok: true };
    if (result === false || typeof result !== "object" || result === null) {
      return { ok: false, reason: refused, status: 403 };
    }
    if (result.allow) {
      const name = (result as { name?: unknown }).name;
      return typeof name === "string" ? { ok: true, name } : { ok: true };
    }
    return { ok: false, reason: result.reason ?? refused, status: result.status ?? 403 };
  } catch (error) {
    onError?.(error);
    return { ok: false, reason: refused, status: 403 };
  }
}
