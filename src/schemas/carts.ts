import { z } from "@hono/zod-openapi";
import { parseIfMatch, type IfMatch } from "../lib/entity-tags";
import { MAX_ID, MoneySchema, TimestampSchema, integerText } from "./common";
import { MAX_LINE_QUANTITY } from "./orders";

/** Carts as the API reads and writes them (docs/api.md "Carts"), and the numbers that bound them. */

/**
 * A cart lives this long after its last change: every change moves `expires_at` to its new
 * `updated_at` plus this, and from `expires_at` on the cart is gone (404), whatever its status column
 * still says. A week covers a shopper who comes back to a cart days later without keeping abandoned
 * guest carts, which anyone may make, for ever.
 */
export const CART_LIFETIME_DAYS = 7;

/** The most lines one cart holds; a PUT of a 51st product, or a claim that would merge into more, is 409 cart_full. */
export const MAX_CART_LINES = 50;

/** A line's quantity: 1..1000, the bound of an order line, so that every cart can be checked out as it is. */
export const MAX_CART_LINE_QUANTITY = MAX_LINE_QUANTITY;

/** Random bytes in a cart id: 144 bits, written as CART_ID_LENGTH base64url characters (src/lib/random-id.ts). */
export const CART_ID_BYTES = 18;
export const CART_ID_LENGTH = 24;
const CART_ID = /^[A-Za-z0-9_-]{24}$/;

/** Whether `id` is written as the API writes cart ids (it may still name no cart). */
export const isCartIdText = (id: string): boolean => CART_ID.test(id);

const CART_ID_EXAMPLE = "q3Zt0bX9sVfK1mW7cH2pLd8R";

/**
 * A cart id in a path. A malformed id (another length, a character outside base64url) is answered
 * 404 not_found like a well-formed id that names no cart, not 400: the id is a key, the only one a
 * guest cart has, and a key either opens a cart or it does not. A 400 would give a caller one more
 * answer to tell ids apart by, and clients one more case to handle, for no gain: no client can
 * correct a key it was given by fixing its syntax. So it parses to null, "names no cart", and the
 * request goes on: the caller's token is still checked (401 comes before 404), and nothing of it
 * ever reaches SQL (a path may hold any character, U+0000 included, which Postgres cannot take).
 */
const cartId = z
  .string()
  .transform((id): string | null => (isCartIdText(id) ? id : null))
  .openapi({
    param: { name: "id", in: "path" },
    type: "string",
    pattern: CART_ID.source,
    description: "The cart's id. An id of any other form names no cart: 404, like an unknown one.",
    example: CART_ID_EXAMPLE,
  });

/** The id of a cart, as the routes hand it to the services: null for a malformed id, which names no cart. */
export type CartKey = string | null;

export const CartIdParamSchema = z.object({ id: cartId });

export const CartItemParamSchema = z.object({
  id: cartId,
  product_id: integerText("product_id", 1, MAX_ID).openapi({
    param: { name: "product_id", in: "path" },
    type: "integer",
    minimum: 1,
    maximum: MAX_ID,
    example: 42,
  }),
});

/** PUT /carts/{id}/items/{product_id}: the line's new quantity (a JSON integer, like an order line's). */
export const CartItemBodySchema = z
  .object({
    quantity: z
      .number({ error: "quantity must be a JSON integer" })
      .int("quantity must be a JSON integer")
      .min(1, "quantity must be at least 1")
      .max(MAX_CART_LINE_QUANTITY, `quantity must be at most ${MAX_CART_LINE_QUANTITY}`)
      .openapi({ description: `A JSON integer, 1..${MAX_CART_LINE_QUANTITY}`, example: 2 }),
  })
  .openapi("CartItemUpdate");

/**
 * The If-Match header of a cart write (RFC 9110 13.1.1): `*`, or a list of ETags of which one must be
 * the cart's current one. Parsed here; a value that is neither is 400 (the client meant a precondition
 * and would otherwise not learn that it was never checked).
 */
export const CartWriteHeadersSchema = z.object({
  // Hono hands header names to the validator in lower case.
  "if-match": z
    .string()
    .transform((value, ctx): IfMatch => {
      const parsed = parseIfMatch(value);
      if (parsed === null) {
        ctx.addIssue({ code: "custom", message: 'If-Match must be * or a list of entity tags, such as "3"' });
        return z.NEVER;
      }
      return parsed;
    })
    .optional()
    .openapi({
      type: "string",
      description:
        "Change the cart only if it is still as last seen: its ETag from an earlier response (or several, comma-separated). " +
        "Any other current ETag → 412 precondition_failed and nothing changes; `*` matches any cart; a weak tag (`W/…`) never matches.",
      example: '"3"',
    }),
});

export const CartItemSchema = z
  .object({
    product_id: z.number().int().openapi({ example: 42 }),
    quantity: z.number().int().openapi({ example: 3 }),
    unit_price: MoneySchema.openapi({ description: "The product's price now" }),
    line_total: MoneySchema.openapi({ description: "unit_price × quantity", example: "59.97" }),
    product: z
      .object({ id: z.number().int(), name: z.string(), category: z.string() })
      .openapi({ description: "The product as it is now" }),
  })
  .openapi("CartItem");

export const CartSchema = z
  .object({
    id: z
      .string()
      .openapi({ pattern: CART_ID.source, example: CART_ID_EXAMPLE, description: "The cart's key: for a guest cart, the only one" }),
    user_id: z.number().int().nullable().openapi({ example: 7, description: "The customer's id; null for a guest cart" }),
    items: z.array(CartItemSchema).openapi({
      description: "The lines, in the order they were first added; a product that left the catalog is no longer one of them",
    }),
    item_count: z.number().int().openapi({ example: 3, description: "Σ quantity" }),
    subtotal: MoneySchema.openapi({ description: "Σ line_total", example: "59.97" }),
    currency: z.literal("USD"),
    expires_at: TimestampSchema.openapi({ description: `${CART_LIFETIME_DAYS} days after the last change; from then on the cart is gone` }),
    created_at: TimestampSchema,
    updated_at: TimestampSchema,
  })
  .openapi("Cart");

export type CartBody = z.infer<typeof CartSchema>;
