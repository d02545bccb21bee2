import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { createDb } from "../db/client";

/** Sets `db` (drizzle over Neon HTTP, one client per connection string and isolate) for the routes. */
export const provideDatabase: MiddlewareHandler<AppEnv> = async (c, next) => {
  c.set("db", createDb(c.env));
  await next();
};
