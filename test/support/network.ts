/**
 * A URL of a port nothing listens on (the discard port of loopback): point a binding at it
 * (`NEON_HTTP_ENDPOINT: \`${CLOSED}/sql\``, `UPSTASH_REDIS_REST_URL: CLOSED`, a sink URL) to make
 * that dependency down. Connections are refused at once, so the request fails fast, not on a timeout.
 */
export const CLOSED = "http://127.0.0.1:9";
