import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors";

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Parses JSON request bodies once, before validation, so that:
 *  - malformed JSON is a 400 `invalid_json` in the contract's shape;
 *  - numbers written with an exponent (`1e3`) reach the schemas as strings and fail integer checks,
 *    as the contract demands (JSON.parse alone would turn `1e3` into the integer 1000).
 * Hono's `c.req.json()` (which the zod validators call) always re-parses the cached *text*, so the
 * normalised body is put back into the cache as text.
 */
export const parseJsonBody: MiddlewareHandler = async (c, next) => {
  const mediaType = (c.req.header("Content-Type") ?? "").split(";")[0]!.trim();
  if (!["POST", "PUT", "PATCH"].includes(c.req.method) || !JSON_MEDIA_TYPE.test(mediaType)) return next();
  const text = await c.req.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, keepExponentNumbersAsText);
  } catch {
    throw new ApiError(400, "invalid_json", "The request body is not valid JSON");
  }
  // Hono types the cache loosely; at run time it holds the promise each body reader returns.
  (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(JSON.stringify(parsed));
  await next();
};

type ReviverContext = { source?: string };

function keepExponentNumbersAsText(this: unknown, _key: string, value: unknown, context?: ReviverContext): unknown {
  if (typeof value === "number" && context?.source && /[eE]/.test(context.source)) return context.source;
  return value;
}
