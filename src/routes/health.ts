import { Hono } from "hono";
import { sql } from "drizzle-orm";
import { createRedis, usesRedis } from "../cache/redis";
import type { AppEnv } from "../app-env";
import { log } from "../observability/logging";

type Check = { name: "database" | "cache"; run: () => Promise<unknown> };
type CheckResult = { status: "ok" | "error"; backend?: string; error?: string };

/**
 * Each check answers within this or counts as failed: readiness says which dependency is down within
 * about 2 s, also when one hangs, well inside a load balancer's probe timeout. (The database check is
 * a read, so src/db/resilience.ts retries it within this time too.)
 */
export const READY_TIMEOUT_MS = 2000;

export const health = new Hono<AppEnv>();

health.get("/health", (c) => c.json({ status: "ok" }));

health.get("/health/ready", async (c) => {
  const cacheBackend = usesRedis(c.env) ? "upstash" : "kv";
  const checks: Check[] = [
    { name: "database", run: () => c.get("db").execute(sql`select 1`) },
    {
      name: "cache",
      run: () => (usesRedis(c.env) ? createRedis(c.env).ping() : c.env.CATALOG_KV.get("health:ready")),
    },
  ];
  const results = await Promise.all(checks.map((check) => runCheck(check)));
  const report: Record<string, CheckResult> = {};
  checks.forEach((check, i) => (report[check.name] = results[i]!));
  report.cache!.backend = cacheBackend;
  const ready = results.every((r) => r.status === "ok");
  if (!ready) c.header("Retry-After", "5");
  return c.json({ status: ready ? "ok" : "unavailable", checks: report }, ready ? 200 : 503);
});

async function runCheck(check: Check): Promise<CheckResult> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
  });
  try {
    await Promise.race([check.run(), timeout]);
    return { status: "ok" };
  } catch (err) {
    // The dependency's own message names what failed (connection refused, timeout); no SQL is involved here.
    log("error", "readiness check failed", { check: check.name, error: String(err) });
    return { status: "error", error: `${check.name} is not answering` };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
