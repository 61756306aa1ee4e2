import type { IncomingMessage } from "node:http";
import { importSPKI, jwtVerify } from "jose";
import { ApiError, ApiErrorCode } from "./api-error.js";

export interface ApiJwtOptions {
  /**
   * The HMAC secret (HS256/384/512), as livego's `jwt.secret`; for the public-key algorithms
   * (RS*, PS*, ES*, EdDSA) the verifying public key as PEM (SPKI).
   */
  secret: string | Uint8Array;
  /** livego's `jwt.algorithm`. Default "HS256"; a token signed with another algorithm is refused. */
  algorithm?: string;
}

const HMAC = new Set(["HS256", "HS384", "HS512"]);
const PUBLIC_KEY = new Set([
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
]);

/** What a request without a valid token is told (livego answers with go-jwt-middleware's words). */
export const JWT_MISSING = "Required authorization token not found";
export const JWT_BAD_HEADER = "Authorization header format must be Bearer {token}";

/** Longest token looked at; a longer one is refused unparsed. */
const MAX_TOKEN_LENGTH = 8192;

/** `expiresAt`: the token's `exp` in ms since the epoch, when it has one. */
type Verdict = { ok: true; expiresAt?: number } | { ok: false; message: string };

/**
 * Checks the token of an API request, as livego does: `Authorization: Bearer TOKEN` first, else
 * `?jwt=TOKEN`; verified with `jose` against one algorithm (`alg: none` and every other algorithm
 * refused). `exp` and `nbf` are checked when present.
 */
/** A key jose verifies with (spelled through jose: `CryptoKey` is a DOM global the build does not load). */
type VerifyKey = Uint8Array | Awaited<ReturnType<typeof importSPKI>>;

export function createJwtGuard(
  options: ApiJwtOptions,
): (req: IncomingMessage, query: URLSearchParams) => Promise<Verdict> {
  const algorithm = options.algorithm ?? "HS256";
  let key: Promise<VerifyKey>;
  if (HMAC.has(algorithm)) {
    const secret =
      typeof options.secret === "string" ? new TextEncoder().encode(options.secret) : options.secret;
    if (secret.length === 0) throw new ApiError(ApiErrorCode.badOption, "jwt.secret must not be empty");
    key = Promise.resolve(secret);
  } else if (PUBLIC_KEY.has(algorithm)) {
    if (typeof options.secret !== "string") {
      throw new ApiError(ApiErrorCode.badOption, `jwt.secret must be a PEM public key for ${algorithm}`);
    }
    key = importSPKI(options.secret, algorithm);
    // Reported on the first request (below) rather than as an unhandled rejection.
    key.catch(() => {});
  } else {
    throw new ApiError(
      ApiErrorCode.badOption,
      `jwt.algorithm must be one of ${[...HMAC, ...PUBLIC_KEY].join(", ")}, got "${algorithm}"`,
    );
  }
  return async (req, query) => {
    const header = req.headers.authorization;
    let token: string | undefined;
    if (header !== undefined) {
      const match = /^bearer\s+(\S+)\s*$/i.exec(header);
      if (match === null) return { ok: false, message: JWT_BAD_HEADER };
      token = match[1];
    } else {
      token = query.get("jwt") ?? undefined;
    }
    if (token === undefined || token === "") return { ok: false, message: JWT_MISSING };
    if (token.length > MAX_TOKEN_LENGTH) return { ok: false, message: "Token is invalid" };
    let verifyKey: VerifyKey;
    try {
      verifyKey = await key;
    } catch (error) {
      throw new ApiError(ApiErrorCode.badOption, `jwt.secret is not a usable ${algorithm} public key`, {
        cause: error,
      });
    }
    try {
      const { payload } = await jwtVerify(token, verifyKey, { algorithms: [algorithm] });
      return typeof payload.exp === "number" ? { ok: true, expiresAt: payload.exp * 1000 } : { ok: true };
    } catch (error) {
      return { ok: false, message: tokenProblem(error, algorithm) };
    }
  };
}

/** jose's failure in the words of jwt-go (what livego's 403 bodies say). */
function tokenProblem(error: unknown, algorithm: string): string {
  const code = (error as { code?: string }).code;
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return "Token is expired";
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return "signature is invalid";
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return `Error validating token algorithm: Expected ${algorithm} signing method`;
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return (error as { claim?: string }).claim === "nbf" ? "Token is not valid yet" : "Token is invalid";
    default:
      return "Token is invalid";
  }
}
