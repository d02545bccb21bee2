import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { AppEnv } from "../app-env";
import { settingsOf } from "../config";

const ALLOW_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "If-Match", "If-None-Match", "X-Request-Id"];
const EXPOSE_HEADERS = ["X-Request-Id", "X-Cache", "ETag", "Location", "Retry-After", "Server-Timing", "Idempotent-Replayed"];

/** The CORS middleware of each deployment's settings: built once per env object, not per request. */
const corsBySettings = new WeakMap<object, MiddlewareHandler>();

/** CORS for the origins CORS_ORIGINS allows (`*` or a comma-separated list); answers preflights itself. */
export const corsFromSettings: MiddlewareHandler<AppEnv> = (c, next) => {
  const settings = settingsOf(c.env);
  let middleware = corsBySettings.get(settings);
  if (!middleware) {
    const origins = settings.corsOrigins;
    if (origins === undefined) throw new Error("CORS_ORIGINS is not set");
    middleware = cors({
      origin: origins === "*" ? "*" : [...origins],
      allowHeaders: ALLOW_HEADERS,
      exposeHeaders: EXPOSE_HEADERS,
      maxAge: 600,
    });
    corsBySettings.set(settings, middleware);
  }
  return middleware(c, next);
};
