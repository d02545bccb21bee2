import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";

/** What an answer about one account tells every cache between the Worker and the client: keep nothing. */
export const PRIVATE_NO_STORE = "private, no-store";

/**
 * Routes whose every answer is about one account (its tokens, its user, its orders, its cart), errors
 * included. A guest cart belongs to whoever holds its id, which is as private as a token.
 */
const ACCOUNT_ROUTES = ["/api/v1/auth", "/api/v1/orders", "/api/v1/carts"];

/** `public` as a directive of a Cache-Control value. */
const PUBLIC = /(^|,)\s*public\s*(,|$)/i;

/**
 * `Cache-Control: private, no-store` on every response that belongs to one account, so that no
 * browser cache, proxy or CDN keeps a token, a user, an order, or an error telling whether one exists.
 * Mounted outside everything that answers (CORS, the body limit, JSON parsing, auth, onError), so it
 * sets the final response's header; routes do not set it themselves. The hot path (hot-reads.ts)
 * answers nothing but public catalog reads, so it needs no copy of this.
 */
export const keepAccountResponsesPrivate: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (isPrivateResponse(c.req.path, c.req.header("Authorization") !== undefined, c.res.headers.get("Cache-Control"))) {
    c.header("Cache-Control", PRIVATE_NO_STORE);
  }
};

/**
 * Whether a response must be `private, no-store`:
 *   - every response of the account routes (auth, orders, carts), whatever its status;
 *   - every response to a request that sent credentials (an Authorization header), unless it is
 *     marked public: a catalog read is the same for every client, and a customer's token does not make
 *     it private (an admin's read is private already: http-caching.ts).
 */
export function isPrivateResponse(path: string, sentCredentials: boolean, cacheControl: string | null): boolean {
  if (ACCOUNT_ROUTES.some((route) => path === route || path.startsWith(`${route}/`))) return true;
  return sentCredentials && !(cacheControl !== null && PUBLIC.test(cacheControl));
}
