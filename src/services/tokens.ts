import { sign, verify } from "hono/jwt";
import { ApiError } from "../errors";

/**
 * Access tokens: HS256 JWTs with `sub`, `iat`, `exp` and `ver`; the algorithm is pinned on both sides.
 * A valid signature is not the whole story: the account must still exist and still be at the token's
 * version, which is checked wherever the account is read (src/middleware/auth.ts, the SQL of src/services/order-*.ts).
 */

export const TOKEN_ALGORITHM = "HS256" as const;
export const TOKEN_TTL_SECONDS = 60 * 60;
/** The largest user id: users.id is a Postgres integer, so a larger `sub` can name no account. */
export const MAX_USER_ID = 2_147_483_647;
/** The largest token version, for the same reason (users.token_version is an integer). */
export const MAX_TOKEN_VERSION = 2_147_483_647;

export type TokenClaims = { sub: string; iat: number; exp: number; ver: number; adm?: boolean };

/** The account a valid token names, and the version of the account's tokens it was issued at. */
export type AuthenticatedUser = { id: number; isAdmin: boolean; tokenVersion: number };

export async function issueToken(user: AuthenticatedUser, secret: string, now = Date.now()): Promise<string> {
  const iat = Math.floor(now / 1000);
  const claims: TokenClaims = { sub: String(user.id), iat, exp: iat + TOKEN_TTL_SECONDS, ver: user.tokenVersion };
  // `adm` only lets caches tell admin reads apart without a database lookup; admin routes re-check the database.
  if (user.isAdmin) claims.adm = true;
  return sign(claims, secret, TOKEN_ALGORITHM);
}

/**
 * The user a token names, or null for any token that is not valid now (bad signature, alg, expiry,
 * claims). `sub` must be a user id that can exist (1..MAX_USER_ID, digits only). Tokens issued before
 * versions existed carry no `ver`: every account was at version 0 then, so they stand for 0 and die
 * with the first revocation like any other.
 */
export async function readToken(token: string, secret: string): Promise<AuthenticatedUser | null> {
  try {
    const claims = await verify(token, secret, { alg: TOKEN_ALGORITHM, exp: true, iat: true, nbf: true });
    const id = typeof claims.sub === "string" && /^[1-9][0-9]{0,9}$/.test(claims.sub) ? Number(claims.sub) : NaN;
    if (Number.isNaN(id) || id > MAX_USER_ID || typeof claims.exp !== "number") return null;
    const version = claims.ver === undefined ? 0 : claims.ver;
    if (!Number.isInteger(version) || (version as number) < 0 || (version as number) > MAX_TOKEN_VERSION) return null;
    return { id, isAdmin: claims.adm === true, tokenVersion: version as number };
  } catch {
    return null;
  }
}

/**
 * The answer to a request whose token is missing or not (or no longer) valid: 401 `unauthorized`
 * with the challenge that tells a client to log in again.
 */
export function tokenRefused(message = "The token is missing, invalid or expired"): ApiError {
  return new ApiError(401, "unauthorized", message, undefined, { "WWW-Authenticate": 'Bearer realm="tenpo"' });
}

/** Why a signed token's account refused it: gone, or its tokens revoked since this one was issued. */
export const TOKEN_ACCOUNT_GONE = "The token's account no longer exists, or the token was revoked; log in again";
