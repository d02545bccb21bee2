import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors";

/** JSON is application/json and every application/<anything>+json (RFC 6839), in any case. */
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;
/** What the route validators of @hono/zod-openapi are handed for every JSON body (see below). */
const CANONICAL_JSON = "application/json";

/**
 * Parses JSON request bodies once, before validation, so that:
 *  - malformed JSON is a 400 `invalid_json` in docs/api.md's error shape;
 *  - numbers written with an exponent (`1e3`) reach the schemas as strings and fail integer checks,
 *    as docs/api.md demands (JSON.parse alone would turn `1e3` into the integer 1000);
 *  - every JSON media type is JSON to the routes: a `Content-Type` with parameters, with or without
 *    whitespace around the `;` (`application/json ; charset=utf-8`, RFC 9110), or of the `+json`
 *    family. The route validators check the header with a narrower pattern of their own (no space
 *    before `;`, no digits before `+json`) and would answer 415, so they are handed a request whose
 *    `Content-Type` is plain `application/json`. A charset is ignored, as RFC 8259 says: JSON is UTF-8.
 * Hono's `c.req.json()` (which the zod validators call) always re-parses the cached *text*, so the
 * normalised body is put back into the cache as text.
 */
export const parseJsonBody: MiddlewareHandler = async (c, next) => {
  const contentType = c.req.header("Content-Type") ?? "";
  const mediaType = contentType.split(";")[0]!.trim();
  if (!["POST", "PUT", "PATCH"].includes(c.req.method) || !JSON_MEDIA_TYPE.test(mediaType)) return next();
  const text = await c.req.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, keepExponentNumbersAsText);
  } catch {
    throw new ApiError(400, "invalid_json", "The request body is not valid JSON");
  }
  const normalised = JSON.stringify(parsed);
  if (contentType !== CANONICAL_JSON) {
    // The received request's headers cannot be changed; a copy keeps everything else (cf included).
    const headers = new Headers(c.req.raw.headers);
    headers.set("Content-Type", CANONICAL_JSON);
    c.req.raw = new Request(c.req.raw, { headers, body: normalised });
  }
  // Hono types the cache loosely; at run time it holds the promise each body reader returns.
  (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(normalised);
  await next();
};

type ReviverContext = { source?: string };

function keepExponentNumbersAsText(this: unknown, _key: string, value: unknown, context?: ReviverContext): unknown {
  if (typeof value === "number" && context?.source && /[eE]/.test(context.source)) return context.source;
  return value;
}
