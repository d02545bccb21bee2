import type { ContentfulStatusCode } from "hono/utils/http-status";

export type FieldProblem = { field: string; message: string };

/**
 * The one error type of the API. Routes and services throw it; `app.onError` renders it as
 * `{"error": {"code", "message", "details"?}}`. Anything else that reaches onError is a bug and
 * becomes a 500 without internals.
 */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "ApiError";
  }

  static notFound(message = "Not found"): ApiError {
    return new ApiError(404, "not_found", message);
  }

  static serviceUnavailable(message: string, retryAfterSeconds = 5): ApiError {
    return new ApiError(503, "service_unavailable", message, undefined, {
      "Retry-After": String(retryAfterSeconds),
    });
  }
}
