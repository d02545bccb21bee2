import { sql } from "drizzle-orm";
import type Stripe from "stripe";
import type { Database } from "../db/client";
import { errorFields, log } from "../observability/logging";
import { refundFor } from "./payments";

/**
 * Refunds the API owes: an order becomes `refunded` in the statement that decides it (a paid order
 * cancelled, a late payment for stock that is gone), and the money goes back through Stripe right
 * after that commits. Should Stripe not answer then, the refund stays owed (refund_id null) and is
 * asked for again, with the same Stripe Idempotency-Key, by the next webhook delivery and by the
 * cron, until Stripe has it: one refund per order, whoever asks and however often.
 */

/** At most this many owed refunds per cron run: each is a Stripe call, and a run should stay short. */
const REFUNDS_PER_RUN = 50;

/**
 * Asks Stripe for the refund of order `orderId` if it is still owed, and records it. Returns the
 * refund's id, or null when none was owed. Throws when Stripe does not answer (it stays owed).
 */
export async function settleOwedRefund(db: Database, stripe: Stripe, environment: string, orderId: number): Promise<string | null> {
  const { rows } = await db.execute<{ payment_intent_id: string }>(sql`
    select payment_intent_id from orders
    where id = ${orderId} and status = 'refunded' and payment_intent_id is not null and refund_id is null
  `);
  const owed = rows[0];
  if (!owed) return null;
  const refundId = await refundFor(stripe, environment, { id: orderId, payment_intent_id: owed.payment_intent_id });
  await db.execute(sql`update orders set refund_id = ${refundId} where id = ${orderId} and refund_id is null`);
  return refundId;
}

/**
 * settleOwedRefund, and a warning instead of a throw when Stripe (or the client for it, which may still
 * be loading) does not answer: the refund stays owed for the cron. What runs after a response, and
 * each step of the cron's pass.
 */
export async function settleOwedRefundOrWarn(
  db: Database,
  stripe: Stripe | Promise<Stripe>,
  environment: string,
  orderId: number,
): Promise<"refunded" | "not_owed" | "failed"> {
  try {
    return (await settleOwedRefund(db, await stripe, environment, orderId)) ? "refunded" : "not_owed";
  } catch (err) {
    log("warn", "refund still owed: Stripe did not answer", { order_id: orderId, ...errorFields(err) });
    return "failed";
  }
}

/** The cron's pass over owed refunds: asks for each (oldest first); one failing does not stop the rest. */
export async function retryOwedRefunds(db: Database, stripe: Stripe, environment: string): Promise<{ refunded: number; failed: number }> {
  const { rows } = await db.execute<{ id: number }>(sql`
    select id from orders
    where status = 'refunded' and payment_intent_id is not null and refund_id is null
    order by id
    limit ${REFUNDS_PER_RUN}
  `);
  let refunded = 0;
  let failed = 0;
  for (const { id } of rows) {
    const outcome = await settleOwedRefundOrWarn(db, stripe, environment, id);
    if (outcome === "refunded") refunded += 1;
    if (outcome === "failed") failed += 1;
  }
  return { refunded, failed };
}
