import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import type { EmailKind, OrderStatus } from "../db/schema";
import {
  CLAIM_LEASE_SECONDS,
  RECIPIENT_CAP,
  RECIPIENT_CAP_WINDOW_SECONDS,
  STALE_CONFIRMATION_STATUSES,
  UNCAPPED_EMAIL_KINDS,
  type OrderEmailPayload,
} from "./email-outbox";

/**
 * What the queue consumer does to the outbox, a whole batch of messages at a time: ONE statement
 * claims every row of the batch, ONE statement records every send's outcome. So a batch of n
 * e-mails costs two round trips, not 2n, and an order with its e-mail stays under two in all.
 *
 * Both statements lock the rows they decide on in id order (as order placement locks products), so
 * two consumers with overlapping batches (a duplicate delivery, a cron re-send) or with a recipient in
 * common queue up instead of deadlocking. Neither statement can be failed by one message's data: ids
 * are checked before they reach SQL and texts are made storable, so the only failure is the
 * database's, which every message of the batch would meet anyway.
 */

/** What became of one row of a batch claim. */
export type ClaimResult =
  | { state: "claimed"; kind: EmailKind; payload: OrderEmailPayload; attempts: number; orderId: number }
  | { state: "sent" | "failed" | "missing" }
  /**
   * Not to be sent, and suppressed by this claim: a confirmation whose order had become `orderStatus`
   * (cancelled, expired or refunded) when it was claimed. A later delivery finds it suppressed.
   */
  | { state: "stale"; orderStatus: OrderStatus }
  /**
   * Not to be sent. `byThisClaim`: this claim decided it, as its recipient already has its cap of
   * e-mails for the window; otherwise an earlier claim did (for the cap, or as a stale confirmation)
   * and this is a repeated delivery.
   */
  | { state: "suppressed"; byThisClaim: boolean; kind: EmailKind }
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
 * out, within its recipient's cap: a conditional UPDATE, so of two deliveries of the same message
 * (at-least-once) only one gets it. Returns the result per distinct id (a repeated id is claimed
 * once); an id without a row is "missing". Nothing is sent to the database for an empty list.
 *
 * No stale confirmation: a confirmation whose order is cancelled, expired or refunded
 * (STALE_CONFIRMATION_STATUSES) when it is claimed is suppressed instead ("stale"), and takes no
 * place under the cap; cancellation and refund e-mails are never suppressed for their order's status.
 * The statement reads those orders FOR SHARE, which waits for a change of the order still in
 * progress (a cancel not yet committed) and then reads the order as it committed; without the lock it
 * would read its snapshot, taken before it waited for anything, and could send the confirmation of an
 * order whose cancellation e-mail is already on its way. A change that commits after the claim finds
 * the confirmation on its way: it was true when it left, and the change's own e-mail follows.
 *
 * The cap (RECIPIENT_CAP per RECIPIENT_CAP_WINDOW_SECONDS) is counted per recipient over its rows
 * that were sent within the window or are being sent now (a live claim); the batch's claimable rows
 * of that recipient then take what is left, oldest first, and the rest are suppressed for good
 * (except the kinds in UNCAPPED_EMAIL_KINDS, which take a place but are sent even over the cap). So
 * that two consumers claiming for one recipient at the same time cannot both take the last places,
 * the statement locks, in one pass in id order, every row of the batch's recipients that counts or
 * might by the time it commits: sent within the window, or still pending. A second claim for the
 * same recipient therefore waits for the first to commit and then reads those rows as the first left
 * them (a locked row is re-read at its latest version, which the statement's snapshot alone would
 * not show). Pending rows drain at every claim, so the set stays small: a recipient's rows of the
 * last hour, and under a flood the orders of the last few seconds.
 *
 * Locks are taken outbox rows first, then orders (FOR SHARE, which claims do not contend for among
 * themselves); a statement that changes an order and writes its e-mail locks the order and inserts a
 * new outbox row, which waits for no claim, so the two never deadlock. Such a statement must not
 * also update the order's existing outbox rows (it would lock them after the order, the other way
 * round): holding back the confirmation is this claim's job.
 *
 * A row whose consumer died between the provider's answer and the record (its claim ran out) takes
 * a place again when it is claimed anew; if none is left it ends suppressed although the provider
 * has it. That costs the recipient no e-mail, only the row its exact history.
 */
export async function claimOrderEmails(db: Database, outboxIds: readonly number[]): Promise<Map<number, ClaimResult>> {
  const results = new Map<number, ClaimResult>();
  const ids = [...new Set(outboxIds)].filter((id) => Number.isSafeInteger(id) && id >= 1 && id <= MAX_ROW_ID);
  for (const id of outboxIds) results.set(id, { state: "missing" });
  if (ids.length === 0) return results;

  const lease = sql`make_interval(secs => ${CLAIM_LEASE_SECONDS})`;
  const { rows } = await db.execute<{
    id: number;
    order_id: number;
    kind: EmailKind;
    sent: boolean;
    failed: boolean;
    suppressed: boolean;
    suppressed_now: boolean;
    stale_status: OrderStatus | null;
    busy_for: number | null;
    payload: OrderEmailPayload | null;
    attempts: number | null;
  }>(sql`
    with wanted as materialized (
      select id from unnest(${`{${ids.join(",")}}`}::int[]) as w(id)
    ),
    recipients as materialized (
      select distinct o.recipient from email_outbox o where o.id in (select id from wanted)
    ),
    locked as materialized (
      select o.id, o.recipient, o.kind, o.order_id, o.sent_at, o.claimed_at, o.id in (select id from wanted) as wanted
      from email_outbox o
      where o.recipient in (select recipient from recipients) and o.failed_at is null and o.suppressed_at is null
        and (o.sent_at is null or o.sent_at > now() - make_interval(secs => ${RECIPIENT_CAP_WINDOW_SECONDS}))
      order by o.id
      for update of o
    ),
    free as materialized (
      select l.id, l.recipient, l.kind, l.order_id
      from locked l
      where l.wanted and l.sent_at is null and (l.claimed_at is null or l.claimed_at <= now() - ${lease})
    ),
    confirmation_orders as materialized (
      select f.id, ord.status
      from free f join orders ord on ord.id = f.order_id
      where f.kind = 'order_confirmation'
      order by ord.id
      for share of ord
    ),
    stale as materialized (
      select c.id, c.status from confirmation_orders c where c.status in (${literalList(STALE_CONFIRMATION_STATUSES)})
    ),
    claimable as materialized (
      select f.id, f.recipient, f.kind, row_number() over (partition by f.recipient order by f.id) as place
      from free f
      where f.id not in (select id from stale)
    ),
    counted as materialized (
      select l.recipient, count(*)::int as taken
      from locked l
      where l.id not in (select id from claimable) and (l.sent_at is not null or l.claimed_at > now() - ${lease})
      group by l.recipient
    ),
    decided as materialized (
      select c.id, false as stale,
        c.kind in (${literalList(UNCAPPED_EMAIL_KINDS)}) or coalesce(n.taken, 0) + c.place <= ${RECIPIENT_CAP} as within_cap
      from claimable c left join counted n on n.recipient = c.recipient
      union all
      select s.id, true, false from stale s
    ),
    changed as (
      update email_outbox o
      set claimed_at = case when d.within_cap then now() end,
        attempts = case when d.within_cap then o.attempts + 1 else o.attempts end,
        suppressed_at = case when d.within_cap then null else now() end
      from decided d
      where o.id = d.id
      returning o.id, d.within_cap, d.stale, o.payload, o.attempts
    )
    select o.id, o.order_id, o.kind, o.sent_at is not null as sent, o.failed_at is not null as failed,
      o.suppressed_at is not null as suppressed, coalesce(not c.within_cap and not c.stale, false) as suppressed_now,
      case when c.stale then s.status end as stale_status,
      ceil(extract(epoch from o.claimed_at + ${lease} - now()))::int as busy_for,
      case when c.within_cap then c.payload end as payload, case when c.within_cap then c.attempts end as attempts
    from email_outbox o left join changed c on c.id = o.id left join stale s on s.id = o.id
    where o.id in (select id from wanted)
  `);
  // The outer select sees the rows as the statement began: a row claimed or suppressed here shows
  // it through `changed`, any other row its state before (a claim another consumer committed while
  // this one waited for the lock shows as busy for a full lease).
  for (const row of rows) {
    let result: ClaimResult;
    if (row.payload && row.attempts !== null)
      result = { state: "claimed", kind: row.kind, payload: row.payload, attempts: row.attempts, orderId: row.order_id };
    else if (row.stale_status !== null) result = { state: "stale", orderStatus: row.stale_status };
    else if (row.suppressed_now) result = { state: "suppressed", byThisClaim: true, kind: row.kind };
    else if (row.sent) result = { state: "sent" };
    else if (row.failed) result = { state: "failed" };
    else if (row.suppressed) result = { state: "suppressed", byThisClaim: false, kind: row.kind };
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
      ? {
          id: o.outboxId,
          provider_message_id: o.providerMessageId === null ? null : storable(o.providerMessageId),
          error: null,
          permanent: false,
        }
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

/** A list of known words (statuses, kinds: constants of this code, never input) as SQL literals. */
function literalList(values: readonly string[]): SQL {
  if (values.length === 0 || !values.every((value) => /^[a-z_]+$/.test(value))) throw new Error("not a list of known words");
  return sql.raw(values.map((value) => `'${value}'`).join(", "));
}

/**
 * Text that Postgres accepts in a jsonb/text value: no NUL (which it refuses) and no lone UTF-16
 * surrogate (which jsonb refuses). An error message quotes the provider's answer, which may hold
 * either; one such message must not fail the statement that records the whole batch.
 */
function storable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what Postgres text cannot store
  return text.replace(/\u0000/g, "").replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
}
