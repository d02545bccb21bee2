import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import { ApiError } from "../errors";

/**
 * Idempotency keys of order placement: a key (per user) answers with the first response it gave for
 * IDEMPOTENCY_KEY_TTL_HOURS, as long as it comes with the same request. This file owns the key's
 * life: how a request claims it, what an unclaimed key answers (the stored response, or 409 for
 * another request), and the clean-up of expired keys. The placement statement itself
 * (order-placement-sql.ts) stores the response in the claimed row, in the same transaction as the
 * order. What counts as "the same request" is the caller's to say: it passes a fingerprint.
 */

/** How long an Idempotency-Key answers with its first response. */
export const IDEMPOTENCY_KEY_TTL_HOURS = 24;

/** A key sent with an order, and the fingerprint of the request it came with. */
export type IdempotencyKeyUse = { key: string; fingerprint: string };

/** The stored first response of a key, sent again (any status it had). */
export type ReplayedOrder = { kind: "replayed"; status: number; body: unknown };

/** What the placement statement read of a key it did not claim (all null when there is no such row). */
export type StoredKey = { stored_fingerprint: string | null; stored_status: number | null; stored_response: unknown };

/**
 * The statement that claims `use.key` for this request, or finds it taken:
 * `insert into idempotency_keys … select from users … on conflict (user_id, key) do update … where
 * expired`. A racing duplicate blocks here on the unique index until the winner's transaction ends:
 * if it committed, this claims nothing; if it rolled back, this claims the key. Never a
 * check-then-insert. It claims nothing unless the token is current (an account that is gone would
 * fail the key's foreign key), and locks the account FOR KEY SHARE first, as the order statement
 * does, so a deletion waits for the order instead of deadlocking on it.
 */
export function claimKeyStatement(userId: number, tokenVersion: number, use: IdempotencyKeyUse): SQL {
  return sql`
      insert into idempotency_keys (user_id, key, fingerprint, expires_at)
      select u.id, ${use.key}, ${use.fingerprint}, now() + make_interval(hours => ${IDEMPOTENCY_KEY_TTL_HOURS})
      from users u
      where u.id = ${userId} and u.token_version = ${tokenVersion}
      for key share of u
      on conflict (user_id, key) do update
      -- An expired key is a new key: the row starts over for this request.
      set fingerprint = excluded.fingerprint, status_code = null, response = null, order_id = null,
        created_at = now(), expires_at = excluded.expires_at
      where idempotency_keys.expires_at <= now()
    `;
}

/**
 * The answer of a key this request did not claim: it already answered (or was answering, and the
 * claim waited for it). The same fingerprint gets the stored response again; another is refused with
 * 409 `idempotency_conflict`, since one key must not stand for two different orders.
 */
export function replayOf(stored: StoredKey, fingerprint: string | undefined): ReplayedOrder {
  if (stored.stored_fingerprint === null || stored.stored_status === null) {
    throw new Error("Idempotency-Key neither claimed nor stored");
  }
  if (stored.stored_fingerprint !== fingerprint) {
    throw new ApiError(
      409,
      "idempotency_conflict",
      "This Idempotency-Key was already used with a different request body; use a new key for a new order",
    );
  }
  return { kind: "replayed", status: stored.stored_status, body: stored.stored_response };
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
