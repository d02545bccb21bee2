import { sql, type SQL } from "drizzle-orm";
import type { AuthenticatedUser } from "../lib/access-token";
import { CART_LIFETIME_DAYS, MAX_CART_LINES, MAX_CART_LINE_QUANTITY, type CartBody, type CartKey } from "../schemas/carts";
import { bumpedUpdatedAt, intArray, isoUtc } from "./sql-fragments";

/**
 * The SQL of carts (carts.ts runs it). Every write is one neon-http batch, one transaction, whose
 * first statement locks the cart row FOR UPDATE and whose next statement decides and writes inside
 * Postgres. Why a batch and not one statement: a statement reads every table as of its start, and a
 * row lock taken inside it refreshes only the locked row. A write that waited for the lock would so
 * decide on the lines as they were before the write it waited for (the 50-line cap would let two
 * racing PUTs make 51 lines). Under READ COMMITTED (Postgres' and Neon's default) each statement of
 * the batch reads afresh, so the statement after the lock sees everything the last writer committed.
 *
 * Lock order, so that no two requests ever wait for each other in a circle: the caller's users row
 * (FOR NO KEY UPDATE: creating and claiming carts only) before any cart, carts in id order. Orders
 * and foreign keys take that users row FOR KEY SHARE, which NO KEY UPDATE does not block.
 *
 * A cart's lines are its cart_items rows whose product is still in the catalog: a product deleted
 * after it was put in a cart leaves the cart's view (its lines, count, subtotal and the 50-line cap)
 * and cannot be bought from it (`LIVE_LINES`, for the checkout to use as well).
 */

/** Who sends a cart request: a token's user, or nobody (a guest). */
export type CartCaller = AuthenticatedUser | undefined;

/** A cart read: whether the caller's token is current, and the cart when the caller may see it (else nulls). */
export type CartRow = { authorized: boolean; version: number | null; body: CartBody | null };

/** A write's verdict: what it decided (`ok`, or why not), the cart's version it saw, and what the refusal needs. */
export type CartWriteRow = { outcome: string; version: number | null; available: number | null; lines: number | null };

/** `now() + 7 days`, the constant written into the statement (it never changes, so neither does the statement's text). */
const LIFETIME = sql.raw(`interval '${CART_LIFETIME_DAYS} days'`);

/** The caller may act: a guest, or a token whose account exists and is still at the token's version. */
export const callerIsCurrent = (caller: CartCaller): SQL =>
  caller ? sql`exists (select 1 from users u where u.id = ${caller.id}::int and u.token_version = ${caller.tokenVersion}::int)` : sql`true`;

/** Cart `c` is alive: open, and before its expires_at (an expired cart is gone whatever its status column says). */
const IS_ALIVE = sql`c.status = 'open' and c.expires_at > now()`;

/** Cart `c` is one the caller may use: a guest cart anyone; a customer's only its owner. */
const usableBy = (caller: CartCaller): SQL => (caller ? sql`(c.user_id is null or c.user_id = ${caller.id}::int)` : sql`c.user_id is null`);

/** Cart `c` is the cart `id` and the caller may use it now; with a token that is not current, no cart is. */
export const reachableCart = (id: CartKey, caller: CartCaller): SQL =>
  sql`c.id = ${id}::text and ${IS_ALIVE} and ${usableBy(caller)} and ${callerIsCurrent(caller)}`;

/** Cart `c` is the caller's own open cart (at most one: carts_user_open_key). */
const ownOpenCart = (caller: AuthenticatedUser): SQL => sql`c.user_id = ${caller.id}::int and ${IS_ALIVE} and ${callerIsCurrent(caller)}`;

/** The lines of a cart that count, `i` with its product `p`: those whose product is still in the catalog. */
export const LIVE_LINES = sql`cart_items i join products p on p.id = i.product_id and p.deleted_at is null`;

/**
 * Cart `c` as the API's JSON, in SQL: its lines first added first, each at the product's price now,
 * line totals and the subtotal in numeric (no float ever), numeric(15,2) wide enough for 50 lines of
 * 1,000 units at the highest price.
 */
const cartJson = sql`(
  select json_build_object(
    'id', c.id,
    'user_id', c.user_id,
    'items', coalesce(l.items, '[]'::json),
    'item_count', coalesce(l.item_count, 0),
    'subtotal', coalesce(l.subtotal, 0)::numeric(15, 2)::text,
    'currency', 'USD',
    'expires_at', ${isoUtc(sql`c.expires_at`)},
    'created_at', ${isoUtc(sql`c.created_at`)},
    'updated_at', ${isoUtc(sql`c.updated_at`)}
  )
  from (
    select
      json_agg(json_build_object(
        'product_id', i.product_id,
        'quantity', i.quantity,
        'unit_price', p.price::text,
        'line_total', (p.price * i.quantity)::numeric(15, 2)::text,
        'product', json_build_object('id', p.id, 'name', p.name, 'category', p.category)
      ) order by i.added_at, i.product_id) as items,
      sum(i.quantity)::int as item_count,
      sum(p.price * i.quantity) as subtotal
    from ${LIVE_LINES}
    where i.cart_id = c.id
  ) l
)`;

/** One row (CartRow): the cart `where` picks (a condition on `c`), rendered, when there is one. */
const readCart = (where: SQL, caller: CartCaller): SQL => sql`
  with cart as materialized (select c.* from carts c where ${where})
  select
    ${callerIsCurrent(caller)} as authorized,
    (select c.version from cart c) as version,
    (select ${cartJson} from cart c) as body
`;

/** GET /carts/{id}, and the last statement of every write on one cart: the cart as it now is. */
export const readCartStatement = (id: CartKey, caller: CartCaller): SQL => readCart(reachableCart(id, caller), caller);

/** The last statement of claiming: the caller's own open cart as it now is. */
export const readOwnCartStatement = (caller: AuthenticatedUser): SQL => readCart(ownOpenCart(caller), caller);

/** The first statement of a write on one cart: the cart row locked until the batch commits (nothing when not reachable). */
export const lockCartStatement = (id: CartKey, caller: CartCaller): SQL => sql`
  select c.id from carts c where ${reachableCart(id, caller)} for update of c
`;

/**
 * The first statement of creating and of claiming carts: the caller's users row, FOR NO KEY UPDATE.
 * It makes the two take turns per account, so that a claim moving a guest cart to the account never
 * meets a cart the account is being given at the same moment on carts_user_open_key (an error there,
 * not a conflict it could skip), and each decides on what the other committed.
 */
export const lockAccountStatement = (caller: AuthenticatedUser): SQL => sql`
  select u.id from users u where u.id = ${caller.id}::int and u.token_version = ${caller.tokenVersion}::int for no key update of u
`;

/**
 * An update (to put in a CTE) marking the account's open carts that are past expires_at `expired`
 * (when `when` holds), so that the partial unique index carts_user_open_key has room for a new open
 * cart of theirs.
 */
const expireStaleCartsOf = (userId: number, when: SQL = sql`true`): SQL => sql`
  update carts c set status = 'expired'
  where c.user_id = ${userId}::int and c.status = 'open' and c.expires_at <= now() and ${when}
  returning c.id
`;

/** The SET of every change: the version (the ETag) up by one, updated_at later, expires_at a lifetime after it. */
const CHANGED = sql`
  version = c.version + 1,
  updated_at = ${bumpedUpdatedAt(sql`c.updated_at`)},
  expires_at = ${bumpedUpdatedAt(sql`c.updated_at`)} + ${LIFETIME}
`;

/** The cart's version is one the If-Match list accepts (undefined: no condition, or `*`). */
const versionAccepted = (versions: readonly number[] | undefined): SQL =>
  versions === undefined ? sql`true` : sql`(select version from cart) = any(${intArray(versions)})`;

/** One row (CartRow, `created` added): a new guest cart, rendered. */
export const createGuestCartStatement = (id: string): SQL => sql`
  with cart as (
    insert into carts (id, expires_at) values (${id}::text, now() + ${LIFETIME})
    returning *
  )
  select true as authorized, c.version, ${cartJson} as body, true as created from cart c
`;

/**
 * The second statement of POST /carts with a token (after lockAccountStatement): one row (CartRow,
 * `created` added), the caller's open cart, or a new one (id `newId`) when they have none. An open
 * cart of theirs past expires_at is marked expired first (the new one's INSERT waits for that update:
 * its condition reads `stale`), so the unique index has room. The INSERT meets any other open cart
 * of the account on that index and then does nothing; with the account locked none can appear, so an
 * empty answer would be a bug, not a race (carts.ts throws).
 */
export const openCartStatement = (caller: AuthenticatedUser, newId: string): SQL => sql`
  with holder as materialized (
    select u.id from users u where u.id = ${caller.id}::int and u.token_version = ${caller.tokenVersion}::int
  ),
  stale as materialized (${expireStaleCartsOf(caller.id, sql`exists (select 1 from holder)`)}),
  existing as materialized (
    select c.* from carts c where c.user_id in (select id from holder) and ${IS_ALIVE}
  ),
  created as (
    insert into carts (id, user_id, expires_at)
    select ${newId}::text, h.id, now() + ${LIFETIME} from holder h
    where not exists (select 1 from existing) and (select count(*) from stale) >= 0
    on conflict (user_id) where status = 'open' do nothing
    returning *
  ),
  cart as (select * from existing union all select * from created)
  select
    exists (select 1 from holder) as authorized,
    (select c.version from cart c) as version,
    (select ${cartJson} from cart c) as body,
    exists (select 1 from created) as created
`;

/** A line to set: PUT /carts/{id}/items/{product_id}. `versions`: what If-Match accepts (undefined: anything). */
export type SetItemInput = { id: CartKey; caller: CartCaller; productId: number; quantity: number; versions?: readonly number[] };

/**
 * The second statement of PUT (after lockCartStatement), one row (CartWriteRow). It decides, in this
 * order: the token is current (else `unauthorized`), the cart is reachable (`cart_not_found`), If-Match
 * accepts its version (`precondition_failed`), the product is in the catalog (`product_not_found`),
 * its stock now covers the quantity (`insufficient_stock`, with `available`), a new line fits under
 * the cap (`cart_full`); then `ok`: the line is set (added at the end when new) and the cart changed.
 * Nothing is written unless `ok`. Stock is only checked, never taken: that is the checkout's.
 */
export const setItemStatement = ({ id, caller, productId, quantity, versions }: SetItemInput): SQL => sql`
  with cart as materialized (
    select c.id, c.version from carts c where ${reachableCart(id, caller)}
  ),
  product as materialized (
    select p.id, p.stock from products p where p.id = ${productId}::int and p.deleted_at is null
  ),
  lines as materialized (
    select count(*)::int as n, coalesce(bool_or(i.product_id = ${productId}::int), false) as has_product
    from ${LIVE_LINES}
    where i.cart_id in (select id from cart)
  ),
  verdict as materialized (
    select case
      when not ${callerIsCurrent(caller)} then 'unauthorized'
      when not exists (select 1 from cart) then 'cart_not_found'
      when not ${versionAccepted(versions)} then 'precondition_failed'
      when not exists (select 1 from product) then 'product_not_found'
      when (select stock from product) < ${quantity}::int then 'insufficient_stock'
      when not (select has_product from lines) and (select n from lines) >= ${MAX_CART_LINES}::int then 'cart_full'
      else 'ok'
    end as outcome
  ),
  line as (
    insert into cart_items (cart_id, product_id, quantity, added_at)
    select k.id, ${productId}::int, ${quantity}::int, clock_timestamp()
    from cart k, verdict v
    where v.outcome = 'ok'
    on conflict (cart_id, product_id) do update set quantity = excluded.quantity
    returning product_id
  ),
  changed as (
    update carts c set ${CHANGED}
    from verdict v
    where v.outcome = 'ok' and c.id in (select id from cart)
    returning c.id
  )
  select
    v.outcome,
    (select version from cart) as version,
    (select stock from product) as available,
    (select n from lines) as lines
  from verdict v
`;

/** A line to remove: DELETE /carts/{id}/items/{product_id}. */
export type RemoveItemInput = { id: CartKey; caller: CartCaller; productId: number; versions?: readonly number[] };

/**
 * The second statement of DELETE (after lockCartStatement), one row (CartWriteRow): `unauthorized`,
 * `cart_not_found`, `precondition_failed`, `line_not_found` (the cart has no row for the product;
 * the row of a product that left the catalog may be removed, though the cart no longer shows it),
 * or `ok`: the line removed and the cart changed.
 */
export const removeItemStatement = ({ id, caller, productId, versions }: RemoveItemInput): SQL => sql`
  with cart as materialized (
    select c.id, c.version from carts c where ${reachableCart(id, caller)}
  ),
  line as materialized (
    select i.product_id from cart_items i where i.cart_id in (select id from cart) and i.product_id = ${productId}::int
  ),
  verdict as materialized (
    select case
      when not ${callerIsCurrent(caller)} then 'unauthorized'
      when not exists (select 1 from cart) then 'cart_not_found'
      when not ${versionAccepted(versions)} then 'precondition_failed'
      when not exists (select 1 from line) then 'line_not_found'
      else 'ok'
    end as outcome
  ),
  removed as (
    delete from cart_items i
    using verdict v
    where v.outcome = 'ok' and i.cart_id in (select id from cart) and i.product_id = ${productId}::int
    returning i.product_id
  ),
  changed as (
    update carts c set ${CHANGED}
    from verdict v
    where v.outcome = 'ok' and c.id in (select id from cart)
    returning c.id
  )
  select v.outcome, (select version from cart) as version, null::int as available, null::int as lines
  from verdict v
`;

/**
 * The second statement of claiming (after lockAccountStatement): the cart being claimed and the
 * caller's own open cart, locked in id order. Reading afresh after the account lock, it finds the
 * caller's open cart exactly: only requests holding that lock create or move one.
 */
export const lockClaimedCartsStatement = (id: CartKey, caller: AuthenticatedUser): SQL => sql`
  select c.id from carts c
  where ${IS_ALIVE} and ((c.id = ${id}::text and ${usableBy(caller)}) or c.user_id = ${caller.id}::int) and ${callerIsCurrent(caller)}
  order by c.id
  for update of c
`;

/**
 * The third statement of claiming, one row (CartWriteRow, `lines`: how many lines a merge would make):
 *
 *  - `unauthorized`: the token is not current; `not_found`: cart `id` is not one the caller may use
 *    (unknown, expired, checked out, merged, another customer's);
 *  - `own`: it is the caller's already; nothing changes;
 *  - `move`: a guest cart and the caller has no open cart: it becomes theirs (an open cart of theirs
 *    past expires_at is marked expired first, so the unique index has room; the move waits for it);
 *  - `merge`: a guest cart and the caller has an open cart: the guest cart's lines go into it (the
 *    same product: quantities summed, at most 1000; the earlier added_at kept, so lines stay in the
 *    order first added to either cart), the guest cart becomes `merged`, the caller's cart changes;
 *  - `cart_full`: that merge would make more than 50 lines: nothing changes, both carts stay as they
 *    are (the customer removes lines from either and claims again).
 *
 * Stock is not checked: claiming sets no quantity of the customer's choosing; the checkout checks it.
 */
export const claimStatement = (id: CartKey, caller: AuthenticatedUser): SQL => sql`
  with guest as materialized (
    select c.id, c.user_id from carts c where ${reachableCart(id, caller)}
  ),
  mine as materialized (
    select c.id from carts c where ${ownOpenCart(caller)}
  ),
  merged_lines as materialized (
    select count(distinct i.product_id)::int as n
    from ${LIVE_LINES}
    where i.cart_id in (select id from guest union select id from mine)
  ),
  verdict as materialized (
    select case
      when not ${callerIsCurrent(caller)} then 'unauthorized'
      when not exists (select 1 from guest) then 'not_found'
      when (select user_id from guest) is not null then 'own'
      when not exists (select 1 from mine) then 'move'
      when (select n from merged_lines) > ${MAX_CART_LINES}::int then 'cart_full'
      else 'merge'
    end as outcome
  ),
  stale as materialized (${expireStaleCartsOf(caller.id, sql`(select outcome from verdict) = 'move'`)}),
  moved as (
    update carts c set user_id = ${caller.id}::int, ${CHANGED}
    where c.id in (select id from guest) and (select outcome from verdict) = 'move' and (select count(*) from stale) >= 0
    returning c.id
  ),
  merged as (
    insert into cart_items (cart_id, product_id, quantity, added_at)
    select (select id from mine), i.product_id, i.quantity, i.added_at
    from ${LIVE_LINES}
    where i.cart_id in (select id from guest) and (select outcome from verdict) = 'merge'
    on conflict (cart_id, product_id) do update
      set quantity = least(${MAX_CART_LINE_QUANTITY}::int, cart_items.quantity + excluded.quantity),
          added_at = least(cart_items.added_at, excluded.added_at)
    returning product_id
  ),
  ended as (
    update carts c set status = 'merged', ${CHANGED}
    where c.id in (select id from guest) and (select outcome from verdict) = 'merge'
    returning c.id
  ),
  grown as (
    update carts c set ${CHANGED}
    where c.id in (select id from mine) and (select outcome from verdict) = 'merge'
    returning c.id
  )
  select v.outcome, null::int as version, null::int as available, (select n from merged_lines) as lines
  from verdict v
`;
