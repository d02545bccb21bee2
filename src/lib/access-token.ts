import { sign, verify } from "hono/jwt";

/**
 * Access tokens: HS256 JWTs with `sub`, `iat`, `exp` and `ver`; the algorithm is pinned on both sides.
 * A valid signature is not the whole story: the account must still exist and still be at the token's
 * version, which is checked wherever the account is read (src/middleware/auth.ts, the SQL of src/services/order-*.ts).
 *
 * Pure on the token and the secret (no database), so the catalog cache can tell admin reads apart
 * (src/cache/http-caching.ts) as the auth middleware does.
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

/** A token for `user`, valid TOKEN_TTL_SECONDS from `now`. */
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

const BEARER = /^Bearer\s+(\S+)$/i;

/** The token of an `Authorization: Bearer <token>` header (scheme in any case), else undefined. */
export function bearerToken(authorization: string | null | undefined): string | undefined {
  return authorization ? BEARER.exec(authorization)?.[1] : undefined;
}

/** Whether a token's payload claims `adm` (unverified: a claim only decides who must be verified). */
export function claimsAdmin(token: string): boolean {
  const payload = token.split(".")[1];
  if (!payload) return false;
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    return (JSON.parse(json) as { adm?: unknown }).adm === true;
  } catch {
    return false;
  }
}
