import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { ApiError } from "../errors";
import type { AuthenticatedUser } from "../lib/access-token";
import type { OrderBody } from "../schemas/orders";
import { orderEmailRows } from "./order-email-sql";
import { selectedOrder, selectOrder, visibleTo, type SelectedOrder } from "./order-reads";
import { stockBackCtes } from "./order-stock-sql";

/**
 * Cancelling an order (docs/api.md): its stock goes back exactly once, however often and
 * concurrently it is cancelled, in ONE database round trip. The answer is the order as
 * order-reads.ts renders it.
 *
 *  - `confirmed`, or `pending_payment` before its expires_at → `cancelled`, with a cancellation e-mail;
 *  - `paid` → `refunded` (the whole amount goes back through Stripe, refunds.ts), with a refund e-mail;
 *  - `cancelled` or `refunded` already → the order as it is (200), nothing changes;
 *  - `fulfilled` or `expired` → 409 `invalid_state`.
 */

export type CancelResult = {
  order: OrderBody;
  /** E-mails this cancellation wrote, to enqueue after the commit. */
  outboxIds: number[];
  /** The PaymentIntent of a `pending_payment` order this call cancelled: to cancel at Stripe too, so it cannot be paid. */
  abandonedPaymentIntent: string | null;
  /** This call made the order `refunded`: its refund is owed to Stripe now. */
  refundOwed: boolean;
};

/**
 * Cancels an order and returns it, in one round trip: a batch (one transaction) of
 *
 *  1. one statement in which stock goes back only for an order that THIS statement moves out of a
 *     stock-holding status. Concurrent cancels queue on the order row (FOR UPDATE); the later ones
 *     find it no longer cancellable (READ COMMITTED re-checks the locked row) and change nothing.
 *     Products are locked in id order, like order placement does, so the two never deadlock.
 *  2. the order as it now is (a fresh snapshot: also a cancellation another request just committed).
 *
 * A viewer whose token is not current sees no order (visibleTo), so nothing is cancelled, and gets 401.
 */
export async function cancelOrder(db: Database, viewer: AuthenticatedUser, id: number): Promise<CancelResult> {
  const cancel = db.execute<{ status: string | null; payment_intent_id: string | null; outbox_ids: number[] }>(sql`
    with target as materialized (
      select o.id, o.status, o.payment_intent_id from orders o
      where o.id = ${id} and ${visibleTo(viewer)}
        and (o.status in ('confirmed', 'paid') or (o.status = 'pending_payment' and o.expires_at > now()))
      for update of o
    ),
    changed as (
      update orders o
      set status = case when t.status = 'paid' then 'refunded' else 'cancelled' end,
        cancelled_at = now(),
        refunded_at = case when t.status = 'paid' then now() end
      from target t
      where o.id = t.id
      returning o.id, o.status
    ),
    ${stockBackCtes(sql`select id from changed`)},
    cancellation_email as (${orderEmailRows("order_cancelled", sql`select id from changed where status = 'cancelled'`)}),
    refund_email as (${orderEmailRows("order_refunded", sql`select id from changed where status = 'refunded'`)})
    select
      (select status from changed) as status,
      (select payment_intent_id from target) as payment_intent_id,
      array(select id from cancellation_email union all select id from refund_email) as outbox_ids
  `);
  const [{ rows: changed }, { rows }] = await db.batch([cancel, db.execute<SelectedOrder>(selectOrder(id, viewer))]);
  const order = selectedOrder(rows, id);
  if (order.status === "fulfilled" || order.status === "expired") {
    throw new ApiError(409, "invalid_state", `Order ${id} is ${order.status} and can no longer be cancelled`);
  }
  const result = changed[0];
  return {
    order,
    outboxIds: result?.outbox_ids ?? [],
    abandonedPaymentIntent: result?.status === "cancelled" ? (result.payment_intent_id ?? null) : null,
    refundOwed: result?.status === "refunded",
  };
}
