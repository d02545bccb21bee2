import { createRoute, z } from "@hono/zod-openapi";
import { ApiError } from "../errors";
import { runAfterResponse } from "../lib/run-after-response";
import { stripeClient, verifyStripeEvent } from "../lib/stripe";
import { errorFields, log } from "../observability/logging";
import { createRouter } from "../router";
import { errorJson, errorResponses } from "../schemas/common";
import { enqueueOrderEmails } from "../services/email-outbox";
import { receiveStripeEvent } from "../services/payment-events";
import { paymentUnavailable } from "../services/payments";
import { settleOwedRefund } from "../services/refunds";

/**
 * POST /api/v1/webhooks/stripe: Stripe's events about our PaymentIntents. No token: the
 * Stripe-Signature header, verified over the raw body with the endpoint secret, is the proof that
 * Stripe sent it (src/lib/stripe.ts). The body reaches this route as sent: app.ts keeps the JSON
 * body parser away from this path, since a re-serialised body would no longer match its signature.
 */
export const webhooks = createRouter();

const StripeSignatureHeadersSchema = z.object({
  "stripe-signature": z.string().optional().openapi({
    description: '`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, at most 300 s old',
    example: "t=1764620000,v1=5257a8…",
  }),
});

webhooks.openapi(
  createRoute({
    method: "post",
    path: "/stripe",
    operationId: "receiveStripeEvent",
    tags: ["Checkout"],
    summary: "Receive a Stripe event",
    description:
      "Stripe calls this with the payment's outcome. Each event id takes effect at most once, in any order: " +
      "`payment_intent.succeeded` makes a `pending_payment` order `paid` (or, when it had expired and its stock is gone, " +
      "`refunded`); other events change nothing. A redelivered event answers 200 and changes nothing.",
    security: [],
    request: { headers: StripeSignatureHeadersSchema },
    responses: {
      200: {
        description: "Received (also for a redelivered or an ignored event)",
        content: { "application/json": { schema: z.object({ received: z.literal(true) }).openapi("StripeEventReceived") } },
      },
      400: {
        description: "`invalid_signature`: missing, wrong or stale Stripe-Signature, or a body that is not an event",
        content: errorJson,
      },
      413: { description: "`payload_too_large`: the body is larger than the limit the message names", content: errorJson },
      500: errorResponses[500],
      503: {
        ...errorResponses[503],
        description:
          "`payment_unavailable`: a refund this event made owed could not reach Stripe (Stripe sends the event again), or the database did not answer",
      },
    },
  }),
  async (c) => {
    const event = await verifyStripeEvent(c.env, await c.req.text(), c.req.valid("header")["stripe-signature"]);
    if (!event)
      throw new ApiError(
        400,
        "invalid_signature",
        "The Stripe-Signature header is missing, wrong or stale, or the body is not a Stripe event",
      );
    const outcome = await receiveStripeEvent(c.get("db"), event);
    if (!outcome || outcome.orderId === null) return c.json({ received: true as const }, 200);
    runAfterResponse(enqueueOrderEmails(c.env.ORDER_EMAILS, outcome.outboxIds, outcome.orderId, c.get("requestId")), () => c.executionCtx);
    if (outcome.refundOwed) {
      try {
        await settleOwedRefund(c.get("db"), await stripeClient(c.env), c.env.ENVIRONMENT, outcome.orderId);
      } catch (err) {
        // Owed still: Stripe re-sends this event after a non-2xx answer, and the cron asks again too.
        log("warn", "stripe event: the refund it owes could not reach Stripe", {
          event_id: event.id,
          order_id: outcome.orderId,
          ...errorFields(err),
        });
        throw paymentUnavailable("The refund this event owes could not reach Stripe yet; send the event again");
      }
    }
    return c.json({ received: true as const }, 200);
  },
);
