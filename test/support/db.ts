import { env } from "cloudflare:test";
import { createDb } from "../../src/db/client";

/**
 * The run's test database through the Worker's own drizzle client (src/db/client.ts), for fixtures
 * that insert rows and for checks of what a request wrote. It goes through the run's SQL-over-HTTP
 * server like the Worker does, without any marker: round trips counted by test/support/round-trips.ts
 * or faults set by test/faults/support.ts never see these queries.
 */
export const db = createDb(env);
