import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { ApiError } from "../errors";
import { getTokenAccount } from "../services/auth";
import { bearerToken, readToken, type AuthenticatedUser } from "../lib/access-token";
import { TOKEN_ACCOUNT_GONE, tokenRefused } from "../services/tokens";

/** Reads a bearer token when one is sent and sets `user`; a token that is sent but not valid is 401. */
export const optionalUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  await authenticate(c);
  await next();
};

/**
 * A validly signed token is required. Whether its account still exists at the token's version is
 * checked where the route reads the account (GET /auth/me, and inside the orders SQL, which so costs
 * no round trip of its own).
 */
export const requireUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!(await authenticate(c))) throw tokenRefused("Authentication required: send Authorization: Bearer <token>");
  await next();
};

/**
 * A valid token of a user who is an admin now: checked in the database, so a revoked role, a revoked
 * token and a deleted account count at once.
 */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const user = await authenticate(c);
  if (!user) throw tokenRefused("Authentication required: send Authorization: Bearer <token>");
  const account = await getTokenAccount(c.get("db"), user);
  if (!account) throw tokenRefused(TOKEN_ACCOUNT_GONE);
  if (!account.is_admin) throw new ApiError(403, "forbidden", "This action needs an admin account");
  c.set("user", { ...user, isAdmin: true });
  await next();
};

async function authenticate(c: Context<AppEnv>): Promise<AuthenticatedUser | null> {
  const header = c.req.header("Authorization");
  if (!header) return null;
  const token = bearerToken(header);
  const user = token ? await readToken(token, c.env.JWT_SECRET) : null;
  if (!user) throw tokenRefused();
  c.set("user", user);
  return user;
}
