/**
 * Stripe's error answers: a status and `{"error": {type, code?, message, param?, decline_code?,
 * payment_intent?, …}}`. The official SDK picks its error class from the status (400/404 →
 * StripeInvalidRequestError, or StripeIdempotencyError when type is idempotency_error; 401 →
 * StripeAuthenticationError; 402 → StripeCardError; 5xx → StripeAPIError), so the status matters as
 * much as the body.
 *
 * `saved` says whether the idempotency layer keeps the answer for its key. Stripe keeps a result once
 * the endpoint has begun to execute (a decline, a PaymentIntent in the wrong state, a refund larger than
 * what is left), and nothing when the request failed before that (authentication, malformed or missing
 * parameters, an object that does not exist): a retry of those with the same key runs again.
 */

/** The body of a Stripe error, as `{"error": …}` carries it. */
export interface StripeErrorBody {
  type: "invalid_request_error" | "idempotency_error" | "card_error" | "api_error";
  code?: string;
  message: string;
  param?: string;
  decline_code?: string;
  doc_url?: string;
  charge?: string;
  payment_intent?: unknown;
  payment_method?: unknown;
}

/** A request Stripe refuses: thrown by the handlers, answered by the server. */
export class StripeFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    /** Whether a repeat of the request's Idempotency-Key answers this again (see the file header). */
    readonly saved = false,
  ) {
    super(body.message);
    this.name = "StripeFailure";
  }
}

/** Stripe's error-code documentation page, as its errors link it. */
export function docUrl(code: string): string {
  return `https://stripe.com/docs/error-codes/${code.replaceAll("_", "-")}`;
}

/** 400 invalid_request_error, before the endpoint runs (not kept for the Idempotency-Key). */
export function invalidRequest(message: string, opts: { code?: string; param?: string; status?: number } = {}): StripeFailure {
  const body: StripeErrorBody = { type: "invalid_request_error", message };
  if (opts.code) Object.assign(body, { code: opts.code, doc_url: docUrl(opts.code) });
  if (opts.param) body.param = opts.param;
  return new StripeFailure(opts.status ?? 400, body);
}

/** 400 invalid_request_error decided by the endpoint itself (kept for the Idempotency-Key). */
export function refused(message: string, code: string, extra: Partial<StripeErrorBody> = {}): StripeFailure {
  return new StripeFailure(400, { type: "invalid_request_error", code, doc_url: docUrl(code), message, ...extra }, true);
}

/** `Missing required param: <name>.` */
export function missingParam(param: string): StripeFailure {
  return invalidRequest(`Missing required param: ${param}.`, { code: "parameter_missing", param });
}

/**
 * resource_missing, `No such <what>: '<id>'`: 404 for the object the URL names (Stripe's param is then
 * `intent` for a PaymentIntent, `id` otherwise), 400 for an object a parameter names.
 */
export function noSuch(what: string, id: string, param: string, status: 400 | 404 = 400): StripeFailure {
  return invalidRequest(`No such ${what}: '${id}'`, { code: "resource_missing", param, status });
}
