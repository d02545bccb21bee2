import { app } from "./app";
import { learnFromApp, serveHotRead } from "./cache/hot-reads";
import { configRefusals } from "./middleware/config-guard";
import { handleQueue } from "./queue/order-emails";
import { handleScheduled } from "./scheduled";

/**
 * The Worker entry: HTTP requests go to the Hono app, except catalog reads this isolate can answer
 * from memory (src/cache/hot-reads.ts: a HIT costs about a hello world there, three through the app);
 * queue batches (order e-mails and their dead-letter queue) to src/queue/; the cron trigger to
 * src/scheduled.ts.
 */
export default {
  fetch(request, env, ctx) {
    // Settings the app refuses to serve with (src/middleware/config-guard.ts) get no hot reads either.
    const hit = configRefusals(env, request.url).length === 0 ? serveHotRead(request, env, ctx) : undefined;
    if (hit) return hit;
    return Promise.resolve(app.fetch(request, env, ctx)).then((response) => {
      learnFromApp(request, env, response);
      return response;
    });
  },
  queue: (batch, env) => handleQueue(batch, env),
  scheduled: (controller, env, ctx) => ctx.waitUntil(handleScheduled(controller, env)),
} satisfies ExportedHandler<Env>;
