import { neon, neonConfig } from "@neondatabase/serverless";
import { drizzle, type NeonHttpDatabase } from "drizzle-orm/neon-http";
import { currentRequestStats, recordDegraded } from "../observability/request-stats";
import { boundedSqlFetch, DatabaseUnavailableError } from "./resilience";
import * as schema from "./schema";

export type Database = NeonHttpDatabase<typeof schema>;

/**
 * Every SQL-over-HTTP request goes through this fetch: bounded in time, reads retried a little,
 * transport failures turned into DatabaseUnavailableError (src/db/resilience.ts, README "Failure
 * modes"), and each attempt counted as one database round trip (with its time) on the current
 * request's stats. A request that ends without an answer notes the database as degraded there.
 */
async function countedFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const stats = currentRequestStats();
  try {
    return await boundedSqlFetch(
      async (attemptInput, attemptInit) => {
        const started = performance.now();
        try {
          return await fetch(attemptInput, attemptInit);
        } finally {
          if (stats) {
            stats.dbRoundTrips += 1;
            stats.dbMs += performance.now() - started;
          }
        }
      },
      input,
      init,
    );
  } catch (err) {
    if (err instanceof DatabaseUnavailableError) recordDegraded("db");
    throw err;
  }
}
neonConfig.fetchFunction = countedFetch;

/**
 * The only way the Worker reaches Postgres: drizzle over Neon's SQL-over-HTTP driver, in every
 * environment. Locally NEON_HTTP_ENDPOINT points the driver at scripts/neon-http-server.ts; in
 * deployed environments it is empty and the driver talks to Neon itself.
 */
export function createDb(env: Pick<Env, "DATABASE_URL" | "NEON_HTTP_ENDPOINT" | "NEON_HTTP_SECRET">): Database {
  if (!env.DATABASE_URL) throw new Error("DATABASE_URL is not configured");
  if (env.NEON_HTTP_ENDPOINT) {
    // A global of the driver; every request of one deployment carries the same value.
    neonConfig.fetchEndpoint = env.NEON_HTTP_ENDPOINT;
  }
  // The local server's per-run secret, sent as the driver's bearer token (`authToken`). Only with a
  // local endpoint: Neon itself would take a bearer token for a user's JWT.
  const secret = env.NEON_HTTP_ENDPOINT && env.NEON_HTTP_SECRET ? env.NEON_HTTP_SECRET : undefined;
  // drizzle() rebuilds its relational view of the schema on every call; the app asks for a client on
  // every request (cache hits included), so one client per connection string is kept per isolate.
  const key = secret === undefined ? env.DATABASE_URL : `${env.DATABASE_URL}\u0000${secret}`;
  let db = clients.get(key);
  if (!db) {
    if (clients.size >= MAX_CLIENTS) clients.clear();
    db = drizzle({ client: neon(env.DATABASE_URL, secret === undefined ? {} : { authToken: secret }), schema });
    clients.set(key, db);
  }
  return db;
}

// A deployment has one connection string; tests point single requests at a few others.
const MAX_CLIENTS = 16;
const clients = new Map<string, Database>();
