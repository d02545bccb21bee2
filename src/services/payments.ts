import type Stripe from "stripe";
import { ApiError } from "../errors";
import { errorFields, log } from "../observability/logging";

/**
 * What the API asks of Stripe, and how it keeps every request safe to repeat: each call carries a
 * Stripe Idempotency-Key derived from the order, so however often a checkout is retried or raced, a
 * webhook redelivered or a cron run repeated, Stripe makes one PaymentIntent and one refund per
 * order (a repeat answers the first object again). The keys name the environment too, in case two
 * environments share one Stripe account: their order ids overlap.
 */

/**
 * Stripe's own limits on a card payment in USD: at least 0.50, at most 999,999.99. A checkout whose
 * total is outside them is refused before any stock is taken (409 `amount_out_of_range`), since
 * Stripe would refuse its PaymentIntent anyway.
 */
export const MIN_PAYMENT_AMOUNT = "0.50";
export const MAX_PAYMENT_AMOUNT = "999999.99";

/** A money string ("59.97") in cents (5997), without a float in between. */
export function toCents(amount: string): number {
  const match = /^(\d+)\.(\d{2})$/.exec(amount);
  if (!match) throw new Error(`not a money amount: ${amount}`);
  return Number(match[1]) * 100 + Number(match[2]);
}

/** The Stripe Idempotency-Key of an order's one PaymentIntent, or of its one refund. */
export function stripeKey(environment: string, orderId: number, what: "payment_intent" | "refund"): string {
  return `tenpo:${environment}:order:${orderId}:${what}`;
}

/** The PaymentIntent of a checkout order: the same one however often it is asked for. */
export async function paymentIntentFor(
  stripe: Stripe,
  environment: string,
  order: { id: number; total_amount: string },
): Promise<{ id: string; client_secret: string }> {
  const intent = await stripe.paymentIntents.create(
    {
      amount: toCents(order.total_amount),
      currency: "usd",
      // The webhook finds the order by the PaymentIntent's id; the order id is for people reading Stripe's dashboard.
      metadata: { order_id: String(order.id) },
      description: `Tenpo order #${order.id}`,
    },
    { idempotencyKey: stripeKey(environment, order.id, "payment_intent") },
  );
  if (!intent.client_secret) throw new Error(`PaymentIntent ${intent.id} came without a client_secret`);
  return { id: intent.id, client_secret: intent.client_secret };
}

/** Refunds an order's payment in full: one refund however often it is asked for. Returns the refund's id. */
export async function refundFor(stripe: Stripe, environment: string, order: { id: number; payment_intent_id: string }): Promise<string> {
  const refund = await stripe.refunds.create(
    { payment_intent: order.payment_intent_id, metadata: { order_id: String(order.id) } },
    { idempotencyKey: stripeKey(environment, order.id, "refund") },
  );
  return refund.id;
}

/**
 * The PaymentIntent of an order cancelled before it was paid, cancelled at Stripe too, so that the
 * customer can no longer pay it. Best effort, never throws: should it fail and the customer pay
 * anyway, the payment meets a cancelled order and is refunded (payment-events.ts).
 */
export async function cancelPaymentIntent(stripe: Stripe | Promise<Stripe>, paymentIntentId: string, orderId: number): Promise<void> {
  try {
    await (await stripe).paymentIntents.cancel(paymentIntentId);
  } catch (err) {
    log("warn", "the PaymentIntent of a cancelled order could not be cancelled", { order_id: orderId, ...errorFields(err) });
  }
}

/** How long a client should wait before retrying a request that Stripe could not serve. */
const PAYMENT_RETRY_AFTER_SECONDS = 5;

/** The answer when Stripe did not serve a request (down, slow, or refusing our key): 503, retry later. */
export function paymentUnavailable(message: string): ApiError {
  return new ApiError(503, "payment_unavailable", message, undefined, { "Retry-After": String(PAYMENT_RETRY_AFTER_SECONDS) });
}
