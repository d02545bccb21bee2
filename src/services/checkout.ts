import { sql } from "drizzle-orm";
import type Stripe from "stripe";
import type { Database } from "../db/client";
import { ApiError } from "../errors";
import type { AuthenticatedUser } from "../lib/access-token";
import type { OrderBody } from "../schemas/orders";
import { claimKeyStatement, replayOf, type IdempotencyKeyUse } from "./order-idempotency";
import { lockCartStatement } from "./cart-sql";
import { placeOrderStatement, type PlaceOrderRow } from "./order-placement-sql";
import { getOrder, orderJson } from "./order-reads";
import { stockBackCtes } from "./order-stock-sql";
import { paymentIntentFor, paymentUnavailable } from "./payments";
import { TOKEN_ACCOUNT_GONE, tokenRefused } from "./tokens";

/**
 * Checkout (POST /api/v1/carts/{id}/checkout): a cart becomes a `pending_payment` order with exactly
 * one Stripe PaymentIntent.
 *
 *  1. ONE batch (one transaction): the Idempotency-Key's claim, the cart's lock, and the placement
 *     statement (order-placement-sql.ts), which takes the stock of every line or of none and checks
 *     the cart out. Racing checkouts of one cart queue on the cart's lock; the first takes it, the
 *     rest find it checked out (404), and the unique index on orders.cart_id stands behind that.
 *  2. The PaymentIntent, created with the order's own Stripe Idempotency-Key (payments.ts), so a
 *     retry, a racing replay of the same Idempotency-Key, or the SDK's own retry all get the same one.
 *  3. ONE statement records it on the order and answers the order.
 *
 * If Stripe does not serve step 2, the checkout is released (one statement: the order goes, its stock
 * comes back, the cart opens again, the Idempotency-Key is forgotten) and the answer is 503: nothing
 * was taken and the same request may simply be sent again. A Worker that dies between 1 and 3 leaves
 * an order without a PaymentIntent, which nobody can pay; it expires like any unpaid order.
 */

export type CheckoutRequest = {
  viewer: AuthenticatedUser;
  cartId: string;
  idempotency?: IdempotencyKeyUse;
  /** The deployment's ENVIRONMENT, part of every Stripe Idempotency-Key. */
  environment: string;
};

export type CheckoutResult = { replayed: boolean; status: number; body: unknown };

export async function checkout(db: Database, stripe: Stripe, request: CheckoutRequest): Promise<CheckoutResult> {
  const { viewer, cartId, idempotency } = request;
  const input = { userId: viewer.id, tokenVersion: viewer.tokenVersion, cartId, idempotency };
  const lockCart = db.execute(lockCartStatement(cartId, viewer));
  const place = db.execute<PlaceOrderRow>(placeOrderStatement(input));
  const results = idempotency
    ? await db.batch([db.execute(claimKeyStatement(viewer.id, viewer.tokenVersion, idempotency)), lockCart, place])
    : await db.batch([lockCart, place]);
  const row = results[results.length - 1]!.rows[0] as PlaceOrderRow | undefined;
  if (!row) throw new Error("the checkout statement returned no row");
  if (row.status === 401) throw tokenRefused(TOKEN_ACCOUNT_GONE);

  if (row.status === null) {
    // This Idempotency-Key answered before: its order as it is now, paid for by the same PaymentIntent.
    const replay = replayOf(row, idempotency?.fingerprint);
    if (replay.status !== 201 || row.stored_order_id === null) return { replayed: true, status: replay.status, body: replay.body };
    const order = await getOrder(db, viewer, row.stored_order_id);
    return { replayed: true, status: 201, body: await withPayment(db, stripe, request.environment, order) };
  }
  if (row.status === 201) {
    const order = row.body as OrderBody;
    try {
      return { replayed: false, status: 201, body: await withPayment(db, stripe, request.environment, order) };
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== "payment_unavailable") throw err;
      if (await releaseCheckout(db, order.id)) throw err;
      // A replay of the same Idempotency-Key recorded the PaymentIntent first: the order stands.
      return { replayed: false, status: 201, body: await getOrder(db, viewer, order.id) };
    }
  }
  const { error } = row.body as { error: { code: string; message: string; details?: unknown } };
  throw new ApiError(row.status as 404 | 409, error.code, error.message, error.details);
}

/**
 * The order with its PaymentIntent: the one it has, or a new one (made once, whoever asks) recorded
 * in one statement that answers the order. 503 `payment_unavailable` when Stripe does not answer.
 */
async function withPayment(db: Database, stripe: Stripe, environment: string, order: OrderBody): Promise<OrderBody> {
  if (order.payment !== null || order.status !== "pending_payment") return order;
  let intent: { id: string; client_secret: string };
  try {
    intent = await paymentIntentFor(stripe, environment, order);
  } catch (err) {
    throw paymentUnavailable(`The payment provider did not answer (${stripeFailure(err)}); nothing was charged. Try again shortly.`);
  }
  const { rows } = await db.execute<{ body: OrderBody }>(sql`
    update orders o set payment_intent_id = ${intent.id}, payment_client_secret = ${intent.client_secret}
    where o.id = ${order.id} and (o.payment_intent_id is null or o.payment_intent_id = ${intent.id})
    returning ${orderJson} as body
  `);
  // The order was released meanwhile (the first request's Stripe call failed): nothing stands.
  if (!rows[0]) throw paymentUnavailable("The payment provider did not answer; nothing was charged. Try again shortly.");
  return rows[0].body;
}

/**
 * Undoes a checkout whose PaymentIntent could not be made, in one statement: the order (still
 * without a PaymentIntent) is deleted with its lines, its stock goes back, its cart is open again
 * (unless its owner has opened another meanwhile: a customer has one open cart) and its
 * Idempotency-Key is forgotten. Returns false when there was nothing to undo (a PaymentIntent was
 * recorded meanwhile).
 */
async function releaseCheckout(db: Database, orderId: number): Promise<boolean> {
  const { rows } = await db.execute<{ released: number }>(sql`
    with released as materialized (
      select o.id, o.cart_id from orders o
      where o.id = ${orderId} and o.payment_intent_id is null and o.status = 'pending_payment'
      for update of o
    ),
    ${stockBackCtes(sql`select id from released`)},
    forgotten as (
      delete from idempotency_keys k where k.order_id in (select id from released) returning k.id
    ),
    reopened as (
      update carts c set status = 'open', version = c.version + 1, updated_at = now()
      where c.id in (select cart_id from released) and c.status = 'checked_out'
        and not exists (select 1 from carts mine where mine.user_id = c.user_id and mine.status = 'open')
      returning c.id
    ),
    gone as (
      delete from orders o where o.id in (select id from released) returning o.id
    )
    select count(*)::int as released from gone
  `);
  return (rows[0]?.released ?? 0) > 0;
}

/** What kind of failure a Stripe call met, for the message (the SDK's error type, never its text). */
function stripeFailure(err: unknown): string {
  if (typeof err === "object" && err !== null && "type" in err && typeof err.type === "string") return err.type;
  return err instanceof Error ? err.name : "unknown error";
}
