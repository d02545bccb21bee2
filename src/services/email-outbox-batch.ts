import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { CLAIM_LEASE_SECONDS, type OrderEmailPayload } from "./email-outbox";

/**
 * What the queue consumer does to the outbox, a whole batch of messages at a time: ONE statement
 * claims every row of the batch, ONE statement records every send's outcome. So a batch of n
 * e-mails costs two round trips, not 2n, and an order with its e-mail stays under two in all.
 *
 * Both statements lock the rows they change in id order (as order placement locks products), so two
 * consumers with overlapping batches (a duplicate delivery, a cron re-send) queue up instead of
 * deadlocking. Neither statement can be failed by one message's data: ids are checked before they
 * reach SQL and texts are made storable, so the only failure is the database's, which every message
 * of the batch would meet anyway.
 */

/** What became of one row of a batch claim. */
export type ClaimResult =
  | { state: "claimed"; payload: OrderEmailPayload; attempts: number; orderId: number }
  | { state: "sent" | "failed" | "missing" }
  /** Another consumer holds a live claim; try again after `retryInSeconds`. */
  | { state: "busy"; retryInSeconds: number };

/** How one claimed e-mail's send went; recorded for the whole batch by recordOrderEmailSends. */
export type SendOutcome =
  | { outboxId: number; sent: true; providerMessageId: string | null }
  /** `permanent`: the provider refused it, so the row is given up (failed_at). */
  | { outboxId: number; sent: false; error: string; permanent: boolean };

// email_outbox.id is an integer column: a larger id cannot name a row, and would fail the batch's cast.
const MAX_ROW_ID = 2_147_483_647;

/**
 * Claims, in one statement, every unsent row among `outboxIds` whose previous claim (if any) has run
 * out: a conditional UPDATE, so of two deliveries of the same message (at-least-once) only one gets
 * it. Returns the result per distinct id (a repeated id is claimed once); an id without a row is
 * "missing". Nothing is sent to the database for an empty list.
 */
export async function claimOrderEmails(db: Database, outboxIds: readonly number[]): Promise<Map<number, ClaimResult>> {
  const results = new Map<number, ClaimResult>();
  const ids = [...new Set(outboxIds)].filter((id) => Number.isSafeInteger(id) && id >= 1 && id <= MAX_ROW_ID);
  for (const id of outboxIds) results.set(id, { state: "missing" });
  if (ids.length === 0) return results;

  const { rows } = await db.execute<{
    id: number;
    order_id: number;
    sent: boolean;
    failed: boolean;
    busy_for: number | null;
    payload: OrderEmailPayload | null;
    attempts: number | null;
  }>(sql`
    with wanted as materialized (
      select id from unnest(${`{${ids.join(",")}}`}::int[]) as w(id)
    ),
    claimable as materialized (
      select o.id from email_outbox o
      where o.id in (select id from wanted) and o.sent_at is null and o.failed_at is null
        and (o.claimed_at is null or o.claimed_at <= now() - make_interval(secs => ${CLAIM_LEASE_SECONDS}))
      order by o.id
      for update of o
    ),
    claimed as (
      update email_outbox o
      set claimed_at = now(), attempts = o.attempts + 1
      from claimable c
      where o.id = c.id
      returning o.id, o.payload, o.attempts
    )
    select o.id, o.order_id, o.sent_at is not null as sent, o.failed_at is not null as failed,
      ceil(extract(epoch from o.claimed_at + make_interval(secs => ${CLAIM_LEASE_SECONDS}) - now()))::int as busy_for,
      c.payload, c.attempts
    from email_outbox o left join claimed c on c.id = o.id
    where o.id in (select id from wanted)
  `);
  // The outer select sees the rows as the statement began: a row claimed here shows its claim
  // through `claimed`, any other row its state before (a claim another consumer committed while
  // this one waited for the lock shows as busy for a full lease).
  for (const row of rows) {
    let result: ClaimResult;
    if (row.payload && row.attempts !== null) result = { state: "claimed", payload: row.payload, attempts: row.attempts, orderId: row.order_id };
    else if (row.sent) result = { state: "sent" };
    else if (row.failed) result = { state: "failed" };
    else result = { state: "busy", retryInSeconds: Math.max(1, row.busy_for ?? CLAIM_LEASE_SECONDS) };
    results.set(row.id, result);
  }
  return results;
}

/**
 * Records the outcomes of a batch's sends in one statement, and releases their claims:
 *  - sent: sent_at, the provider's message id, no last_error;
 *  - not sent: last_error, and failed_at when `permanent`; a row that was sent meanwhile (by a
 *    delivery that took over after the lease) keeps its sent state.
 * The claim is released either way, so a retried delivery can try at once. Nothing is sent to the
 * database for an empty list.
 */
export async function recordOrderEmailSends(db: Database, outcomes: readonly SendOutcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  const records = outcomes.map((o) =>
    o.sent
      ? { id: o.outboxId, provider_message_id: o.providerMessageId === null ? null : storable(o.providerMessageId), error: null, permanent: false }
      : { id: o.outboxId, provider_message_id: null, error: storable(o.error), permanent: o.permanent },
  );
  await db.execute(sql`
    with outcome as materialized (
      select * from jsonb_to_recordset(${JSON.stringify(records)}::jsonb)
        as x(id int, provider_message_id text, error text, permanent boolean)
    ),
    locked as materialized (
      select o.id from email_outbox o where o.id in (select id from outcome) order by o.id for update of o
    )
    update email_outbox o
    set sent_at = case when x.error is null then now() else o.sent_at end,
      provider_message_id = case when x.error is null then x.provider_message_id else o.provider_message_id end,
      last_error = x.error,
      failed_at = case when x.error is not null and x.permanent then now() else o.failed_at end,
      claimed_at = null
    from outcome x
    where o.id = x.id and o.id in (select id from locked) and (x.error is null or o.sent_at is null)
  `);
}

/**
 * Text that Postgres accepts in a jsonb/text value: no NUL (which it refuses) and no lone UTF-16
 * surrogate (which jsonb refuses). An error message quotes the provider's answer, which may hold
 * either; one such message must not fail the statement that records the whole batch.
 */
function storable(text: string): string {
  return text.replace(/\u0000/g, "").replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
}
