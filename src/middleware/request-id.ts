import type { MiddlewareHandler } from "hono";
import { requestId } from "hono/request-id";
import type { AppEnv } from "../app-env";
import { requestIdFor } from "../lib/request-id";

/**
 * Gives the request its id (`c.var.requestId`): the caller's X-Request-Id when it is sane, else a new
 * one. hono/request-id accepts a wider alphabet than docs/api.md allows, so it only stores the id (headerName
 * "") and the generator applies docs/api.md's rule (src/lib/request-id.ts).
 */
export const assignRequestId: MiddlewareHandler<AppEnv> = requestId({
  headerName: "",
  generator: (c) => requestIdFor(c.req.header("X-Request-Id")),
});

/** Sends the request's id back as X-Request-Id on every response, errors included. */
export const echoRequestId: MiddlewareHandler<AppEnv> = async (c, next) => {
  c.header("X-Request-Id", c.get("requestId"));
  await next();
};
