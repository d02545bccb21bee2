import { settingsOf } from "../config";
import { createDb } from "../db/client";
import type { EmailKind } from "../db/schema";
import { errorFields, log } from "../observability/logging";
import {
  CLAIM_LEASE_SECONDS,
  isOrderEmailMessage,
  markOrderEmailDeadLettered,
  RECIPIENT_CAP,
  RECIPIENT_CAP_WINDOW_SECONDS,
  type OrderEmailMessage,
  type OrderEmailPayload,
} from "../services/email-outbox";
import { claimOrderEmails, recordOrderEmailSends, type ClaimResult, type SendOutcome } from "../services/email-outbox-batch";
import { EmailApiError, sendEmail } from "./email-api";
import { jobLog, type JobLog } from "./job-log";
import { renderOrderEmail } from "./render-email";

/**
 * Consumers of the order e-mail queue (wrangler.toml: batches of up to 50, max_retries 5, then the
 * dead-letter queue).
 *
 * Delivery is at least once, so the database decides: a message is sent only by the consumer that
 * claims its outbox row (a conditional UPDATE), and the row is marked sent afterwards. If the
 * consumer dies between the provider's answer and the mark, the next delivery sends again with the
 * same Idempotency-Key (derived from the outbox id) and the provider does not deliver it twice.
 *
 * A batch costs two database round trips whatever its size: one statement claims every row of the
 * batch, the sends run side by side, one statement records every outcome
 * (src/services/email-outbox-batch.ts). Each message is still settled on its own (ack, or retry with
 * its own backoff), so one failed send neither fails nor re-sends the others, and each ends in
 * exactly one JSON log line (./job-log.ts): outcome ok | retry | failed | dead_letter | skipped |
 * suppressed (the recipient's cap, decided by the claim: the line names the order, never the address).
 * A confirmation whose order was cancelled, expired or refunded before its claim is not sent either
 * (decided by the claim too; outcome skipped, with the order's status). The row's kind picks the
 * e-mail (./render-email.ts) and is in the line as email_kind once the row is claimed.
 */

const BACKOFF_BASE_SECONDS = 10;
const BACKOFF_MAX_SECONDS = 15 * 60;

/** Exponential backoff for the n-th delivery (1-based): 10 s, 20 s, 40 s, … at most 15 minutes. */
export function retryDelaySeconds(delivery: number): number {
  return Math.min(BACKOFF_BASE_SECONDS * 2 ** Math.max(0, delivery - 1), BACKOFF_MAX_SECONDS);
}

/** The provider's idempotency key of an outbox row; the environment keeps staging and production apart. */
export function emailIdempotencyKey(env: Pick<Env, "ENVIRONMENT">, outboxId: number): string {
  return `tenpo-${env.ENVIRONMENT}-email-outbox-${outboxId}`;
}

/** A message of the batch with a usable body. */
type Job = { message: Message<unknown>; body: OrderEmailMessage; log: JobLog };
/** A job whose row it claimed, and how its send went (to_domain: the recipient's, for the log). */
type Attempt = { job: Job; outcome: SendOutcome; toDomain?: string };

/**
 * The main queue's consumer: claim the batch (one statement), send what was claimed, record the
 * outcomes (one statement), then settle every message by itself.
 */
export async function consumeOrderEmails(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const started = Date.now();
  const db = createDb(env);
  const jobs: Job[] = [];
  for (const message of batch.messages) {
    const log = jobLog(message, batch.queue, started);
    if (isOrderEmailMessage(message.body)) {
      jobs.push({ message, body: message.body, log });
    } else {
      log.done("failed", "order e-mail: malformed message dropped", { body: JSON.stringify(message.body)?.slice(0, 200) });
      message.ack();
    }
  }
  if (jobs.length === 0) return;

  let claims: Map<number, ClaimResult>;
  try {
    claims = await claimOrderEmails(
      db,
      jobs.map((job) => job.body.outbox_id),
    );
  } catch (err) {
    for (const { message, log } of jobs) {
      const delaySeconds = retryDelaySeconds(message.attempts);
      log.done("retry", "order e-mail: database unavailable, retrying", { retry_in_s: delaySeconds, ...errorFields(err) });
      message.retry({ delaySeconds });
    }
    return;
  }

  const claimed: Array<{ job: Job; kind: EmailKind; payload: OrderEmailPayload }> = [];
  const handedOut = new Set<number>();
  for (const job of jobs) {
    let claim = claims.get(job.body.outbox_id) ?? { state: "missing" };
    if (claim.state === "claimed") {
      // The same message twice in one batch: the row was claimed once, for the first of them; the
      // other waits for that claim like any delivery that meets a live claim.
      if (handedOut.has(job.body.outbox_id)) claim = { state: "busy", retryInSeconds: CLAIM_LEASE_SECONDS };
      else handedOut.add(job.body.outbox_id);
    }
    if (claim.state === "claimed") {
      Object.assign(job.log.fields, { send_attempt: claim.attempts, email_kind: claim.kind });
      claimed.push({ job, kind: claim.kind, payload: claim.payload });
    } else {
      settleUnclaimed(job, claim);
    }
  }
  if (claimed.length === 0) return;

  const attempts = await Promise.all(claimed.map(({ job, kind, payload }) => attemptSend(job, kind, payload, env)));
  let recordError: unknown;
  try {
    await recordOrderEmailSends(
      db,
      attempts.map((attempt) => attempt.outcome),
    );
  } catch (err) {
    recordError = err;
  }
  for (const attempt of attempts) settleAttempt(attempt, recordError);
}

/** A message whose row was not claimed: there is nothing to send now. */
function settleUnclaimed({ message, log }: Job, claim: Exclude<ClaimResult, { state: "claimed" }>): void {
  switch (claim.state) {
    case "sent":
      log.done("skipped", "order e-mail: already sent, duplicate delivery acknowledged");
      message.ack();
      return;
    case "failed":
      log.done("skipped", "order e-mail: already given up on, delivery acknowledged");
      message.ack();
      return;
    case "missing":
      log.done("skipped", "order e-mail: no such outbox row, delivery acknowledged");
      message.ack();
      return;
    case "stale":
      // Not a warning: the order was cancelled or refunded (or expired) before its confirmation went
      // out, and its own e-mail tells the customer so.
      log.done("skipped", "order e-mail: confirmation not sent, the order is no longer going ahead", {
        email_kind: "order_confirmation",
        order_status: claim.orderStatus,
      });
      message.ack();
      return;
    case "suppressed":
      if (claim.byThisClaim) {
        log.done("suppressed", "order e-mail: not sent, its recipient had its cap of order e-mails for the hour", {
          email_kind: claim.kind,
          recipient_cap: RECIPIENT_CAP,
          window_s: RECIPIENT_CAP_WINDOW_SECONDS,
        });
      } else {
        log.done("skipped", "order e-mail: already suppressed, delivery acknowledged");
      }
      message.ack();
      return;
    case "busy":
      // Another delivery is sending it right now; look again when its lease ends.
      log.done("retry", "order e-mail: being sent by another delivery, retrying later", { retry_in_s: claim.retryInSeconds });
      message.retry({ delaySeconds: claim.retryInSeconds });
      return;
  }
}

/** Renders (by the row's kind) and sends one claimed e-mail; never throws (a failure is an outcome to record). */
async function attemptSend(job: Job, kind: EmailKind, payload: OrderEmailPayload, env: Env): Promise<Attempt> {
  const outboxId = job.body.outbox_id;
  try {
    const email = renderOrderEmail(kind, payload, settingsOf(env).emailFrom);
    const { id } = await sendEmail(env, email, emailIdempotencyKey(env, outboxId));
    return { job, outcome: { outboxId, sent: true, providerMessageId: id }, toDomain: email.to.split("@")[1] };
  } catch (err) {
    const permanent = err instanceof EmailApiError && err.permanent;
    return { job, outcome: { outboxId, sent: false, error: err instanceof Error ? err.message : String(err), permanent } };
  }
}

/** Acks or retries a message whose row it claimed, now that the batch's outcomes are recorded (or not). */
function settleAttempt({ job: { message, log }, outcome, toDomain }: Attempt, recordError: unknown): void {
  if (outcome.sent) {
    if (recordError !== undefined) {
      // Sent but not recorded: the next delivery sends again and the provider drops the repeat
      // (same Idempotency-Key). Waiting out the claim's lease is part of that.
      const delaySeconds = retryDelaySeconds(message.attempts);
      log.done("retry", "order e-mail: sent but not recorded, retrying", {
        provider_message_id: outcome.providerMessageId,
        retry_in_s: delaySeconds,
        ...errorFields(recordError),
      });
      message.retry({ delaySeconds });
      return;
    }
    log.done("ok", "order e-mail: sent", { to_domain: toDomain, provider_message_id: outcome.providerMessageId });
    message.ack();
    return;
  }
  // Not recorded: the claim then simply runs out (its lease) before the next delivery.
  const record_error = recordError === undefined ? undefined : recordError instanceof Error ? recordError.message : String(recordError);
  if (outcome.permanent) {
    log.done("failed", "order e-mail: refused by the e-mail API, given up", { error: outcome.error, record_error });
    message.ack();
    return;
  }
  const delaySeconds = retryDelaySeconds(message.attempts);
  log.done("retry", "order e-mail: send failed, retrying", { error: outcome.error, retry_in_s: delaySeconds, record_error });
  message.retry({ delaySeconds });
}

/**
 * The dead-letter queue: messages the main consumer retried max_retries times. Records the final
 * failure on the outbox row (failed_at; last_error keeps the last attempt's error), which also
 * takes it out of the re-send cron.
 */
export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const db = createDb(env);
  for (const message of batch.messages) {
    const { done } = jobLog(message, batch.queue, Date.now());
    if (!isOrderEmailMessage(message.body)) {
      done("failed", "order e-mail dead letter: malformed message dropped");
      message.ack();
      continue;
    }
    try {
      const result = await markOrderEmailDeadLettered(db, message.body.outbox_id);
      if (result.recorded) {
        done("dead_letter", "order e-mail: dead-lettered, recorded as failed", {
          send_attempts: result.attempts,
          last_error: result.lastError,
        });
      } else {
        done("skipped", "order e-mail dead letter: row already sent or failed, nothing to record");
      }
      message.ack();
    } catch (err) {
      done("failed", "order e-mail dead letter: could not record the failure", errorFields(err));
      message.retry();
    }
  }
}

const ORDER_EMAIL_QUEUE = /^tenpo-order-emails(-[a-z]+)?$/;
const ORDER_EMAIL_DEAD_LETTER_QUEUE = /^tenpo-order-emails(-[a-z]+)?-dlq$/;

/** The Worker's queue entry (wrangler.toml: tenpo-order-emails[-<env>] and its -dlq). */
export async function handleQueue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  if (ORDER_EMAIL_DEAD_LETTER_QUEUE.test(batch.queue)) return consumeDeadLetters(batch, env);
  if (ORDER_EMAIL_QUEUE.test(batch.queue)) return consumeOrderEmails(batch, env);
  log("error", "messages from a queue this Worker does not consume; retried", { queue: batch.queue, count: batch.messages.length });
  batch.retryAll();
}
