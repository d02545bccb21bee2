import type { MiddlewareHandler } from "hono";
import { newRequestStats, withRequestStats } from "../observability/request-stats";

/** Gives every request a fresh stats record (src/observability/request-stats.ts) for the rest of the chain. */
export const trackRequestStats: MiddlewareHandler = (_c, next) => withRequestStats(newRequestStats(), next);
