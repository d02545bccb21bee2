import { createDb } from "./db/client";
import { errorFields, log } from "./observability/logging";
import { pruneEmailOutbox, RESEND_AFTER_SECONDS, resendStaleOrderEmails } from "./services/email-outbox";
import { stripeClient } from "./lib/stripe";
import { expireUnpaidOrders } from "./services/order-expiry";
import { purgeExpiredIdempotencyKeys } from "./services/order-idempotency";
import { pruneStripeEvents } from "./services/payment-events";
import { retryOwedRefunds } from "./services/refunds";

/**
 * The cron trigger (wrangler.toml [triggers], every 2 minutes): the outbox's safety net and its
 * clean-up, the Idempotency-Key clean-up, the expiry of unpaid orders, refunds Stripe has not taken
 * yet, and the clean-up of processed Stripe event ids. Each task logs one JSON line; one failing does
 * not stop the others.
 */
export async function handleScheduled(controller: Pick<ScheduledController, "cron" | "scheduledTime">, env: Env): Promise<void> {
  const db = createDb(env);
  const base = { cron: controller.cron, scheduled_time: new Date(controller.scheduledTime).toISOString() };
  const tasks: Array<[string, () => Promise<Record<string, number>>]> = [
    ["resend_order_emails", () => resendStaleOrderEmails(db, env.ORDER_EMAILS, RESEND_AFTER_SECONDS)],
    ["purge_idempotency_keys", async () => ({ purged: await purgeExpiredIdempotencyKeys(db) })],
    // Unpaid checkout orders past their 15 minutes: expired, stock back (reads show them expired already).
    ["expire_unpaid_orders", async () => ({ expired: await expireUnpaidOrders(db) })],
    ["retry_owed_refunds", async () => retryOwedRefunds(db, await stripeClient(env), env.ENVIRONMENT)],
    ["prune_stripe_events", async () => ({ pruned: await pruneStripeEvents(db) })],
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
