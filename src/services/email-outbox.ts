import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import type { EmailKind, OrderStatus } from "../db/schema";
import { errorFields, log } from "../observability/logging";

/**
 * The e-mail outbox (table email_outbox): a row per order and kind of e-mail, written by the
 * statement that makes the change it tells of (the order's placement or payment: its confirmation;
 * its cancellation; its refund; order-email-sql.ts builds them); this module moves rows to the queue
 * (the request, the re-send cron), records a dead letter and prunes old rows. The consumer's claims
 * and sends, a batch per statement, are in email-outbox-batch.ts. Every function is one statement per
 * call (the re-send cron's: per round of up to 100 rows).
 *
 * A row's life: created (with its change) → enqueued (right after the commit, unrecorded; or by the
 * re-send cron, which records it in enqueued_at) → claimed by a consumer (a lease) → sent; or, when
 * the queue gives up, failed (dead-letter queue); or, at the claim, suppressed (never sent): its
 * recipient already had its cap of e-mails for the hour, or it is a confirmation of an order that is
 * no longer going ahead. After OUTBOX_RETENTION_DAYS the cron deletes it, whatever became of it.
 */

/**
 * The queue message: just the ids (the row holds the content), and the id of the request that
 * placed the order, so that the job's log line joins the request's.
 */
export type OrderEmailMessage = { outbox_id: number; order_id: number; request_id?: string };

/** A consumer's claim on a row expires after this, so a consumer that died mid-send does not block it forever. */
export const CLAIM_LEASE_SECONDS = 60;

/** The re-send cron hands a row to the queue again when nothing happened to it for this long. */
export const RESEND_AFTER_SECONDS = 5 * 60;

/**
 * The cap on order e-mails per recipient: at most RECIPIENT_CAP sent (or being sent) to one mailbox
 * (email_outbox.recipient) in any RECIPIENT_CAP_WINDOW_SECONDS. Addresses are not verified, so
 * without it anyone could register someone else's address and have the shop mail it once per order
 * (or per order and cancel) for as long as they like: genuine, signed mail that its recipient reports
 * as spam, until the provider suspends the key and every customer's order mail stops. A real shopper
 * rarely places more than one or two orders an hour (a forgotten item, a second basket); five leaves
 * room for that and holds a mail cannon to five an hour per inbox. Rows over the cap are suppressed,
 * not delayed: a confirmation an hour late helps nobody. Orders are never refused for it.
 *
 * Every kind counts, and the cap holds every kind but refunds:
 *  - Cancellation e-mails are capped like confirmations. That they follow the customer's own action
 *    is no reason to exempt them: the customer is whoever holds the account, not the mailbox, and
 *    placing and cancelling costs nothing and can be repeated on one unit of stock. Exempt, they
 *    would turn the cap on confirmations into an unlimited stream of cancellations.
 *  - Refund e-mails (UNCAPPED_EMAIL_KINDS) take a place but are sent even over the cap. A refund
 *    only follows a payment that went through: each costs a real charge on a real card (which
 *    Stripe's fraud checks watch), so they are no cheap cannon; and they tell someone whose card was
 *    charged that the money is coming back, which is what they would otherwise write to us, or to
 *    their bank, about. The places they take still hold back the cheap kinds after them.
 */
export const RECIPIENT_CAP = 5;
export const RECIPIENT_CAP_WINDOW_SECONDS = 60 * 60;

/** The kinds of e-mail the recipient cap counts but never suppresses (the argument is at RECIPIENT_CAP). */
export const UNCAPPED_EMAIL_KINDS: readonly EmailKind[] = ["order_refunded"];

/**
 * A confirmation whose order has one of these statuses when it is claimed is suppressed, never sent:
 * the order is not going ahead, and its cancellation or refund e-mail says so. (An expired order
 * was never paid, so it should have no confirmation at all; it is listed so that none can go out.)
 * Decided by the claim statement (email-outbox-batch.ts). Cancellation and refund e-mails are never
 * suppressed for their order's status.
 */
export const STALE_CONFIRMATION_STATUSES: readonly OrderStatus[] = ["cancelled", "expired", "refunded"];

/**
 * Outbox rows are kept this long after they were written, then pruned by the cron. The outbox is the
 * e-mail jobs' working state, not the order's history (the order keeps that): a row's last use is
 * the recipient cap, which looks back one hour, and the queue's retries and the re-send cron, which
 * end within hours; 30 days leave a month to look into what became of a customer's e-mail.
 */
export const OUTBOX_RETENTION_DAYS = 30;

/**
 * The most rows one prune deletes (one statement per cron run, every 2 minutes): enough to keep up
 * with 7 million e-mails a day, and small enough that a backlog (say the cron was off for a while)
 * is worked off over several runs instead of in one long delete holding locks on many rows.
 */
export const PRUNE_MAX_ROWS_PER_RUN = 10_000;

/** At most this many messages per sendBatch (the Queues limit is 100). */
const RESEND_BATCH = 100;
const RESEND_MAX_BATCHES_PER_RUN = 10;

export function isOrderEmailMessage(body: unknown): body is OrderEmailMessage {
  if (typeof body !== "object" || body === null) return false;
  const { outbox_id: outboxId, order_id: orderId, request_id: requestId } = body as Record<string, unknown>;
  return Number.isSafeInteger(outboxId) && Number.isSafeInteger(orderId) && (requestId === undefined || typeof requestId === "string");
}

/**
 * After the order committed: hands its e-mail job to the queue. Never throws: a failed send loses
 * nothing (the row stays unsent and the cron re-sends it), so it must not fail the order either.
 *
 * No database write: recording the enqueue would cost a round trip per order, and the cron does not
 * need it. The request enqueues right after the commit, so the row's created_at already says when
 * the job left, and the cron waits RESEND_AFTER_SECONDS from the latest of created_at, enqueued_at
 * (its own re-sends) and claimed_at.
 */
export async function enqueueOrderEmail(queue: Queue, message: OrderEmailMessage): Promise<boolean> {
  try {
    await queue.send(message, { contentType: "json" });
    return true;
  } catch (err) {
    log("warn", "order e-mail not enqueued; the re-send cron will pick it up", { ...message, ...errorFields(err) });
    return false;
  }
}

/**
 * enqueueOrderEmail for each outbox row a statement wrote for one order (a cancellation writes one, a
 * payment its confirmation or its refund e-mail). Never throws, like enqueueOrderEmail.
 */
export async function enqueueOrderEmails(queue: Queue, outboxIds: readonly number[], orderId: number, requestId?: string): Promise<void> {
  await Promise.all(
    outboxIds.map((outboxId) => enqueueOrderEmail(queue, { outbox_id: outboxId, order_id: orderId, request_id: requestId })),
  );
}

/** What the e-mail says, as written with the order. */
export type OrderEmailPayload = {
  to: string;
  full_name: string | null;
  order_id: number;
  total_amount: string;
  created_at: string;
  items: Array<{ product_id: number; name: string; quantity: number; unit_price: string }>;
};

/** The queue gave up on the message (dead-letter queue): the row is failed unless it was sent (or suppressed) after all. */
export async function markOrderEmailDeadLettered(
  db: Database,
  outboxId: number,
): Promise<{ recorded: boolean; lastError: string | null; attempts: number | null }> {
  const { rows } = await db.execute<{ last_error: string | null; attempts: number }>(sql`
    update email_outbox
    set failed_at = coalesce(failed_at, now()), claimed_at = null,
      last_error = coalesce(last_error, 'no error recorded') || ' (dead-lettered after ' || attempts || ' attempts)'
    where id = ${outboxId} and sent_at is null and failed_at is null and suppressed_at is null
    returning last_error, attempts
  `);
  const row = rows[0];
  return { recorded: row !== undefined, lastError: row?.last_error ?? null, attempts: row?.attempts ?? null };
}

/**
 * The cron's safety net: rows that are neither sent, failed nor suppressed and have seen nothing
 * (creation, which the request's own enqueue follows at once; a re-send; a claim) for
 * `olderThanSeconds` go to the queue again. Rows are marked enqueued before the send (SKIP LOCKED:
 * overlapping runs take different rows); a failed send un-marks them so the next run retries.
 * Duplicates are harmless: the consumer claims before it sends, and the claim holds re-sent rows to
 * the recipient's cap like any other.
 */
export async function resendStaleOrderEmails(
  db: Database,
  queue: Queue,
  olderThanSeconds: number = RESEND_AFTER_SECONDS,
): Promise<{ resent: number; failed: number }> {
  let resent = 0;
  let failed = 0;
  for (let round = 0; round < RESEND_MAX_BATCHES_PER_RUN; round++) {
    const { rows } = await db.execute<{ id: number; order_id: number }>(sql`
      update email_outbox set enqueued_at = now()
      where id in (
        select id from email_outbox
        where sent_at is null and failed_at is null and suppressed_at is null
          and greatest(created_at, enqueued_at, claimed_at) < now() - make_interval(secs => ${olderThanSeconds})
        order by id
        limit ${RESEND_BATCH}
        for update skip locked
      )
      returning id, order_id
    `);
    if (rows.length === 0) break;
    const messages: OrderEmailMessage[] = rows.map((row) => ({ outbox_id: row.id, order_id: row.order_id }));
    try {
      await queue.sendBatch(messages.map((body) => ({ body, contentType: "json" as const })));
      resent += rows.length;
    } catch (err) {
      failed += rows.length;
      log("error", "order e-mail re-send failed; will retry on the next run", { count: rows.length, ...errorFields(err) });
      const ids = `{${rows.map((row) => row.id).join(",")}}`;
      await db.execute(sql`update email_outbox set enqueued_at = null where id = any(${ids}::int[])`);
      break;
    }
    if (rows.length < RESEND_BATCH) break;
  }
  return { resent, failed };
}

/**
 * Deletes outbox rows written more than `retentionDays` ago, at most `maxRows` of them (the oldest
 * first) in one statement; returns how many. A row a consumer holds a live claim on is left for the
 * next run (the consumer will record its send), and so are rows another statement has locked (SKIP
 * LOCKED: a claim or a re-send in progress, or an overlapping run), so a prune never waits.
 */
export async function pruneEmailOutbox(
  db: Database,
  retentionDays: number = OUTBOX_RETENTION_DAYS,
  maxRows: number = PRUNE_MAX_ROWS_PER_RUN,
): Promise<number> {
  const { rowCount } = await db.execute(sql`
    delete from email_outbox
    where id in (
      select id from email_outbox
      where created_at < now() - make_interval(days => ${retentionDays})
        and (claimed_at is null or claimed_at <= now() - make_interval(secs => ${CLAIM_LEASE_SECONDS}))
      order by created_at
      limit ${maxRows}
      for update skip locked
    )
  `);
  return rowCount ?? 0;
}
