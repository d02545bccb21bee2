import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { ApiError } from "../errors";
import type { AuthenticatedUser } from "../lib/access-token";
import type { OrderBody } from "../schemas/orders";
import { selectedOrder, selectOrder, type SelectedOrder } from "./order-reads";

/**
 * Marks a paid order `fulfilled` (an admin's call: the goods have left), in one round trip: a batch
 * of the conditional update and the order as it now is. Only `paid` can be fulfilled; any other
 * status, including `fulfilled` itself, is 409 `invalid_state` (docs/api.md).
 */
export async function fulfilOrder(db: Database, admin: AuthenticatedUser, id: number): Promise<OrderBody> {
  const fulfil = db.execute<{ id: number }>(sql`
    update orders set status = 'fulfilled', fulfilled_at = now()
    where id = ${id} and status = 'paid'
    returning id
  `);
  const [{ rows: changed }, { rows }] = await db.batch([fulfil, db.execute<SelectedOrder>(selectOrder(id, admin))]);
  const order = selectedOrder(rows, id);
  if (changed.length === 0) {
    throw new ApiError(409, "invalid_state", `Order ${id} is ${order.status}; only a paid order can be fulfilled`);
  }
  return order;
}
