import { createDb, type Database } from "../db/client";
import { errorFields, log, type LogFields } from "../log";
import {
  claimOrderEmail,
  isOrderEmailMessage,
  markOrderEmailAttemptFailed,
  markOrderEmailDeadLettered,
  markOrderEmailSent,
} from "../services/email-outbox";
import { EmailApiError, sendEmail } from "./email-api";
import { renderOrderConfirmation } from "./render-email";

/**
 * Consumers of the order e-mail queue (wrangler.toml: max_retries 5, then the dead-letter queue).
 *
 * Delivery is at least once, so the database decides: a message is sent only by the consumer that
 * claims its outbox row (a conditional UPDATE), and the row is marked sent afterwards. If the
 * consumer dies between the provider's answer and the mark, the next delivery sends again with the
 * same Idempotency-Key (derived from the outbox id) and the provider does not deliver it twice.
 * Each message ends in exactly one JSON log line (src/log.ts) with the job fields the request lines
 * share: job, outcome (ok | retry | failed | dead_letter | skipped), queue, message_id, attempt (the
 * delivery), duration_ms, request_id (of the request that placed the order), outbox_id, order_id.
 */

const JOB = "order_confirmation_email";
type Outcome = "ok" | "retry" | "failed" | "dead_letter" | "skipped";
const LEVELS: Record<Outcome, "info" | "warn" | "error"> = {
  ok: "info",
  skipped: "info",
  retry: "warn",
  failed: "error",
  dead_letter: "error",
};

const DEFAULT_FROM = "Tenpo <orders@tenpo.example>";
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

export async function consumeOrderEmails(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const db = createDb(env);
  // Messages are independent; each settles itself (ack or retry) and never throws.
  await Promise.all(batch.messages.map((message) => deliver(message, batch.queue, db, env)));
}

async function deliver(message: Message<unknown>, queue: string, db: Database, env: Env): Promise<void> {
  const started = Date.now();
  const fields: LogFields = { job: JOB, queue, message_id: message.id, attempt: message.attempts };
  const done = (outcome: Outcome, msg: string, extra: LogFields = {}) =>
    log(LEVELS[outcome], msg, { ...fields, outcome, ...extra, duration_ms: Date.now() - started });

  if (!isOrderEmailMessage(message.body)) {
    done("failed", "order e-mail: malformed message dropped", { body: JSON.stringify(message.body)?.slice(0, 200) });
    message.ack();
    return;
  }
  const outboxId = message.body.outbox_id;
  Object.assign(fields, { request_id: message.body.request_id, outbox_id: outboxId, order_id: message.body.order_id });

  let claim: Awaited<ReturnType<typeof claimOrderEmail>>;
  try {
    claim = await claimOrderEmail(db, outboxId);
  } catch (err) {
    const delaySeconds = retryDelaySeconds(message.attempts);
    done("retry", "order e-mail: database unavailable, retrying", { retry_in_s: delaySeconds, ...errorFields(err) });
    message.retry({ delaySeconds });
    return;
  }
  switch (claim.state) {
    case "sent":
      done("skipped", "order e-mail: already sent, duplicate delivery acknowledged");
      message.ack();
      return;
    case "failed":
      done("skipped", "order e-mail: already given up on, delivery acknowledged");
      message.ack();
      return;
    case "missing":
      done("skipped", "order e-mail: no such outbox row, delivery acknowledged");
      message.ack();
      return;
    case "busy":
      // Another delivery is sending it right now; look again when its lease ends.
      done("retry", "order e-mail: being sent by another delivery, retrying later", { retry_in_s: claim.retryInSeconds });
      message.retry({ delaySeconds: claim.retryInSeconds });
      return;
  }

  Object.assign(fields, { send_attempt: claim.attempts });
  const email = renderOrderConfirmation(claim.payload, env.EMAIL_FROM || DEFAULT_FROM);
  let providerId: string | null;
  try {
    ({ id: providerId } = await sendEmail(env, email, emailIdempotencyKey(env, outboxId)));
  } catch (err) {
    const permanent = err instanceof EmailApiError && err.permanent;
    const error = err instanceof Error ? err.message : String(err);
    let recordError: string | undefined;
    try {
      await markOrderEmailAttemptFailed(db, outboxId, error, permanent);
    } catch (dbErr) {
      // The claim then simply runs out (its lease) before the next delivery.
      recordError = dbErr instanceof Error ? dbErr.message : String(dbErr);
    }
    if (permanent) {
      done("failed", "order e-mail: refused by the e-mail API, given up", { error, record_error: recordError });
      message.ack();
    } else {
      const delaySeconds = retryDelaySeconds(message.attempts);
      done("retry", "order e-mail: send failed, retrying", { error, retry_in_s: delaySeconds, record_error: recordError });
      message.retry({ delaySeconds });
    }
    return;
  }

  try {
    await markOrderEmailSent(db, outboxId, providerId);
  } catch (err) {
    // Sent but not recorded: the next delivery sends again and the provider drops the repeat
    // (same Idempotency-Key). Waiting out the claim's lease is part of that.
    const delaySeconds = retryDelaySeconds(message.attempts);
    done("retry", "order e-mail: sent but not recorded, retrying", { provider_message_id: providerId, retry_in_s: delaySeconds, ...errorFields(err) });
    message.retry({ delaySeconds });
    return;
  }
  done("ok", "order e-mail: sent", { to_domain: email.to.split("@")[1], provider_message_id: providerId });
  message.ack();
}

/**
 * The dead-letter queue: messages the main consumer retried max_retries times. Records the final
 * failure on the outbox row (failed_at; last_error keeps the last attempt's error), which also
 * takes it out of the re-send cron.
 */
export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const db = createDb(env);
  for (const message of batch.messages) {
    const started = Date.now();
    const fields: LogFields = { job: JOB, queue: batch.queue, message_id: message.id, attempt: message.attempts };
    const done = (outcome: Outcome, msg: string, extra: LogFields = {}) =>
      log(LEVELS[outcome], msg, { ...fields, outcome, ...extra, duration_ms: Date.now() - started });
    if (!isOrderEmailMessage(message.body)) {
      done("failed", "order e-mail dead letter: malformed message dropped");
      message.ack();
      continue;
    }
    Object.assign(fields, { request_id: message.body.request_id, outbox_id: message.body.outbox_id, order_id: message.body.order_id });
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
