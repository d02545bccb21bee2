import { ApiError } from "../errors";

// The token itself (sign, verify, claims) is src/lib/access-token.ts: the catalog cache reads tokens
// too, and cache/ may not import services/. What is here is how the API refuses a token.

/**
 * The answer to a request whose token is missing or not (or no longer) valid: 401 `unauthorized`
 * with the challenge that tells a client to log in again.
 */
export function tokenRefused(message = "The token is missing, invalid or expired"): ApiError {
  return new ApiError(401, "unauthorized", message, undefined, { "WWW-Authenticate": 'Bearer realm="tenpo"' });
}

/** Why a signed token's account refused it: gone, or its tokens revoked since this one was issued. */
export const TOKEN_ACCOUNT_GONE = "The token's account no longer exists, or the token was revoked; log in again";
