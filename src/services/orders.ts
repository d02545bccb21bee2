import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import { ApiError } from "../errors";
import { sha256Hex } from "../lib/sha256-hex";
import { toPage, type Page } from "../schemas/common";
import type { OrderBody, OrderLine } from "../schemas/orders";
import { TOKEN_ACCOUNT_GONE, tokenRefused, type AuthenticatedUser } from "./tokens";

/**
 * Orders: every call is ONE database round trip (a single statement, or one neon-http batch, which
 * the server runs as one transaction). No read-then-write from the Worker: stock, the order, its
 * lines, its e-mail job and its Idempotency-Key record are all decided and written inside Postgres,
 * so nothing can interleave between a check and the write that depends on it.
 *
 * The caller's token is checked in the same statement: its account must exist at the token's version
 * (users.token_version), or the answer is 401 and nothing is read or written. A token that was valid
 * when signed can so neither order for an account that is gone nor outlive a revocation.
 */

/** How long an Idempotency-Key answers with its first response. */
export const IDEMPOTENCY_KEY_TTL_HOURS = 24;

export type PlaceOrderInput = {
  userId: number;
  /** The version of the account's tokens the caller's token carries. */
  tokenVersion: number;
  /** Merged lines: one per product. */
  lines: OrderLine[];
  idempotency?: { key: string; fingerprint: string };
};

export type PlaceOrderResult =
  /** A new order (201), with the outbox row of its confirmation e-mail. */
  | { kind: "created"; status: 201; body: OrderBody; outboxId: number }
  /** The stored first response of this Idempotency-Key (any status it had). */
  | { kind: "replayed"; status: number; body: unknown };

/** The token's account exists and is still at the token's version. */
const tokenIsCurrent = (userId: number, tokenVersion: number) =>
  sql`exists (select 1 from users u where u.id = ${userId} and u.token_version = ${tokenVersion})`;

/** A timestamp column as the API's ISO 8601 UTC text with milliseconds ("2026-11-28T06:43:20.123Z"). */
const isoUtc = (column: SQL) => sql`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** A Postgres int[] parameter from validated integers. */
const intArray = (values: readonly number[]) => sql`${`{${values.join(",")}}`}::int[]`;

// Strictly later than before even within one millisecond, like the catalog's own writes.
const bumpedUpdatedAt = sql.raw(`greatest(now(), p.updated_at + interval '1 millisecond')`);

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
 * With an Idempotency-Key, `claim` is the key row that the batch's first statement inserted (its
 * status_code is still null); without a claim (the key is already answered, or the token is not
 * current) nothing is locked or written and the stored record (or 401) is returned instead.
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
      set stock = p.stock - c.quantity, updated_at = ${bumpedUpdatedAt}
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
      select o.id, 'order_confirmation', jsonb_build_object(
        'to', u.email,
        'full_name', u.full_name,
        'order_id', o.id,
        'total_amount', o.total_amount::text,
        'created_at', ${isoUtc(sql`o.created_at`)},
        'items', (
          select jsonb_agg(jsonb_build_object(
            'product_id', c.product_id, 'name', c.name, 'quantity', c.quantity, 'unit_price', c.price::text
          ) order by c.ord)
          from checked c
        )
      )
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

type PlaceOrderRow = {
  status: number | null;
  body: unknown;
  outbox_id: number | null;
  stored_fingerprint: string | null;
  stored_status: number | null;
  stored_response: unknown;
};

/**
 * Places an order in one round trip. Without an Idempotency-Key that is the statement above; with
 * one, a batch (one transaction) of two statements:
 *
 *  1. `insert into idempotency_keys … select from users … on conflict (user_id, key) do update … where
 *     expired`: claims the key, or finds it taken. A racing duplicate blocks here on the unique index
 *     until the winner's transaction ends: if it committed, this claims nothing; if it rolled back,
 *     this claims the key. Never a check-then-insert. It claims nothing unless the token is current
 *     (an account that is gone would fail the key's foreign key), and locks the account FOR KEY SHARE
 *     first, as the order statement does, so a deletion waits for the order instead of deadlocking on it.
 *  2. the order statement: with the claim it places the order and stores the response in the key
 *     row; without it, it reads the stored record, which its fresh READ COMMITTED snapshot (taken
 *     after statement 1 waited) shows in full, because the winner wrote it in the same transaction
 *     as its order.
 *
 * This relies on READ COMMITTED (Postgres' and Neon's default, which neon-http batches use): each
 * statement of the batch takes a fresh snapshot. Under REPEATABLE READ the loser would fail instead.
 */
export async function placeOrder(db: Database, input: PlaceOrderInput): Promise<PlaceOrderResult> {
  const statement = db.execute<PlaceOrderRow>(placeOrderStatement(input));
  let row: PlaceOrderRow | undefined;
  if (input.idempotency) {
    const { key, fingerprint } = input.idempotency;
    const claimKey = db.execute(sql`
      insert into idempotency_keys (user_id, key, fingerprint, expires_at)
      select u.id, ${key}, ${fingerprint}, now() + make_interval(hours => ${IDEMPOTENCY_KEY_TTL_HOURS})
      from users u
      where u.id = ${input.userId} and u.token_version = ${input.tokenVersion}
      for key share of u
      on conflict (user_id, key) do update
      -- An expired key is a new key: the row starts over for this request.
      set fingerprint = excluded.fingerprint, status_code = null, response = null, order_id = null,
        created_at = now(), expires_at = excluded.expires_at
      where idempotency_keys.expires_at <= now()
    `);
    const [, result] = await db.batch([claimKey, statement]);
    row = result.rows[0];
  } else {
    row = (await statement).rows[0];
  }
  if (!row) throw new Error("the order statement returned no row");
  if (row.status === 401) throw tokenRefused(TOKEN_ACCOUNT_GONE);

  if (row.status === null) {
    // Not claimed: this key already answered (or is answering, and we waited for it).
    if (row.stored_fingerprint === null || row.stored_status === null) {
      throw new Error("Idempotency-Key neither claimed nor stored");
    }
    if (row.stored_fingerprint !== input.idempotency?.fingerprint) {
      throw new ApiError(
        409,
        "idempotency_conflict",
        "This Idempotency-Key was already used with a different request body; use a new key for a new order",
      );
    }
    return { kind: "replayed", status: row.stored_status, body: row.stored_response };
  }
  if (row.status === 201) {
    if (row.outbox_id === null) throw new Error("an order was placed without its e-mail job");
    return { kind: "created", status: 201, body: row.body as OrderBody, outboxId: row.outbox_id };
  }
  const { error } = row.body as { error: { code: string; message: string; details?: unknown } };
  throw new ApiError(row.status as 404 | 409, error.code, error.message, error.details);
}

/**
 * SHA-256 (hex) of the canonical request: method, path and the merged lines sorted by product, so
 * the same order written in another line order or with split lines is the same request.
 */
export async function requestFingerprint(lines: readonly OrderLine[]): Promise<string> {
  const canonical = JSON.stringify({
    method: "POST",
    path: "/api/v1/orders",
    items: [...lines].sort((a, b) => a.product_id - b.product_id).map((l) => [l.product_id, l.quantity]),
  });
  return sha256Hex(canonical);
}

// ---------------------------------------------------------------------------------------------
// Reads and cancellation
// ---------------------------------------------------------------------------------------------

/**
 * An order as the API's JSON, in SQL: `o` is an orders row. Lines in the order they were placed,
 * each with the product's CURRENT id, name and category (soft-deleted products included).
 */
const orderJson = sql.raw(`json_build_object(
  'id', o.id,
  'user_id', o.user_id,
  'status', o.status,
  'total_amount', o.total_amount::text,
  'created_at', to_char(o.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'items', coalesce((
    select json_agg(json_build_object(
      'product_id', i.product_id,
      'quantity', i.quantity,
      'unit_price', i.unit_price::text,
      'product', json_build_object('id', p.id, 'name', p.name, 'category', p.category)
    ) order by i.id)
    from order_items i join products p on p.id = i.product_id
    where i.order_id = o.id
  ), '[]'::json)
)`);

/**
 * The viewer may see order `o`: their token is current, and the order is theirs or they are an admin
 * now (checked in the database, not the token).
 */
const visibleTo = (viewer: AuthenticatedUser) =>
  sql`exists (
    select 1 from users a
    where a.id = ${viewer.id} and a.token_version = ${viewer.tokenVersion} and (o.user_id = a.id or a.is_admin)
  )`;

/** Always one row: whether the viewer's token is current, and the order when they may see it (else null). */
const selectOrder = (id: number, viewer: AuthenticatedUser) => sql`
  select
    ${tokenIsCurrent(viewer.id, viewer.tokenVersion)} as authorized,
    (select ${orderJson} from orders o where o.id = ${id} and ${visibleTo(viewer)}) as body
`;

type SelectedOrder = { authorized: boolean; body: OrderBody | null };

/** The order `selectOrder` found: 401 for a token that is not current, 404 for an order the viewer may not see. */
function selectedOrder(rows: SelectedOrder[], id: number): OrderBody {
  const row = rows[0];
  if (!row?.authorized) throw tokenRefused(TOKEN_ACCOUNT_GONE);
  if (!row.body) throw ApiError.notFound(`Order ${id} not found`);
  return row.body;
}

/** One order, in one statement; someone else's is 404 unless the viewer is an admin. */
export async function getOrder(db: Database, viewer: AuthenticatedUser, id: number): Promise<OrderBody> {
  const { rows } = await db.execute<SelectedOrder>(selectOrder(id, viewer));
  return selectedOrder(rows, id);
}

/**
 * The viewer's own orders, newest first (created_at, then id, descending), with lines and products:
 * one statement whatever the page size. The page is cut first and only its orders are rendered.
 */
export async function listOrders(db: Database, viewer: AuthenticatedUser, page: number, pageSize: number): Promise<Page<OrderBody>> {
  const userId = viewer.id;
  const { rows } = await db.execute<{ authorized: boolean; total: number; items: OrderBody[] }>(sql`
    with page as materialized (
      select o.* from orders o
      where o.user_id = ${userId}
      order by o.created_at desc, o.id desc
      limit ${pageSize} offset ${(page - 1) * pageSize}
    )
    select
      ${tokenIsCurrent(userId, viewer.tokenVersion)} as authorized,
      (select count(*)::int from orders where user_id = ${userId}) as total,
      coalesce((select json_agg(${orderJson} order by o.created_at desc, o.id desc) from page o), '[]'::json) as items
  `);
  const row = rows[0]!;
  if (!row.authorized) throw tokenRefused(TOKEN_ACCOUNT_GONE);
  return toPage(row.items, row.total, page, pageSize);
}

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
    set stock = p.stock + r.quantity, updated_at = ${bumpedUpdatedAt}
    from returned r join locked k on k.id = r.product_id
    where p.id = r.product_id
  `);
  const [, { rows }] = await db.batch([cancel, db.execute<SelectedOrder>(selectOrder(id, viewer))]);
  return selectedOrder(rows, id);
}

/**
 * Deletes expired Idempotency-Key records (the cron runs it), in chunks so that no statement runs
 * long. Keys being claimed right now are locked and skipped. Returns how many went.
 */
export async function purgeExpiredIdempotencyKeys(db: Database, chunk = 5_000, maxChunks = 20): Promise<number> {
  let purged = 0;
  for (let i = 0; i < maxChunks; i++) {
    const { rowCount } = await db.execute(sql`
      delete from idempotency_keys
      where id in (
        select id from idempotency_keys where expires_at <= now() order by expires_at limit ${chunk} for update skip locked
      )
    `);
    purged += rowCount ?? 0;
    if ((rowCount ?? 0) < chunk) break;
  }
  return purged;
}
