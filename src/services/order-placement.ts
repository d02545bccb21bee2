import type { Database } from "../db/client";
import { ApiError } from "../errors";
import type { OrderBody } from "../schemas/orders";
import { claimKeyStatement, replayOf, type ReplayedOrder } from "./order-idempotency";
import { placeOrderStatement, type PlaceOrderInput, type PlaceOrderRow } from "./order-placement-sql";
import { TOKEN_ACCOUNT_GONE, tokenRefused } from "./tokens";

/**
 * Placing an order, in ONE database round trip: the placement statement (order-placement-sql.ts)
 * alone, or with an Idempotency-Key one neon-http batch, which the server runs as one transaction.
 * No read-then-write from the Worker: everything is decided and written inside Postgres.
 *
 * The caller's token is checked in the same statement: its account must exist at the token's version
 * (users.token_version), or the answer is 401 and nothing is read or written. A token that was valid
 * when signed can so neither order for an account that is gone nor outlive a revocation.
 */

export type { PlaceOrderInput };

export type PlaceOrderResult =
  /** A new order (201), with the outbox row of its confirmation e-mail. */
  | { kind: "created"; status: 201; body: OrderBody; outboxId: number }
  /** The stored first response of this Idempotency-Key (any status it had). */
  | ReplayedOrder;

/**
 * Places an order in one round trip. Without an Idempotency-Key that is the placement statement;
 * with one, a batch (one transaction) of two statements:
 *
 *  1. claimKeyStatement (order-idempotency.ts): claims the key, or finds it taken, waiting for a
 *     racing duplicate's transaction to end first.
 *  2. the placement statement: with the claim it places the order and stores the response in the key
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
    const claimKey = db.execute(claimKeyStatement(input.userId, input.tokenVersion, input.idempotency));
    const [, result] = await db.batch([claimKey, statement]);
    row = result.rows[0];
  } else {
    row = (await statement).rows[0];
  }
  if (!row) throw new Error("the order statement returned no row");
  if (row.status === 401) throw tokenRefused(TOKEN_ACCOUNT_GONE);

  // Not claimed: this key already answered (or is answering, and we waited for it).
  if (row.status === null) return replayOf(row, input.idempotency?.fingerprint);
  if (row.status === 201) {
    if (row.outbox_id === null) throw new Error("an order was placed without its e-mail job");
    return { kind: "created", status: 201, body: row.body as OrderBody, outboxId: row.outbox_id };
  }
  const { error } = row.body as { error: { code: string; message: string; details?: unknown } };
  throw new ApiError(row.status as 404 | 409, error.code, error.message, error.details);
}
