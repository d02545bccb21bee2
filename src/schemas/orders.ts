import { z } from "@hono/zod-openapi";
import { orderStatuses } from "../db/schema";
import { MAX_ID, MoneySchema, PaginationQuerySchema, TimestampSchema, pageOf } from "./common";

/** Orders as the API reads and writes them. */

export const MAX_ORDER_LINES = 50;
export const MAX_LINE_QUANTITY = 1000;

export const OrderItemSchema = z
  .object({
    product_id: z.number().int().openapi({ example: 42 }),
    quantity: z.number().int().openapi({ example: 2 }),
    unit_price: MoneySchema.openapi({ description: "The price when the order was placed" }),
    product: z
      .object({ id: z.number().int(), name: z.string(), category: z.string() })
      .openapi({ description: "The product as it is now, also after it left the catalog" }),
  })
  .openapi("OrderItem");

/** How a checkout order is paid: its Stripe PaymentIntent, which the client confirms with Stripe.js. */
export const PaymentSchema = z
  .object({
    provider: z.literal("stripe"),
    payment_intent_id: z.string().openapi({ example: "pi_3PqL2aFk1h2TQ7ab0c1d2e3f" }),
    client_secret: z.string().openapi({ description: "For Stripe.js on the customer's device; only ever shown to the order's owner" }),
    amount: MoneySchema.openapi({ description: "= total_amount" }),
    currency: z.literal("usd"),
  })
  .openapi("Payment");

export const OrderSchema = z
  .object({
    id: z.number().int().openapi({ example: 1001 }),
    user_id: z.number().int().openapi({ example: 7 }),
    status: z.enum(orderStatuses).openapi({
      description:
        "`confirmed`: a direct order. A checkout order is `pending_payment` until Stripe reports the payment, then `paid`, " +
        "then `fulfilled`; unpaid at `expires_at` it is `expired`. `cancelled` and `refunded` are final.",
    }),
    total_amount: MoneySchema.openapi({ description: "Σ unit_price × quantity" }),
    created_at: TimestampSchema,
    items: z.array(OrderItemSchema),
    expires_at: TimestampSchema.nullable().openapi({
      description: "Checkout orders: when an unpaid order expires; null for direct orders",
    }),
    paid_at: TimestampSchema.nullable(),
    payment: PaymentSchema.nullable().openapi({ description: "Checkout orders: the PaymentIntent to confirm; null for direct orders" }),
  })
  .openapi("Order");

export type OrderBody = z.infer<typeof OrderSchema>;

export const OrderPageSchema = pageOf(OrderSchema, "OrderPage");

export const OrderListQuerySchema = PaginationQuerySchema;

/** One line as the client sends it. */
const OrderLineInputSchema = z.object({
  product_id: z
    .number({ error: "product_id must be a JSON integer" })
    .int("product_id must be a JSON integer")
    .min(1, "product_id must be at least 1")
    .max(MAX_ID, `product_id must be at most ${MAX_ID}`)
    .openapi({ description: "A JSON integer", example: 42 }),
  quantity: z
    .number({ error: "quantity must be a JSON integer" })
    .int("quantity must be a JSON integer")
    .min(1, "quantity must be at least 1")
    .max(MAX_LINE_QUANTITY, `quantity must be at most ${MAX_LINE_QUANTITY}`)
    .openapi({ description: "A JSON integer", example: 2 }),
});

export type OrderLine = z.infer<typeof OrderLineInputSchema>;

/** Lines of the same product merged into one, in the order each product first appears. */
export function mergeLines(lines: readonly OrderLine[]): OrderLine[] {
  const merged = new Map<number, number>();
  for (const line of lines) merged.set(line.product_id, (merged.get(line.product_id) ?? 0) + line.quantity);
  return [...merged].map(([product_id, quantity]) => ({ product_id, quantity }));
}

export const OrderCreateSchema = z
  .object({
    items: z
      .array(OrderLineInputSchema)
      .min(1, "an order needs at least one line")
      .max(MAX_ORDER_LINES, `an order has at most ${MAX_ORDER_LINES} lines`)
      // Duplicate product lines are merged; the merged quantity must still be in range.
      .superRefine((lines, ctx) => {
        const totals = new Map<number, number>();
        for (const line of lines) totals.set(line.product_id, (totals.get(line.product_id) ?? 0) + line.quantity);
        const reported = new Set<number>();
        lines.forEach((line, index) => {
          const total = totals.get(line.product_id)!;
          if (total > MAX_LINE_QUANTITY && !reported.has(line.product_id)) {
            reported.add(line.product_id);
            ctx.addIssue({
              code: "custom",
              path: [index, "quantity"],
              message: `product ${line.product_id} is ordered ${total} times in all; at most ${MAX_LINE_QUANTITY}`,
            });
          }
        });
      })
      .transform(mergeLines)
      .openapi({
        description: `1..${MAX_ORDER_LINES} lines; lines of the same product are merged (quantities summed, then checked against 1..${MAX_LINE_QUANTITY})`,
      }),
  })
  .openapi("OrderCreate");

export type OrderCreateInput = z.output<typeof OrderCreateSchema>;

export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;

export const OrderCreateHeadersSchema = z.object({
  // Hono hands header names to the validator in lower case.
  "idempotency-key": z
    .string()
    .min(1, "Idempotency-Key must not be empty")
    .max(IDEMPOTENCY_KEY_MAX_LENGTH, `Idempotency-Key must be at most ${IDEMPOTENCY_KEY_MAX_LENGTH} characters`)
    .regex(/^[\x20-\x7e]+$/, "Idempotency-Key must be printable ASCII")
    .optional()
    .openapi({
      description:
        "Makes retries safe: for 24 hours, the same key (per user) with the same body answers the first " +
        "response again (`Idempotent-Replayed: true`), also when requests race; with another body, 409 idempotency_conflict.",
      example: "9f1c2d3e-order-attempt-1",
    }),
});
