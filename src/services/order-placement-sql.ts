import { sql, type SQL } from "drizzle-orm";
import type { OrderLine } from "../schemas/orders";
import { orderEmailItem, orderEmailPayload } from "./order-email-sql";
import type { IdempotencyKeyUse } from "./order-idempotency";
import { bumpedUpdatedAt, intArray, isoUtc } from "./sql-fragments";

/**
 * The SQL that places an order: one data-modifying statement that decides and writes everything
 * inside Postgres (stock, the order, its lines, its e-mail job, the answer of its Idempotency-Key),
 * so nothing can interleave between a check and the write that depends on it. order-placement.ts
 * runs it and reads its one row.
 */

export type PlaceOrderInput = {
  userId: number;
  /** The version of the account's tokens the caller's token carries. */
  tokenVersion: number;
  /** Merged lines: one per product. */
  lines: OrderLine[];
  idempotency?: IdempotencyKeyUse;
};

/** The statement's one row: the answer (null status: a key it did not claim) and what that key stored. */
export type PlaceOrderRow = {
  status: number | null;
  body: unknown;
  outbox_id: number | null;
  stored_fingerprint: string | null;
  stored_status: number | null;
  stored_response: unknown;
};

/**
 * The order-placing statement. One data-modifying CTE statement does everything, all or nothing:
 *
 *  - `holder`: the caller's account at the token's version, locked FOR KEY SHARE so that it cannot be
 *    deleted before the order referencing it commits (a token version bump does not wait for it). No
 *    row → 'unauthorized' (401), nothing locked or written. With an Idempotency-Key, a claim made by
 *    the batch's first statement counts too: that statement checked the same and holds the same lock.
 *  - `locked`: the order's live products, locked FOR UPDATE in id order. Concurrent orders for the
 *    same product queue up here and each then sees the stock the previous one left; everyone locks
 *    in the same order, so they never deadlock.
 *  - `verdict`: every product found and every line covered by the locked stock → 'ok'.
 *  - `taken` / `placed` / `items` / `outbox`: only when 'ok': the stock, the order (total in SQL
 *    numeric), its lines (unit prices from the locked rows) and its e-mail job. Should fewer lines
 *    be taken than ordered, the total becomes -1, orders_total_non_negative fails and the whole
 *    statement rolls back (a backstop; the locks make it unreachable). products_stock_non_negative
 *    is the backstop under that.
 *  - `result`: the response as JSON (201 order, 404 not_found, 409 insufficient_stock with
 *    available stock), built here so that an Idempotency-Key can store it in the same statement.
 *
 * With an Idempotency-Key, `claim` is the key row that the batch's first statement
 * (claimKeyStatement, order-idempotency.ts) inserted (its status_code is still null); without a
 * claim (the key is already answered, or the token is not current) nothing is locked or written and
 * the stored record (or 401) is returned instead.
 *
 * Exported so that its SQL and plan can be inspected (PgDialect#sqlToQuery, EXPLAIN).
 */
export function placeOrderStatement(input: PlaceOrderInput): SQL {
  const { userId, tokenVersion, lines, idempotency } = input;
  const authorized = idempotency
    ? sql`(exists (select 1 from claim) or exists (select 1 from holder))`
    : sql`exists (select 1 from holder)`;
  const proceed = idempotency ? sql`(${authorized} and exists (select 1 from claim))` : authorized;
  const claim = idempotency
    ? sql`claim as materialized (
        select id from idempotency_keys
        where user_id = ${userId} and key = ${idempotency.key} and status_code is null
      ),`
    : sql``;
  const recorded = idempotency
    ? sql`, recorded as (
        update idempotency_keys k
        set status_code = r.status, response = r.body, order_id = (select id from placed)
        from result r
        where k.id in (select id from claim) and r.status is not null
        returning k.id
      )`
    : sql``;
  const stored = idempotency
    ? sql`s.fingerprint as stored_fingerprint, s.status_code as stored_status, s.response as stored_response
      from result r
      left join idempotency_keys s on r.status is null and s.user_id = ${userId} and s.key = ${idempotency.key}`
    : sql`null as stored_fingerprint, null as stored_status, null as stored_response
      from result r`;

  // The confirmation's payload from the rows this statement placed and locked (the new order is
  // not in the statement's snapshot, so orderEmailRows cannot read it): the same definition.
  const confirmationPayload = orderEmailPayload({
    to: sql`u.email`,
    fullName: sql`u.full_name`,
    orderId: sql`o.id`,
    totalAmount: sql`o.total_amount`,
    createdAt: sql`o.created_at`,
    items: sql`(
          select jsonb_agg(${orderEmailItem({
            productId: sql`c.product_id`,
            name: sql`c.name`,
            quantity: sql`c.quantity`,
            unitPrice: sql`c.price`,
          })} order by c.ord)
          from checked c
        )`,
  });

  return sql`
    with lines as materialized (
      select l.product_id, l.quantity, l.ord
      from unnest(${intArray(lines.map((l) => l.product_id))}, ${intArray(lines.map((l) => l.quantity))})
        with ordinality as l(product_id, quantity, ord)
    ),
    holder as materialized (
      select u.id from users u
      where u.id = ${userId} and u.token_version = ${tokenVersion}
      for key share of u
    ),
    ${claim}
    locked as materialized (
      select p.id, p.name, p.category, p.price, p.stock
      from products p
      where p.id in (select product_id from lines) and p.deleted_at is null and ${proceed}
      order by p.id
      for update of p
    ),
    checked as materialized (
      select l.product_id, l.quantity, l.ord, k.id is not null as found, k.name, k.category, k.price, k.stock
      from lines l left join locked k on k.id = l.product_id
    ),
    verdict as materialized (
      select case
        when not ${authorized} then 'unauthorized'
        when not ${proceed} then 'replay'
        when not bool_and(found) then 'not_found'
        when bool_and(stock >= quantity) then 'ok'
        else 'insufficient_stock'
      end as outcome
      from checked
    ),
    taken as (
      update products p
      set stock = p.stock - c.quantity, updated_at = ${bumpedUpdatedAt(sql`p.updated_at`)}
      from checked c, verdict v
      where v.outcome = 'ok' and p.id = c.product_id and p.deleted_at is null and p.stock >= c.quantity
      returning p.id
    ),
    placed as (
      insert into orders (user_id, total_amount)
      select ${userId}::int, case when (select count(*) from taken) = count(*) then sum(c.price * c.quantity) else -1 end
      from checked c, verdict v
      where v.outcome = 'ok'
      having count(*) > 0
      returning id, user_id, status, total_amount, created_at
    ),
    items as (
      insert into order_items (order_id, product_id, quantity, unit_price)
      select o.id, c.product_id, c.quantity, c.price
      from placed o cross join checked c
      order by c.ord
      returning id
    ),
    outbox as (
      insert into email_outbox (order_id, kind, payload)
      select o.id, 'order_confirmation', ${confirmationPayload}
      from placed o join users u on u.id = o.user_id
      returning id
    ),
    result as materialized (
      select
        case v.outcome
          when 'ok' then 201 when 'not_found' then 404 when 'insufficient_stock' then 409 when 'unauthorized' then 401
        end as status,
        case v.outcome
          when 'ok' then (
            select json_build_object(
              'id', o.id,
              'user_id', o.user_id,
              'status', o.status,
              'total_amount', o.total_amount::text,
              'created_at', ${isoUtc(sql`o.created_at`)},
              'items', (
                select json_agg(json_build_object(
                  'product_id', c.product_id,
                  'quantity', c.quantity,
                  'unit_price', c.price::text,
                  'product', json_build_object('id', c.product_id, 'name', c.name, 'category', c.category)
                ) order by c.ord)
                from checked c
              )
            )
            from placed o
          )
          when 'not_found' then (
            select json_build_object('error', json_build_object(
              'code', 'not_found',
              'message', case when count(*) = 1
                then format('Product %s not found', min(c.product_id))
                else format('Products %s not found', string_agg(c.product_id::text, ', ' order by c.ord)) end,
              'details', json_agg(json_build_object('product_id', c.product_id) order by c.ord)
            ))
            from checked c
            where not c.found
          )
          when 'insufficient_stock' then (
            select json_build_object('error', json_build_object(
              'code', 'insufficient_stock',
              'message', case when count(*) = 1
                then format('Not enough stock for product %s', min(c.product_id))
                else format('Not enough stock for products %s', string_agg(c.product_id::text, ', ' order by c.ord)) end,
              'details', json_agg(json_build_object(
                'product_id', c.product_id, 'requested', c.quantity, 'available', c.stock
              ) order by c.ord)
            ))
            from checked c
            where c.stock < c.quantity
          )
        end as body
      from verdict v
    )
    ${recorded}
    select r.status, r.body, (select id from outbox) as outbox_id, ${stored}
  `;
}
