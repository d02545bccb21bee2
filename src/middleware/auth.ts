import type { Context, MiddlewareHandler } from "hono";
import { eq } from "drizzle-orm";
import type { AppEnv } from "../app-env";
import { ApiError } from "../errors";
import { users } from "../db/schema";
import { readToken, type AuthenticatedUser } from "../services/tokens";

const BEARER = /^Bearer\s+(\S+)$/i;

/** Reads a bearer token when one is sent and sets `user`; a token that is sent but not valid is 401. */
export const optionalUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  await authenticate(c);
  await next();
};

/** A valid bearer token is required. */
export const requireUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!(await authenticate(c))) throw unauthorized("Authentication required: send Authorization: Bearer <token>");
  await next();
};

/** A valid token of a user who is an admin now: checked in the database, so a revoked role counts at once. */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const user = await authenticate(c);
  if (!user) throw unauthorized("Authentication required: send Authorization: Bearer <token>");
  const [row] = await c.get("db").select({ isAdmin: users.isAdmin }).from(users).where(eq(users.id, user.id));
  if (!row) throw unauthorized();
  if (!row.isAdmin) throw new ApiError(403, "forbidden", "This action needs an admin account");
  c.set("user", { ...user, isAdmin: true });
  await next();
};

async function authenticate(c: Context<AppEnv>): Promise<AuthenticatedUser | null> {
  const header = c.req.header("Authorization");
  if (!header) return null;
  const token = BEARER.exec(header)?.[1];
  const user = token ? await readToken(token, c.env.JWT_SECRET) : null;
  if (!user) throw unauthorized();
  c.set("user", user);
  return user;
}

function unauthorized(message = "The token is missing, invalid or expired"): ApiError {
  return new ApiError(401, "unauthorized", message, undefined, { "WWW-Authenticate": 'Bearer realm="tenpo"' });
}
