import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { orderEmailRows } from "./order-email-sql";
import { bumpedUpdatedAt } from "./sql-fragments";

/**
 * What a verified Stripe event does to an order (docs/api.md "Checkout"). Each event takes effect at
 * most once: its id is inserted into stripe_events in the same statement as the change it makes, so
 * a redelivered copy finds it there and changes nothing, and concurrent copies queue on its primary
 * key until the first commits. Events of one order queue on the order's row lock, so they may arrive
 * in any order: only `payment_intent.succeeded` changes anything, and only from a status it expects.
 */

/** What became of an event. */
export type EventOutcome = {
  /** False: this event id took effect before (a redelivery), nothing changed now. */
  fresh: boolean;
  /** The order the event's PaymentIntent pays, when there is one. */
  orderId: number | null;
  /** The order's status after the event, as this statement left it. */
  status: string | null;
  /** Outbox rows this event wrote (the confirmation, or the refund e-mail): to enqueue after the commit. */
  outboxIds: number[];
  /** The order is refunded and its refund is still owed to Stripe: ask for it now (refunds.ts). */
  refundOwed: boolean;
};

/**
 * `payment_intent.succeeded`, in one statement. The order, locked FOR UPDATE (so the expiry cron, a
 * cancellation and copies of this event queue behind one another):
 *  - `pending_payment` (also just past its expires_at: its stock is still held) → `paid`, with its
 *    confirmation e-mail;
 *  - `expired` (its stock went back): its stock is taken again when every line is still available,
 *    all or nothing, products locked in id order → `paid`; otherwise → `refunded`, with the refund
 *    e-mail, and the refund is owed: nobody pays for goods that cannot be delivered;
 *  - `cancelled` (the customer cancelled before the payment came through) → `refunded` the same way;
 *  - anything else (already paid, fulfilled, refunded): nothing.
 */
export async function applyPaymentSucceeded(db: Database, eventId: string, paymentIntentId: string): Promise<EventOutcome> {
  const { rows } = await db.execute<EventRow>(sql`
    with intent_order as materialized (
      select id, status, refund_id from orders where payment_intent_id = ${paymentIntentId}
    ),
    event as (
      insert into stripe_events (id, type, order_id)
      values (${eventId}, 'payment_intent.succeeded', (select id from intent_order))
      on conflict (id) do nothing
      returning order_id
    ),
    target as materialized (
      select o.id, o.status from orders o
      where o.id in (select order_id from event)
      for update of o
    ),
    wanted as materialized (
      select i.product_id, sum(i.quantity)::int as quantity
      from order_items i
      where i.order_id in (select id from target where status = 'expired')
      group by i.product_id
    ),
    stocked as materialized (
      select p.id, p.stock from products p
      where p.id in (select product_id from wanted) and p.deleted_at is null
      order by p.id
      for update of p
    ),
    decision as materialized (
      select t.id, case
        when t.status = 'pending_payment' then 'paid'
        when t.status = 'expired' and not exists (
          select 1 from wanted w left join stocked s on s.id = w.product_id where s.id is null or s.stock < w.quantity
        ) then 'paid'
        when t.status in ('expired', 'cancelled') then 'refunded'
      end as outcome, t.status as before
      from target t
    ),
    -- From the stock the lock read (the latest), not p.stock: the update's own scan reads the row as
    -- of the statement's snapshot, from before the lock waited for a concurrent change.
    retaken as (
      update products p
      set stock = s.stock - w.quantity, updated_at = ${bumpedUpdatedAt(sql`p.updated_at`)}
      from wanted w join stocked s on s.id = w.product_id, decision d
      where p.id = w.product_id and d.before = 'expired' and d.outcome = 'paid'
      returning p.id
    ),
    settled as (
      update orders o
      set status = d.outcome,
        paid_at = now(),
        refunded_at = case when d.outcome = 'refunded' then now() else o.refunded_at end
      from decision d
      where o.id = d.id and d.outcome is not null
      returning o.id, o.status
    ),
    confirmation as (${orderEmailRows("order_confirmation", sql`select id from settled where status = 'paid'`)}),
    refund_email as (${orderEmailRows("order_refunded", sql`select id from settled where status = 'refunded'`)})
    select
      exists (select 1 from event) as fresh,
      coalesce((select order_id from event), (select id from intent_order)) as order_id,
      coalesce((select status from settled), (select status from target), (select status from intent_order)) as status,
      array(select id from confirmation union all select id from refund_email) as outbox_ids,
      coalesce((select status = 'refunded' from settled),
        exists (select 1 from intent_order where status = 'refunded' and refund_id is null)) as refund_owed
  `);
  return outcomeOf(rows[0]);
}

/**
 * Any other event of a PaymentIntent we made (`payment_intent.payment_failed`, …): recorded once, and
 * nothing changes. A failed payment leaves the order `pending_payment`: the customer may try another
 * card until it expires.
 */
export async function recordPaymentEvent(db: Database, eventId: string, type: string, paymentIntentId: string): Promise<EventOutcome> {
  const { rows } = await db.execute<EventRow>(sql`
    with event as (
      insert into stripe_events (id, type, order_id)
      values (${eventId}, ${type}, (select id from orders where payment_intent_id = ${paymentIntentId}))
      on conflict (id) do nothing
      returning order_id
    )
    select exists (select 1 from event) as fresh, o.id as order_id, o.status, '{}'::int[] as outbox_ids, false as refund_owed
    from (select 1) one left join orders o on o.payment_intent_id = ${paymentIntentId}
  `);
  return outcomeOf(rows[0]);
}

type EventRow = { fresh: boolean; order_id: number | null; status: string | null; outbox_ids: number[]; refund_owed: boolean };

function outcomeOf(row: EventRow | undefined): EventOutcome {
  if (!row) throw new Error("the payment event statement returned no row");
  return { fresh: row.fresh, orderId: row.order_id, status: row.status, outboxIds: row.outbox_ids, refundOwed: row.refund_owed };
}

/** Stripe events older than this are forgotten (Stripe stops re-sending an event after 3 days). */
export const STRIPE_EVENT_RETENTION_DAYS = 30;

/** Deletes processed event ids older than STRIPE_EVENT_RETENTION_DAYS (the cron), in one statement. Returns how many. */
export async function pruneStripeEvents(db: Database, limit = 10_000): Promise<number> {
  const { rowCount } = await db.execute(sql`
    delete from stripe_events
    where id in (
      select id from stripe_events
      where received_at < now() - make_interval(days => ${STRIPE_EVENT_RETENTION_DAYS})
      order by received_at
      limit ${limit}
    )
  `);
  return rowCount ?? 0;
}

/** The part of a verified Stripe event the API reads. */
export type StripeEventSummary = { id: string; type: string; data: { object: { id?: unknown; object?: unknown } } };

/**
 * A verified Stripe event, applied (at most once per event id). Events that are not about a
 * PaymentIntent are ignored (null, nothing recorded). A refund it makes owed is the caller's to ask
 * for (refunds.ts), after this has committed.
 */
export async function receiveStripeEvent(db: Database, event: StripeEventSummary): Promise<EventOutcome | null> {
  const object = event.data.object;
  if (!event.type.startsWith("payment_intent.") || object.object !== "payment_intent" || typeof object.id !== "string") return null;
  const outcome =
    event.type === "payment_intent.succeeded"
      ? await applyPaymentSucceeded(db, event.id, object.id)
      : await recordPaymentEvent(db, event.id, event.type, object.id);
  return outcome;
}
