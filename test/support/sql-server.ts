import { env } from "cloudflare:test";

/**
 * The run's SQL-over-HTTP server (scripts/neon-http-server.ts) as tests reach it directly: every
 * request needs the run's secret (NEON_HTTP_SECRET), as the Worker's do.
 */

/** The server's base URL: NEON_HTTP_ENDPOINT without its /sql. */
export const SQL_SERVER_URL = env.NEON_HTTP_ENDPOINT.replace(/\/sql$/, "");

/** The header the server wants on every request. */
export const SQL_SERVER_AUTH: Readonly<Record<string, string>> = { Authorization: `Bearer ${env.NEON_HTTP_SECRET}` };

/** fetch on the server (e.g. its /__stats and /__faults hooks) with the run's secret. */
export function sqlServerFetch(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${SQL_SERVER_URL}${path}`, {
    ...init,
    headers: { ...SQL_SERVER_AUTH, ...(init.headers as Record<string, string> | undefined) },
  });
}
