import { sign, verify } from "hono/jwt";

/** Access tokens: HS256 JWTs with `sub`, `iat`, `exp`; the algorithm is pinned on both sides. */

export const TOKEN_ALGORITHM = "HS256" as const;
export const TOKEN_TTL_SECONDS = 60 * 60;

export type TokenClaims = { sub: string; iat: number; exp: number; adm?: boolean };
export type AuthenticatedUser = { id: number; isAdmin: boolean };

export async function issueToken(user: AuthenticatedUser, secret: string, now = Date.now()): Promise<string> {
  const iat = Math.floor(now / 1000);
  const claims: TokenClaims = { sub: String(user.id), iat, exp: iat + TOKEN_TTL_SECONDS };
  // `adm` only lets caches tell admin reads apart without a database lookup; admin routes re-check the database.
  if (user.isAdmin) claims.adm = true;
  return sign(claims, secret, TOKEN_ALGORITHM);
}

/** The user a token names, or null for any token that is not valid now (bad signature, alg, expiry, claims). */
export async function readToken(token: string, secret: string): Promise<AuthenticatedUser | null> {
  try {
    const claims = await verify(token, secret, { alg: TOKEN_ALGORITHM, exp: true, iat: true, nbf: true });
    const id = typeof claims.sub === "string" && /^[1-9][0-9]{0,9}$/.test(claims.sub) ? Number(claims.sub) : NaN;
    if (!Number.isSafeInteger(id) || typeof claims.exp !== "number") return null;
    return { id, isAdmin: claims.adm === true };
  } catch {
    return null;
  }
}
