import { sql, type SQL } from "drizzle-orm";
import { bumpedUpdatedAt } from "./sql-fragments";

/**
 * Stock going back, as part of a larger statement: the CTEs that return the stock of the orders
 * `orderIds` selects (a subquery such as sql`select id from cancelled`). Every statement that moves
 * an order out of a stock-holding status (cancel, expiry, a checkout released when Stripe failed)
 * embeds them once, in the same statement as that change, so the stock moves exactly when the
 * status does. Products are locked in id order, as order placement locks them, so the two never
 * deadlock. Its CTEs are named returned_lines, returned_locked and restocked.
 */
export function stockBackCtes(orderIds: SQL): SQL {
  return sql`returned_lines as materialized (
      select i.product_id, sum(i.quantity)::int as quantity
      from order_items i
      where i.order_id in (${orderIds})
      group by i.product_id
    ),
    returned_locked as materialized (
      select p.id, p.stock from products p
      where p.id in (select product_id from returned_lines)
      order by p.id
      for update of p
    ),
    -- From the stock the lock read (the latest), not p.stock: when the statement waited for a lock
    -- (the order's row, or these), its update's own scan may read a row older than the lock's.
    restocked as (
      update products p
      set stock = k.stock + r.quantity, updated_at = ${bumpedUpdatedAt(sql`p.updated_at`)}
      from returned_lines r join returned_locked k on k.id = r.product_id
      where p.id = r.product_id
      returning p.id
    )`;
}
