import { createRoute, z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { createRedis, usesRedis } from "../cache/redis";
import { withTimeout } from "../lib/with-timeout";
import { log } from "../observability/logging";
import { createRouter } from "../router";

/**
 * Each check answers within this or counts as failed: readiness says which dependency is down within
 * about 2 s, also when one hangs, well inside a load balancer's probe timeout. (The database check is
 * a read, so src/db/resilience.ts retries it within this time too.)
 */
export const READY_TIMEOUT_MS = 2000;

/** How long a probe that got 503 is told to wait (`Retry-After`, seconds). */
const RETRY_AFTER_SECONDS = "5";

const CheckSchema = z.object({
  status: z.enum(["ok", "error"]),
  backend: z.enum(["kv", "upstash"]).optional(),
  error: z.string().optional().openapi({ example: "database is not answering" }),
});
const ReadinessSchema = z
  .object({
    status: z.enum(["ok", "unavailable"]),
    checks: z.object({ database: CheckSchema, cache: CheckSchema }),
  })
  .openapi("Readiness");

type CheckResult = z.infer<typeof CheckSchema>;
type Readiness = z.infer<typeof ReadinessSchema>;

/** GET /health (liveness) and GET /health/ready (readiness: the database and the cache answer). */
export const health = createRouter();

health.openapi(
  createRoute({
    method: "get",
    path: "/health",
    operationId: "getHealth",
    security: [],
    tags: ["Operations"],
    summary: "Liveness: the worker runs",
    responses: {
      200: {
        description: "The worker runs",
        content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } },
      },
    },
  }),
  (c) => c.json({ status: "ok" as const }, 200),
);

health.openapi(
  createRoute({
    method: "get",
    path: "/health/ready",
    operationId: "getReadiness",
    security: [],
    tags: ["Operations"],
    summary: "Readiness: the database and the cache answer",
    responses: {
      200: { description: "Ready", content: { "application/json": { schema: ReadinessSchema } } },
      503: {
        description: "A dependency is not answering (`Retry-After` says when to try again)",
        content: { "application/json": { schema: ReadinessSchema } },
      },
    },
  }),
  async (c) => {
    const redis = usesRedis(c.env);
    const [database, cache] = await Promise.all([
      runCheck("database", () => c.get("db").execute(sql`select 1`)),
      runCheck("cache", () => (redis ? createRedis(c.env).ping() : c.env.CATALOG_KV.get("health:ready"))),
    ]);
    const body: Readiness = {
      status: database.status === "ok" && cache.status === "ok" ? "ok" : "unavailable",
      checks: { database, cache: { ...cache, backend: redis ? "upstash" : "kv" } },
    };
    if (body.status === "ok") return c.json(body, 200);
    c.header("Retry-After", RETRY_AFTER_SECONDS);
    return c.json(body, 503);
  },
);

/** One dependency's check, bounded by READY_TIMEOUT_MS; a failure is logged and named, never thrown. */
async function runCheck(name: "database" | "cache", run: () => Promise<unknown>): Promise<CheckResult> {
  try {
    // Promise.resolve: a drizzle query is a lazy thenable that runs again on every then/catch, and
    // withTimeout attaches two; as one real promise the check sends its query once.
    await withTimeout(Promise.resolve(run()), READY_TIMEOUT_MS, `${name} readiness check`);
    return { status: "ok" };
  } catch (err) {
    // The dependency's own message names what failed (connection refused, timeout); no SQL is involved here.
    log("error", "readiness check failed", { check: name, error: String(err) });
    return { status: "error", error: `${name} is not answering` };
  }
}
