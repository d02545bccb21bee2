import { createMiddleware } from "hono/factory";
import type { AppEnv, AuthenticatedEnv } from "../app-env";
import { ApiError } from "../errors";
import { bearerToken, readToken, type AuthenticatedUser } from "../lib/access-token";
import { getTokenAccount } from "../services/auth";
import { TOKEN_ACCOUNT_GONE, tokenRefused } from "../services/tokens";

const AUTHENTICATION_REQUIRED = "Authentication required: send Authorization: Bearer <token>";

/**
 * A validly signed token is required; sets `user`, so the handlers behind it read `c.var.user`.
 * Whether its account still exists at the token's version is checked where the route reads the
 * account (GET /auth/me, and inside the orders SQL, which so costs no round trip of its own).
 */
export const requireUser = createMiddleware<AuthenticatedEnv>(async (c, next) => {
  const user = await authenticate(c.req.header("Authorization"), c.env.JWT_SECRET);
  if (!user) throw tokenRefused(AUTHENTICATION_REQUIRED);
  c.set("user", user);
  await next();
});

/**
 * A token is optional (the cart routes): without an Authorization header the request goes on as a
 * guest, `c.var.user` unset; with one, its token must be validly signed (else 401: the client meant to
 * authenticate, and serving it as a guest instead would hide its mistake) and sets `user`. Whether the
 * account is still at the token's version is checked where the route reads it, as behind requireUser.
 */
export const optionalUser = createMiddleware<AppEnv>(async (c, next) => {
  const user = await authenticate(c.req.header("Authorization"), c.env.JWT_SECRET);
  if (user) c.set("user", user);
  await next();
});

/**
 * A valid token of a user who is an admin now: checked in the database, so a revoked role, a revoked
 * token and a deleted account count at once. Sets `user` like requireUser.
 */
export const requireAdmin = createMiddleware<AuthenticatedEnv>(async (c, next) => {
  const user = await authenticate(c.req.header("Authorization"), c.env.JWT_SECRET);
  if (!user) throw tokenRefused(AUTHENTICATION_REQUIRED);
  c.set("user", user);
  const account = await getTokenAccount(c.get("db"), user);
  if (!account) throw tokenRefused(TOKEN_ACCOUNT_GONE);
  if (!account.is_admin) throw new ApiError(403, "forbidden", "This action needs an admin account");
  c.set("user", { ...user, isAdmin: true });
  await next();
});

/** The user of the request's bearer token; null when none is sent; a token that is sent but not valid is 401. */
async function authenticate(header: string | undefined, secret: string): Promise<AuthenticatedUser | null> {
  if (!header) return null;
  const token = bearerToken(header);
  const user = token ? await readToken(token, secret) : null;
  if (!user) throw tokenRefused();
  return user;
}
