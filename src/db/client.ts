import { neon, neonConfig } from "@neondatabase/serverless";
import { drizzle, type NeonHttpDatabase } from "drizzle-orm/neon-http";
import * as schema from "./schema";

export type Database = NeonHttpDatabase<typeof schema>;

/**
 * The only way the Worker reaches Postgres: drizzle over Neon's SQL-over-HTTP driver, in every
 * environment. Locally NEON_HTTP_ENDPOINT points the driver at scripts/neon-http-server.ts; in
 * deployed environments it is empty and the driver talks to Neon itself.
 */
export function createDb(env: Pick<Env, "DATABASE_URL" | "NEON_HTTP_ENDPOINT">): Database {
  if (!env.DATABASE_URL) throw new Error("DATABASE_URL is not configured");
  if (env.NEON_HTTP_ENDPOINT) {
    // A global of the driver; every request of one deployment carries the same value.
    neonConfig.fetchEndpoint = env.NEON_HTTP_ENDPOINT;
  }
  return drizzle({ client: neon(env.DATABASE_URL), schema });
}
