import { createDb } from "./db/client";
import { errorFields, log } from "./observability/logging";
import { pruneEmailOutbox, RESEND_AFTER_SECONDS, resendStaleOrderEmails } from "./services/email-outbox";
import { purgeExpiredIdempotencyKeys } from "./services/order-idempotency";

/**
 * The cron trigger (wrangler.toml [triggers], every 2 minutes): the outbox's safety net, the outbox's
 * and the Idempotency-Keys' clean-up. Each task logs one JSON line; one failing does not stop the others.
 */
export async function handleScheduled(controller: Pick<ScheduledController, "cron" | "scheduledTime">, env: Env): Promise<void> {
  const db = createDb(env);
  const base = { cron: controller.cron, scheduled_time: new Date(controller.scheduledTime).toISOString() };
  const tasks: Array<[string, () => Promise<Record<string, number>>]> = [
    ["resend_order_emails", () => resendStaleOrderEmails(db, env.ORDER_EMAILS, RESEND_AFTER_SECONDS)],
    ["purge_idempotency_keys", async () => ({ purged: await purgeExpiredIdempotencyKeys(db) })],
    ["prune_email_outbox", async () => ({ pruned: await pruneEmailOutbox(db) })],
  ];
  await Promise.all(
    tasks.map(async ([job, run]) => {
      const started = Date.now();
      try {
        const result = await run();
        log("info", `scheduled: ${job}`, { job, outcome: "ok", ...base, ...result, duration_ms: Date.now() - started });
      } catch (err) {
        log("error", `scheduled: ${job} failed`, {
          job,
          outcome: "failed",
          ...base,
          duration_ms: Date.now() - started,
          ...errorFields(err),
        });
      }
    }),
  );
}
