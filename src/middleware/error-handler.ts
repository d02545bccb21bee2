import type { ErrorHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "../app-env";
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from "../db/resilience";
import { ApiError } from "../errors";

/**
 * The single place errors become responses. Known errors keep their status and code; a database
 * that does not answer (timeout, unreachable, 429/5xx from the SQL-over-HTTP endpoint, a connection
 * SQLSTATE) is 503 `service_unavailable` with `Retry-After`; anything else unexpected, Postgres'
 * own errors included, is answered as a bare 500. Its message and stack are logged on the server only, once, in
 * the request's own line: src/middleware/observe-requests.ts reads the error Hono keeps on the context
 * (`c.error`) and always logs a 5xx, whatever LOG_REQUESTS says.
 */
export const renderError: ErrorHandler<AppEnv> = (err, c) => {
  const apiError = toApiError(err);
  const body: { code: string; message: string; details?: unknown } = {
    code: apiError.code,
    message: apiError.message,
  };
  if (apiError.details !== undefined) body.details = apiError.details;
  for (const [name, value] of Object.entries(apiError.headers ?? {})) c.header(name, value);
  return c.json({ error: body }, apiError.status);
};

const HTTP_EXCEPTION_CODES: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  415: "unsupported_media_type",
};

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException) {
    // Hono's own middleware (e.g. a malformed JSON body) throws HTTPException with a safe message.
    const status = err.status;
    const code = HTTP_EXCEPTION_CODES[status] ?? "http_error";
    return new ApiError(status as ApiError["status"], code, err.message || "Request failed");
  }
  if (isDatabaseUnavailable(err)) {
    return ApiError.serviceUnavailable("The database is not answering right now; try again shortly", DATABASE_RETRY_AFTER_SECONDS);
  }
  return new ApiError(500, "internal_error", "Something went wrong on our side");
}
