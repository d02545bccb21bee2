/**
 * Injected faults for tests, scoped so that parallel test files do not disturb each other: by path
 * prefix, and by the PaymentIntent a request concerns (a test faults the refunds of its own
 * PaymentIntent only, a given number of times):
 *
 *   {status?, delayMs?, path?, payment_intent?, times?}
 *   - `status` (400–599): the request is answered with it and Stripe's api_error body, after `delayMs`,
 *     without running: a failure in front of Stripe's API (a load balancer, a network), so nothing is
 *     kept for its Idempotency-Key and a retry with the same key runs normally;
 *   - `delayMs` alone (0–60000): the request runs at once, and its answer is held back that long: Stripe
 *     did the work but the answer comes late (or, past the caller's timeout, never), the case a
 *     retry with the same Idempotency-Key must survive;
 *   - `path`: a prefix of the request path (default `/v1/`: every API request);
 *   - `payment_intent`: only requests about that PaymentIntent: its id in the path
 *     (`/v1/payment_intents/pi_…/confirm`) or as the `payment_intent` parameter (`POST /v1/refunds`);
 *   - `times`: how many requests it applies to (default: until cleared).
 *
 * The newest matching fault applies first.
 */
import { HttpError } from "../local-http";

/** One injected fault (the file header says what each field does). */
export interface Fault {
  status?: number;
  delayMs?: number;
  path: string;
  payment_intent?: string;
  /** Requests left; undefined: until cleared. */
  times?: number;
}

const MAX_DELAY_MS = 60_000;

/** The faults in force, newest last. */
export class Faults {
  #faults: Fault[] = [];

  /** Adds a fault from a POST /__faults body (400 HttpError when it does not read as one). */
  add(raw: string): Fault {
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new HttpError(400, "body is not JSON");
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HttpError(400, "body must be a JSON object");
    const { status, delayMs, path, payment_intent, times, ...rest } = body as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0)
      throw new HttpError(400, `unknown field ${JSON.stringify(unknown[0])}: status, delayMs, path, payment_intent, times`);
    if (status !== undefined && !(Number.isInteger(status) && (status as number) >= 400 && (status as number) <= 599)) {
      throw new HttpError(400, '"status" must be an HTTP status from 400 to 599');
    }
    if (delayMs !== undefined && !(Number.isInteger(delayMs) && (delayMs as number) >= 0 && (delayMs as number) <= MAX_DELAY_MS)) {
      throw new HttpError(400, `"delayMs" must be an integer from 0 to ${MAX_DELAY_MS}`);
    }
    if (status === undefined && delayMs === undefined) throw new HttpError(400, 'a fault needs "status", "delayMs" or both');
    if (path !== undefined && !(typeof path === "string" && path.startsWith("/")))
      throw new HttpError(400, '"path" must be a path prefix such as "/v1/refunds"');
    if (payment_intent !== undefined && !(typeof payment_intent === "string" && /^pi_\w+$/.test(payment_intent))) {
      throw new HttpError(400, '"payment_intent" must be a PaymentIntent id (pi_…)');
    }
    if (times !== undefined && !(Number.isInteger(times) && (times as number) >= 1))
      throw new HttpError(400, '"times" must be a positive integer');
    const fault: Fault = { path: (path as string | undefined) ?? "/v1/" };
    if (status !== undefined) fault.status = status as number;
    if (delayMs !== undefined) fault.delayMs = delayMs as number;
    if (payment_intent !== undefined) fault.payment_intent = payment_intent as string;
    if (times !== undefined) fault.times = times as number;
    this.#faults.push(fault);
    return fault;
  }

  /** Clears the faults of exactly this `path` and/or `paymentIntent` (every fault when neither is given). */
  clear(scope: { path?: string; paymentIntent?: string }): void {
    this.#faults = this.#faults.filter(
      (f) =>
        !(
          (scope.path === undefined || f.path === scope.path) &&
          (scope.paymentIntent === undefined || f.payment_intent === scope.paymentIntent)
        ),
    );
  }

  /** The fault that applies to a request for `path` with the form-encoded parameters `params` (counted as used), if any. */
  take(path: string, params: string): Fault | undefined {
    // The request's payment_intent parameter ("" when none), read once and only when a fault asks.
    let paymentIntent: string | undefined;
    for (let i = this.#faults.length - 1; i >= 0; i--) {
      const fault = this.#faults[i]!;
      if (!path.startsWith(fault.path)) continue;
      if (fault.payment_intent !== undefined) {
        paymentIntent ??= new URLSearchParams(params).get("payment_intent") ?? "";
        if (paymentIntent !== fault.payment_intent && !path.split("/").includes(fault.payment_intent)) continue;
      }
      if (fault.times !== undefined && --fault.times <= 0) this.#faults.splice(i, 1);
      return { ...fault };
    }
    return undefined;
  }

  /** Copies of the faults in force (GET /__faults). */
  list(): Fault[] {
    return this.#faults.map((f) => ({ ...f }));
  }
}
