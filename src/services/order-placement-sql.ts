import { sql, type SQL } from "drizzle-orm";
import type { OrderLine } from "../schemas/orders";
import type { IdempotencyKeyUse } from "./order-idempotency";
import { LIVE_LINES, reachableCart } from "./cart-sql";
import { orderEmailItem, orderEmailPayload } from "./order-email-sql";
import { MAX_PAYMENT_AMOUNT, MIN_PAYMENT_AMOUNT } from "./payments";
import { bumpedUpdatedAt, intArray, isoUtc } from "./sql-fragments";

/**
 * The SQL that places an order: one data-modifying statement that decides and writes everything
 * inside Postgres (stock, the order, its lines, its e-mail job or its cart, the answer of its
 * Idempotency-Key), so nothing can interleave between a check and the write that depends on it.
 * order-placement.ts and checkout.ts run it and read its one row.
 */

/** How long a checkout order waits for its payment before it expires and its stock goes back (docs/api.md). */
export const PAYMENT_WINDOW_MINUTES = 15;

type Placer = {
  userId: number;
  /** The version of the account's tokens the caller's token carries. */
  tokenVersion: number;
  idempotency?: IdempotencyKeyUse;
};

/**
 * A direct order (POST /api/v1/orders): the request's lines; the order is `confirmed` at once and its
 * confirmation e-mail is written with it.
 */
export type PlaceOrderInput = Placer & {
  /** Merged lines: one per product. */
  lines: OrderLine[];
};

/**
 * A checkout (POST /api/v1/carts/{id}/checkout): the cart's lines; the order is `pending_payment`
 * for PAYMENT_WINDOW_MINUTES, its confirmation waits for the payment, and the cart is checked out.
 */
export type CheckoutInput = Placer & { cartId: string };

/** The statement's one row: the answer (null status: a key it did not claim) and what that key stored. */
export type PlaceOrderRow = {
  status: number | null;
  body: unknown;
  outbox_id: number | null;
  stored_fingerprint: string | null;
  stored_status: number | null;
  stored_response: unknown;
  stored_order_id: number | null;
};

/**
 * The order-placing statement. One data-modifying CTE statement does everything, all or nothing:
 *
 *  - `holder`: the caller's account at the token's version, locked FOR KEY SHARE so that it cannot be
 *    deleted before the order referencing it commits (a token version bump does not wait for it). No
 *    row → 'unauthorized' (401), nothing locked or written. With an Idempotency-Key, a claim made by
 *    the batch's first statement counts too: that statement checked the same and holds the same lock.
 *  - `cart` (checkout): the caller's open, unexpired cart, or a guest cart; none → 404. `lines` are
 *    the request's (direct) or the cart's, in the order they were added; an empty cart → 409 cart_empty.
 *  - `locked`: the order's live products, locked FOR UPDATE in id order. Concurrent orders for the
 *    same product queue up here and each then sees the stock the previous one left; everyone locks
 *    in the same order, so they never deadlock.
 *  - `verdict`: every product found and every line covered by the locked stock → 'ok'.
 *  - `taken` / `placed` / `items` / `outbox` / `checked_out`: only when 'ok': the stock, the order
 *    (total in SQL numeric), its lines (unit prices from the locked rows), and its e-mail job (direct)
 *    or its cart's end (checkout). Should fewer lines be taken than ordered, the total becomes -1,
 *    orders_total_non_negative fails and the whole statement rolls back (a backstop; the locks make it
 *    unreachable). products_stock_non_negative is the backstop under that.
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
export function placeOrderStatement(input: PlaceOrderInput | CheckoutInput): SQL {
  const { userId, tokenVersion, idempotency } = input;
  const cartId = "cartId" in input ? input.cartId : null;
  const directLines = "lines" in input ? input.lines : [];
  const checkout = cartId !== null;
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
    ? sql`s.fingerprint as stored_fingerprint, s.status_code as stored_status, s.response as stored_response,
        s.order_id as stored_order_id
      from result r
      left join idempotency_keys s on r.status is null and s.user_id = ${userId} and s.key = ${idempotency.key}`
    : sql`null as stored_fingerprint, null as stored_status, null as stored_response, null::int as stored_order_id
      from result r`;
  const lines = checkout
    ? sql`cart as materialized (
          select c.id from carts c
          where ${reachableCart(cartId, { id: userId, tokenVersion, isAdmin: false })} and ${proceed}
        ),
        lines as materialized (
          select i.product_id, i.quantity, row_number() over (order by i.added_at, i.product_id) as ord
          from ${LIVE_LINES}
          where i.cart_id in (select id from cart)
        )`
    : sql`lines as materialized (
          select l.product_id, l.quantity, l.ord
          from unnest(${intArray(directLines.map((l) => l.product_id))}, ${intArray(directLines.map((l) => l.quantity))})
            with ordinality as l(product_id, quantity, ord)
        )`;
  const cartVerdict = checkout
    ? sql`when not exists (select 1 from cart) then 'cart_not_found'
        when count(*) = 0 then 'cart_empty'`
    : sql``;
  // Stripe's limits on one payment: outside them no PaymentIntent could be made, so nothing is taken.
  const amountVerdict = checkout
    ? sql`when sum(price * quantity) < ${MIN_PAYMENT_AMOUNT}::numeric or sum(price * quantity) > ${MAX_PAYMENT_AMOUNT}::numeric
        then 'amount_out_of_range'`
    : sql``;
  const orderColumns = checkout ? sql`(user_id, total_amount, status, cart_id, expires_at)` : sql`(user_id, total_amount)`;
  const orderValues = checkout
    ? sql`, 'pending_payment', ${cartId}::text, now() + make_interval(mins => ${PAYMENT_WINDOW_MINUTES})`
    : sql``;
  const afterPlacement = checkout
    ? sql`checked_out as (
        update carts c set status = 'checked_out', version = c.version + 1, updated_at = now()
        where c.id in (select id from cart) and exists (select 1 from placed)
        returning c.id
      ),`
    : sql`${outboxOfPlacedOrder},`;
  const outboxId = checkout ? sql`null::int` : sql`(select id from outbox)`;
  const cartErrors = checkout
    ? sql`when 'cart_not_found' then json_build_object('error', json_build_object(
            'code', 'not_found', 'message', format('Cart %s not found', ${cartId}::text)
          ))
          when 'amount_out_of_range' then json_build_object('error', json_build_object(
            'code', 'amount_out_of_range',
            'message', format('A card payment is %s to %s USD; this cart comes to %s',
              ${MIN_PAYMENT_AMOUNT}::text, ${MAX_PAYMENT_AMOUNT}::text, (select sum(c.price * c.quantity) from checked c)::text)
          ))
          when 'cart_empty' then json_build_object('error', json_build_object(
            'code', 'cart_empty', 'message', 'The cart is empty: add a product before checking out'
          ))`
    : sql``;

  return sql`
    with holder as materialized (
      select u.id from users u
      where u.id = ${userId} and u.token_version = ${tokenVersion}
      for key share of u
    ),
    ${claim}
    ${lines},
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
        ${cartVerdict}
        when not bool_and(found) then 'not_found'
        ${amountVerdict}
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
      insert into orders ${orderColumns}
      select ${userId}::int, case when (select count(*) from taken) = count(*) then sum(c.price * c.quantity) else -1 end ${orderValues}
      from checked c, verdict v
      where v.outcome = 'ok'
      having count(*) > 0
      returning id, user_id, status, total_amount, created_at, expires_at
    ),
    items as (
      insert into order_items (order_id, product_id, quantity, unit_price)
      select o.id, c.product_id, c.quantity, c.price
      from placed o cross join checked c
      order by c.ord
      returning id
    ),
    ${afterPlacement}
    result as materialized (
      select
        case v.outcome
          when 'ok' then 201 when 'not_found' then 404 when 'cart_not_found' then 404
          when 'insufficient_stock' then 409 when 'cart_empty' then 409 when 'amount_out_of_range' then 409 when 'unauthorized' then 401
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
              ),
              'expires_at', case when o.expires_at is null then null else ${isoUtc(sql`o.expires_at`)} end,
              'paid_at', null,
              'payment', null
            )
            from placed o
          )
          ${cartErrors}
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
    select r.status, r.body, ${outboxId} as outbox_id, ${stored}
  `;
}

/**
 * The confirmation e-mail's outbox row of a direct order, written with it: what it says, as of the
 * order. Its payload comes from the rows this statement placed and locked (the new order is not in the
 * statement's snapshot, so orderEmailRows cannot read it), through the builder every order e-mail uses.
 */
const outboxOfPlacedOrder = sql`outbox as (
      insert into email_outbox (order_id, kind, payload)
      select o.id, 'order_confirmation', ${orderEmailPayload({
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
      })}
      from placed o join users u on u.id = o.user_id
      returning id
    )`;
