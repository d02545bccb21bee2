import { env } from "cloudflare:test";
import { sqlServerFetch } from "./sql-server";

/**
 * Database round trips as the SQL-over-HTTP server (scripts/neon-http-server.ts) counts them: the
 * requests and statements it received with a connection string of the test's own. The marker is an
 * `application_name`, which the driver forwards and the server counts at /__stats (byApplication)
 * but otherwise ignores, so other test files sharing the database and the server never disturb
 * the count. Work that should be counted runs with `env` (the test bindings with that URL).
 */
export type CountedDatabase = {
  /** The test bindings with DATABASE_URL pointing at the same database, marked. */
  env: Env;
  /** What the server has received with the marker so far. */
  counts(): Promise<{ requests: number; statements: number }>;
};

export function countedDatabase(label = "rt"): CountedDatabase {
  const marker = `${label}${crypto.randomUUID().replaceAll("-", "")}`;
  const url = new URL(env.DATABASE_URL);
  url.searchParams.set("application_name", marker);
  return {
    env: { ...env, DATABASE_URL: url.toString() },
    async counts() {
      const res = await sqlServerFetch("/__stats");
      if (!res.ok) throw new Error(`SQL-over-HTTP server /__stats answered ${res.status}`);
      const stats = (await res.json()) as { byApplication?: Record<string, { requests: number; statements: number }> };
      return stats.byApplication?.[marker] ?? { requests: 0, statements: 0 };
    },
  };
}
