import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { stockBackCtes } from "./order-stock-sql";

/**
 * The expiry of unpaid checkout orders (the cron, every 2 minutes): every `pending_payment` order
 * past its expires_at becomes `expired` and its stock goes back, in one statement per round, so the
 * stock moves exactly when the status does. Orders locked by someone else right now (a payment being
 * applied, a cancellation) are skipped and looked at again next run; reads already show them as
 * expired (order-reads.ts). A late payment for an expired order takes the stock again if it can
 * (payment-events.ts).
 */

/** Orders expired per round, and rounds per run: bounded so that no statement or run goes on for long. */
const EXPIRE_BATCH = 500;
const EXPIRE_MAX_ROUNDS = 10;

/** Expires every unpaid order past its deadline; returns how many. */
export async function expireUnpaidOrders(db: Database): Promise<number> {
  let expired = 0;
  for (let round = 0; round < EXPIRE_MAX_ROUNDS; round++) {
    const { rows } = await db.execute<{ expired: number }>(sql`
      with due as materialized (
        select o.id from orders o
        where o.status = 'pending_payment' and o.expires_at <= now()
        order by o.id
        limit ${EXPIRE_BATCH}
        for update of o skip locked
      ),
      changed as (
        update orders o set status = 'expired' from due where o.id = due.id returning o.id
      ),
      ${stockBackCtes(sql`select id from changed`)}
      select count(*)::int as expired from changed
    `);
    const count = rows[0]?.expired ?? 0;
    expired += count;
    if (count < EXPIRE_BATCH) break;
  }
  return expired;
}
