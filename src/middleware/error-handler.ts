import type { ErrorHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "../app-env";
import { ApiError } from "../errors";
import { errorFields, log } from "../log";

/**
 * The single place errors become responses. Known errors keep their status and code; anything
 * unexpected is logged with its stack on the server and answered as a bare 500.
 */
export const renderError: ErrorHandler<AppEnv> = (err, c) => {
  const apiError = toApiError(err);
  if (apiError.status >= 500) {
    log("error", "request failed", {
      request_id: c.get("requestId"),
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      ...errorFields(err),
    });
  }
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
  return new ApiError(500, "internal_error", "Something went wrong on our side");
}
