import { z } from "@hono/zod-openapi";

/** Shapes shared by every resource: text, errors, ids, money, pagination, timestamps. */

// Text the database can store and a reader can see. Postgres cannot store U+0000 at all, and no other
// control character (Unicode category Cc: U+0000–U+001F, U+007F–U+009F) belongs in a name, an email,
// a search or a password; a description may have lines and tabs. A lone UTF-16 surrogate (JSON lets
// a client write "\ud800") is no character at all, and UTF-8 cannot hold it: on its way to Postgres
// it is refused or silently replaced by U+FFFD (the local SQL-over-HTTP server does the latter).
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is what this is for
const SINGLE_LINE_TEXT = /^[^\u0000-\u001f\u007f-\u009f]*$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is what this is for
const MULTILINE_TEXT = /^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$/;
const LONE_SURROGATE = /\p{Surrogate}/u;

export const CONTROL_CHARACTER_MESSAGE = "must not contain control characters (U+0000 to U+001F, U+007F to U+009F)";
export const MULTILINE_CONTROL_CHARACTER_MESSAGE =
  "must not contain control characters (U+0000 to U+001F, U+007F to U+009F) other than tab, line feed and carriage return";
export const LONE_SURROGATE_MESSAGE = "must be valid Unicode text (it has an unpaired surrogate)";

/** Why `value` cannot be taken as text (one of the messages above), or null when it can. */
export function textProblem(value: string, { multiline = false }: { multiline?: boolean } = {}): string | null {
  if (!(multiline ? MULTILINE_TEXT : SINGLE_LINE_TEXT).test(value)) {
    return multiline ? MULTILINE_CONTROL_CHARACTER_MESSAGE : CONTROL_CHARACTER_MESSAGE;
  }
  return LONE_SURROGATE.test(value) ? LONE_SURROGATE_MESSAGE : null;
}

/**
 * The one building block of every text input, in a body or a query: a string holding no control
 * character (tab, line feed and carriage return allowed when `multiline`) and no lone surrogate.
 * These are checked first and stop every later check, so the answer names the character rather than
 * some rule it happens to break (an email format, a length after trimming). Chain the field's own
 * rules after it. A missing field "is required", one of another type "must be a string".
 */
export function text({ multiline = false }: { multiline?: boolean } = {}): z.ZodString {
  return z
    .string({ error: (issue) => (issue.input === undefined ? "is required" : "must be a string") })
    .regex(multiline ? MULTILINE_TEXT : SINGLE_LINE_TEXT, {
      message: multiline ? MULTILINE_CONTROL_CHARACTER_MESSAGE : CONTROL_CHARACTER_MESSAGE,
      abort: true,
    })
    .refine((value) => !LONE_SURROGATE.test(value), { message: LONE_SURROGATE_MESSAGE, abort: true });
}

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "not_found" }),
      message: z.string().openapi({ example: "Product 42 not found" }),
      details: z.unknown().optional(),
    }),
  })
  .openapi("Error");

export const ValidationErrorSchema = z
  .object({
    error: z.object({
      code: z.literal("validation_error"),
      message: z.string(),
      details: z.array(z.object({ field: z.string(), message: z.string() })),
    }),
  })
  .openapi("ValidationError");

/** What src/middleware/json-body.ts answers to a body that does not parse as JSON: no details. */
export const InvalidJsonErrorSchema = z
  .object({
    error: z.object({
      code: z.literal("invalid_json"),
      message: z.string().openapi({ example: "The request body is not valid JSON" }),
    }),
  })
  .openapi("InvalidJsonError");

/** An integer in a path or query string: digits only, so "1.5", "1e3" and " 7" are refused. */
export const integerText = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^[0-9]+$/, `${name} must be an integer`)
    .transform(Number)
    .pipe(z.number().int().min(min, `${name} must be at least ${min}`).max(max, `${name} must be at most ${max}`));

/** The largest id: ids are Postgres `integer`s. */
export const MAX_ID = 2_147_483_647;

export const IdParamSchema = z.object({
  id: integerText("id", 1, MAX_ID).openapi({
    param: { name: "id", in: "path" },
    type: "integer",
    minimum: 1,
    maximum: MAX_ID,
    example: 42,
  }),
});

const MONEY_TEXT = /^[0-9]{1,8}(\.[0-9]{1,2})?$/;
/** The largest amount MONEY_TEXT lets through. */
const MAX_MONEY = 99_999_999.99;
const MONEY_RULE = "A non-negative amount with at most two decimals, below 100000000";

/**
 * Money in: a string or a number with at most two decimals; out: a string with exactly two ("19.99").
 * A string is text first (textProblem), so a control character gets the same answer as anywhere else.
 */
const moneyInput = z
  .union([z.string(), z.number()])
  .superRefine((v, ctx) => {
    const problem = typeof v === "string" ? textProblem(v) : null;
    if (problem) ctx.addIssue({ code: "custom", message: problem, input: v, continue: false });
  })
  .refine((v) => MONEY_TEXT.test(typeof v === "number" ? String(v) : v), {
    message: "must be a non-negative amount with at most two decimals, below 100000000",
  })
  .transform((v) => Number(typeof v === "number" ? String(v) : v).toFixed(2));

/** Money as a string, documented: digits with at most two decimals ("19.99", "5", "0.5"). */
const MONEY_TEXT_DOC = { type: "string", pattern: MONEY_TEXT.source, example: "19.99" } as const;

/**
 * Money in a body: a string or a JSON number with at most two decimals; out: a string with exactly
 * two ("19.99"). A string is text first (textProblem), so a control character gets the same answer
 * as anywhere else. A number is read as JavaScript writes it, so one with an exponent (`1e3`) is
 * refused: JSON Schema cannot say "no exponent" or "at most two decimals" of a number, so the
 * description does.
 */
export const MoneyInputSchema = moneyInput.openapi({
  description: `${MONEY_RULE}: a string ("19.99") or a JSON number (19.99) written without an exponent`,
  anyOf: [MONEY_TEXT_DOC, { type: "number", minimum: 0, maximum: MAX_MONEY }],
  example: "19.99",
});

/** Money in a query string: the same rule as MoneyInputSchema, always text there. */
export const MoneyQuerySchema = moneyInput.openapi({ ...MONEY_TEXT_DOC, description: MONEY_RULE });

export const MoneySchema = z.string().openapi({ example: "19.99", pattern: "^[0-9]+\\.[0-9]{2}$" });

export const TimestampSchema = z.string().openapi({ format: "date-time", example: "2026-11-28T06:43:20.123Z" });

const MAX_PAGE = 1_000_000;
const MAX_PAGE_SIZE = 100;

export const PaginationQuerySchema = z.object({
  page: integerText("page", 1, MAX_PAGE).optional().default(1).openapi({ type: "integer", minimum: 1, maximum: MAX_PAGE, default: 1 }),
  page_size: integerText("page_size", 1, MAX_PAGE_SIZE)
    .optional()
    .default(20)
    .openapi({ type: "integer", minimum: 1, maximum: MAX_PAGE_SIZE, default: 20 }),
});

export const pageOf = <T extends z.ZodTypeAny>(item: T, name: string) =>
  z
    .object({
      items: z.array(item),
      total: z.number().int(),
      page: z.number().int(),
      page_size: z.number().int(),
      total_pages: z.number().int(),
    })
    .openapi(name);

export type Page<T> = { items: T[]; total: number; page: number; page_size: number; total_pages: number };

export function toPage<T>(items: T[], total: number, page: number, pageSize: number): Page<T> {
  return { items, total, page, page_size: pageSize, total_pages: Math.ceil(total / pageSize) };
}

/** An error body without `details` requirements, for responses documented outside the tables below. */
export const errorJson = { "application/json": { schema: ErrorSchema } };
const retryAfter = (description: string) => ({
  "Retry-After": { description, required: true, schema: { type: "integer" as const, minimum: 1 } },
});

/**
 * The error responses of the route definitions, one per status, each as the server sends it
 * (src/middleware/error-handler.ts renders them all). A route lists the ones it can answer and may
 * sharpen a description (`{ ...errorResponses[409], description: "…" }`). Every /api/v1 operation
 * lists 500 and 503; one that takes a body spreads `bodyErrorResponses` as well.
 */
export const errorResponses = {
  400: {
    description: "`validation_error`: a path parameter or the query is not valid; `details` names each field",
    content: { "application/json": { schema: ValidationErrorSchema } },
  },
  401: {
    description: "`unauthorized`: missing, invalid, expired or revoked token, or one whose account no longer exists",
    headers: {
      "WWW-Authenticate": { description: '`Bearer realm="tenpo"`', required: true, schema: { type: "string" as const } },
    },
    content: errorJson,
  },
  403: { description: "`forbidden`: not allowed for this user", content: errorJson },
  404: { description: "`not_found`", content: errorJson },
  409: { description: "Conflict with the current state", content: errorJson },
  412: {
    description: "`precondition_failed`: the If-Match header names no current ETag of the resource; nothing changed",
    content: errorJson,
  },
  429: {
    description: "`rate_limited`: too many attempts; see `Retry-After`",
    headers: retryAfter("Seconds to wait before trying again"),
    content: errorJson,
  },
  500: { description: "`internal_error`: something failed on the server; nothing about it is in the body", content: errorJson },
  503: {
    description:
      "`service_unavailable`: the database is not answering (timed out, unreachable or overloaded), or this deployment " +
      "refuses to serve with development settings; retry after `Retry-After` seconds",
    headers: retryAfter("Seconds to wait before retrying"),
    content: errorJson,
  },
} as const;

/**
 * What every POST and PATCH of /api/v1 may answer about its body before the route sees it: a body
 * that does not parse as JSON (src/middleware/json-body.ts) or does not fit the route's schema, one
 * over the body limit (src/app.ts), one that is not JSON at all (the route validator).
 */
export const bodyErrorResponses = {
  400: {
    description: "`validation_error` (`details` names each field), or `invalid_json` (no `details`): the body is not valid JSON",
    content: { "application/json": { schema: z.union([ValidationErrorSchema, InvalidJsonErrorSchema]) } },
  },
  413: { description: "`payload_too_large`: the body is larger than the limit the message names", content: errorJson },
  415: {
    description: "`unsupported_media_type`: the body is not JSON (`application/json` or `application/*+json`)",
    content: errorJson,
  },
} as const;
