import { sql, type SQL } from "drizzle-orm";
import type { EmailKind } from "../db/schema";
import { isoUtc } from "./sql-fragments";

/**
 * The SQL of an order e-mail's outbox row (email_outbox), for the statements that change an order
 * to embed, so that the e-mail is written in the same statement as the change it tells of. One
 * definition of the payload (OrderEmailPayload in email-outbox.ts) for every kind: order placement
 * builds it from the rows it has just locked (order-placement-sql.ts), every later change from the
 * order's stored rows (orderEmailRows).
 */

/** Where each field of an order e-mail's payload comes from: SQL expressions of the statement that writes it. */
export type OrderEmailSource = {
  to: SQL;
  fullName: SQL;
  orderId: SQL;
  /** numeric: written as its text ("21.00"), as the API answers it. */
  totalAmount: SQL;
  /** timestamptz: written as the API's ISO 8601 UTC text. */
  createdAt: SQL;
  /** A jsonb array of orderEmailItem objects, in the order the lines were placed. */
  items: SQL;
};

/** The payload (OrderEmailPayload) as a jsonb expression. */
export function orderEmailPayload(source: OrderEmailSource): SQL {
  return sql`jsonb_build_object(
        'to', ${source.to},
        'full_name', ${source.fullName},
        'order_id', ${source.orderId},
        'total_amount', ${source.totalAmount}::text,
        'created_at', ${isoUtc(source.createdAt)},
        'items', ${source.items}
      )`;
}

/** One line of the payload's items as a jsonb expression; the unit price (numeric) as its text. */
export function orderEmailItem(line: { productId: SQL; name: SQL; quantity: SQL; unitPrice: SQL }): SQL {
  return sql`jsonb_build_object(
            'product_id', ${line.productId}, 'name', ${line.name}, 'quantity', ${line.quantity}, 'unit_price', ${line.unitPrice}::text
          )`;
}

/**
 * An INSERT writing the `kind` e-mail of every order whose id `orderIds` selects, for a statement to
 * embed as a data-modifying CTE, e.g. (the cancellation's e-mail, written with the cancellation):
 *
 *   with cancelled as (update orders o set status = 'cancelled' … returning o.id),
 *   emails as (${orderEmailRows("order_cancelled", sql`select id from cancelled`)})
 *   select …
 *
 * Returns `id, order_id` of each row it wrote (what the queue message carries). An order that already
 * has its e-mail of that kind keeps it and returns nothing (one row per order and kind: the unique
 * index), so a repeated change never mails twice. Rows are written in order id order, so that two
 * statements writing e-mails of overlapping orders wait for each other instead of deadlocking.
 *
 * The payload is built from the order's stored rows: the recipient's current address and name, the
 * order's total and creation time, its lines in the order they were placed (order_items by id) with
 * the unit prices paid and the products' current names (soft-deleted products included), as order
 * reads show them. All the statement's parts see the database as it was when the statement began (one
 * snapshot), and this SELECT cannot see what another CTE of the same statement writes: so it reads
 * only what such a statement does not change (never the order's status, nor a product's stock), and
 * the order must exist before the statement, which is why placement does not use it.
 */
export function orderEmailRows(kind: EmailKind, orderIds: SQL): SQL {
  const items = sql`(
        select jsonb_agg(${orderEmailItem({
          productId: sql`i.product_id`,
          name: sql`p.name`,
          quantity: sql`i.quantity`,
          unitPrice: sql`i.unit_price`,
        })} order by i.id)
        from order_items i join products p on p.id = i.product_id
        where i.order_id = o.id
      )`;
  const payload = orderEmailPayload({
    to: sql`u.email`,
    fullName: sql`u.full_name`,
    orderId: sql`o.id`,
    totalAmount: sql`o.total_amount`,
    createdAt: sql`o.created_at`,
    items,
  });
  return sql`insert into email_outbox (order_id, kind, payload)
      select o.id, ${kind}::text, ${payload}
      from orders o join users u on u.id = o.user_id
      where o.id in (${orderIds})
      order by o.id
      on conflict (order_id, kind) do nothing
      returning id, order_id`;
}
