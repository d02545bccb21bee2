import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { AppEnv } from "../app-env";

const ALLOW_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "If-None-Match", "X-Request-Id"];
const EXPOSE_HEADERS = ["X-Request-Id", "X-Cache", "ETag", "Location", "Retry-After", "Server-Timing", "Idempotent-Replayed"];

/** CORS for the origins CORS_ORIGINS allows (`*` or a comma-separated list); answers preflights itself. */
export const corsFromSettings: MiddlewareHandler<AppEnv> = (c, next) => {
  const origins = c.env.CORS_ORIGINS === "*" ? "*" : c.env.CORS_ORIGINS.split(",").map((o) => o.trim());
  return cors({ origin: origins, allowHeaders: ALLOW_HEADERS, exposeHeaders: EXPOSE_HEADERS, maxAge: 600 })(c, next);
};
