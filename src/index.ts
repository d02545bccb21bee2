import { app } from "./app";
import { handleQueue } from "./queue/order-emails";
import { handleScheduled } from "./scheduled";

/**
 * The Worker entry: HTTP requests go to the Hono app; queue batches (order e-mails and their
 * dead-letter queue) to src/queue/; the cron trigger to src/scheduled.ts.
 */
export default {
  fetch: app.fetch,
  queue: (batch, env) => handleQueue(batch, env),
  scheduled: (controller, env, ctx) => ctx.waitUntil(handleScheduled(controller, env)),
} satisfies ExportedHandler<Env>;
