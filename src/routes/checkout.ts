import { createRoute } from "@hono/zod-openapi";
import { ApiError } from "../errors";
import { stripeClient } from "../lib/stripe";
import { requireUser } from "../middleware/auth";
import { createRouter } from "../router";
import { CartIdParamSchema } from "../schemas/carts";
import { bodyErrorResponses, errorResponses } from "../schemas/common";
import { OrderCreateHeadersSchema, OrderSchema, type OrderBody } from "../schemas/orders";
import { checkout as checkoutCart } from "../services/checkout";
import { checkoutFingerprint } from "./order-fingerprint";

/** POST /api/v1/carts/{id}/checkout: a cart becomes an order waiting for its Stripe payment. */
export const checkout = createRouter();

checkout.openapi(
  createRoute({
    method: "post",
    path: "/{id}/checkout",
    operationId: "checkoutCart",
    tags: ["Checkout"],
    summary: "Check out a cart",
    description:
      "Takes the stock of every line or of none, fixes the unit prices, checks the cart out and answers a " +
      "`pending_payment` order with its Stripe PaymentIntent (`payment.client_secret`, for Stripe.js). The order " +
      "expires unpaid after 15 minutes (`expires_at`) and its stock goes back. Exactly one PaymentIntent exists per " +
      "order however often this is retried or raced; with an `Idempotency-Key` a retry answers the same order.",
    security: [{ bearerAuth: [] }],
    middleware: [requireUser] as const,
    request: { params: CartIdParamSchema, headers: OrderCreateHeadersSchema },
    responses: {
      201: {
        description: "The order, waiting for its payment (or, for a replayed Idempotency-Key, that order as it is now)",
        headers: {
          Location: { description: "The order's URL", required: true, schema: { type: "string" } },
          "Idempotent-Replayed": { description: "`true` when this answers an earlier request", schema: { type: "string", enum: ["true"] } },
        },
        content: { "application/json": { schema: OrderSchema } },
      },
      400: bodyErrorResponses[400],
      401: errorResponses[401],
      404: {
        ...errorResponses[404],
        description: "`not_found`: no such open cart for this caller (unknown, expired, checked out, someone else's)",
      },
      409: {
        ...errorResponses[409],
        description:
          "`insufficient_stock` (details: `[{product_id, requested, available}]`; nothing is taken, the cart stays open), " +
          "`cart_empty`, `amount_out_of_range` (Stripe takes 0.50 to 999,999.99 USD per payment), " +
          "or `idempotency_conflict`: the Idempotency-Key was used for another request",
      },
      413: bodyErrorResponses[413],
      500: errorResponses[500],
      503: {
        ...errorResponses[503],
        description:
          "`payment_unavailable`: Stripe did not answer; nothing was taken and the cart is open again, so the same request " +
          "may be sent again (after Retry-After). Or `service_unavailable`: the database did not answer.",
      },
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    // A malformed id names no cart (src/schemas/carts.ts).
    if (id === null) throw ApiError.notFound("Cart not found");
    const key = c.req.valid("header")["idempotency-key"];
    const idempotency = key === undefined ? undefined : { key, fingerprint: await checkoutFingerprint(id) };
    const result = await checkoutCart(c.get("db"), await stripeClient(c.env), {
      viewer: c.var.user,
      cartId: id,
      idempotency,
      environment: c.env.ENVIRONMENT,
    });
    if (result.replayed) c.header("Idempotent-Replayed", "true");
    if (result.status === 201) {
      const order = result.body as OrderBody;
      c.header("Location", `/api/v1/orders/${order.id}`);
      return c.json(order, 201);
    }
    return c.json(result.body as { error: { code: string; message: string } }, result.status as 404 | 409);
  },
);
