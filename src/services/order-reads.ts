import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import { ApiError } from "../errors";
import { toPage, type Page } from "../schemas/common";
import type { OrderBody } from "../schemas/orders";
import { isoUtc } from "./sql-fragments";
import type { AuthenticatedUser } from "../lib/access-token";
import { TOKEN_ACCOUNT_GONE, tokenRefused } from "./tokens";

/**
 * Reading orders: one order, or a page of the viewer's own, each in ONE statement that renders the
 * API's JSON in SQL and checks the viewer's token in the same statement (its account must exist at
 * the token's version, else 401). Also what cancellation (order-cancel.ts) answers with: the order
 * as the viewer may see it.
 */

/** The token's account exists and is still at the token's version. */
const tokenIsCurrent = (userId: number, tokenVersion: number): SQL =>
  sql`exists (select 1 from users u where u.id = ${userId} and u.token_version = ${tokenVersion})`;

/**
 * The status of order `o` as clients see it: an unpaid checkout order is `expired` from its
 * `expires_at` on, also before the expiry cron (every 2 minutes) has written it and returned its stock.
 */
export const effectiveStatus = sql`(case when o.status = 'pending_payment' and o.expires_at <= now() then 'expired' else o.status end)`;

/**
 * An order as the API's JSON, in SQL: `o` is an orders row. Lines in the order they were placed,
 * each with the product's CURRENT id, name and category (soft-deleted products included).
 */
export const orderJson = sql`json_build_object(
  'id', o.id,
  'user_id', o.user_id,
  'status', ${effectiveStatus},
  'total_amount', o.total_amount::text,
  'created_at', ${isoUtc(sql`o.created_at`)},
  'items', coalesce((
    select json_agg(json_build_object(
      'product_id', i.product_id,
      'quantity', i.quantity,
      'unit_price', i.unit_price::text,
      'product', json_build_object('id', p.id, 'name', p.name, 'category', p.category)
    ) order by i.id)
    from order_items i join products p on p.id = i.product_id
    where i.order_id = o.id
  ), '[]'::json),
  'expires_at', case when o.expires_at is null then null else ${isoUtc(sql`o.expires_at`)} end,
  'paid_at', case when o.paid_at is null then null else ${isoUtc(sql`o.paid_at`)} end,
  'payment', case when o.payment_intent_id is null then null else json_build_object(
    'provider', 'stripe',
    'payment_intent_id', o.payment_intent_id,
    'client_secret', o.payment_client_secret,
    'amount', o.total_amount::text,
    'currency', 'usd'
  ) end
)`;

/**
 * The viewer may see order `o`: their token is current, and the order is theirs or they are an admin
 * now (checked in the database, not the token).
 */
export const visibleTo = (viewer: AuthenticatedUser): SQL =>
  sql`exists (
    select 1 from users a
    where a.id = ${viewer.id} and a.token_version = ${viewer.tokenVersion} and (o.user_id = a.id or a.is_admin)
  )`;

/** Always one row: whether the viewer's token is current, and the order when they may see it (else null). */
export const selectOrder = (id: number, viewer: AuthenticatedUser): SQL => sql`
  select
    ${tokenIsCurrent(viewer.id, viewer.tokenVersion)} as authorized,
    (select ${orderJson} from orders o where o.id = ${id} and ${visibleTo(viewer)}) as body
`;

/** The row of `selectOrder`. */
export type SelectedOrder = { authorized: boolean; body: OrderBody | null };

/** The order `selectOrder` found: 401 for a token that is not current, 404 for an order the viewer may not see. */
export function selectedOrder(rows: SelectedOrder[], id: number): OrderBody {
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
