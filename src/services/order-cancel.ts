import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import type { OrderBody } from "../schemas/orders";
import { selectedOrder, selectOrder, visibleTo, type SelectedOrder } from "./order-reads";
import { bumpedUpdatedAt } from "./sql-fragments";
import type { AuthenticatedUser } from "../lib/access-token";

/**
 * Cancelling an order: its stock goes back exactly once, however often and concurrently it is
 * cancelled, in ONE database round trip. The answer is the order as order-reads.ts renders it.
 */

/**
 * Cancels an order and returns it, in one round trip: a batch (one transaction) of
 *
 *  1. one statement in which stock goes back only for an order that THIS statement moves from
 *     'confirmed' to 'cancelled'. Concurrent cancels queue on the order row; the later ones find it
 *     no longer 'confirmed' (READ COMMITTED re-checks the row) and return nothing. Products are
 *     locked in id order, like order placement does, so the two never deadlock.
 *  2. the order as it now is (a fresh snapshot: also a cancellation another request just committed).
 *
 * A viewer whose token is not current sees no order (visibleTo), so nothing is cancelled, and gets 401.
 */
export async function cancelOrder(db: Database, viewer: AuthenticatedUser, id: number): Promise<OrderBody> {
  const cancel = db.execute(sql`
    with cancelled as (
      update orders o set status = 'cancelled', cancelled_at = now()
      where o.id = ${id} and o.status = 'confirmed' and ${visibleTo(viewer)}
      returning o.id
    ),
    returned as materialized (
      select i.product_id, sum(i.quantity)::int as quantity
      from order_items i
      where i.order_id in (select id from cancelled)
      group by i.product_id
    ),
    locked as materialized (
      select p.id from products p
      where p.id in (select product_id from returned)
      order by p.id
      for update of p
    )
    update products p
    set stock = p.stock + r.quantity, updated_at = ${bumpedUpdatedAt(sql`p.updated_at`)}
    from returned r join locked k on k.id = r.product_id
    where p.id = r.product_id
  `);
  const [, { rows }] = await db.batch([cancel, db.execute<SelectedOrder>(selectOrder(id, viewer))]);
  return selectedOrder(rows, id);
}
