import type { OpenAPIHono } from "@hono/zod-openapi";
import { except } from "hono/combine";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "./app-env";
import { ApiError } from "./errors";
import { limitBodySize } from "./middleware/body-limit";
import { refuseUnsafeSettings } from "./middleware/config-guard";
import { corsFromSettings } from "./middleware/cors";
import { provideDatabase } from "./middleware/database";
import { renderError } from "./middleware/error-handler";
import { parseJsonBody } from "./middleware/json-body";
import { observeRequests } from "./middleware/observe-requests";
import { keepAccountResponsesPrivate } from "./middleware/private-responses";
import { assignRequestId, echoRequestId } from "./middleware/request-id";
import { trackRequestStats } from "./middleware/request-stats";
import { createRouter } from "./router";
import { auth } from "./routes/auth";
import { carts } from "./routes/carts";
import { checkout } from "./routes/checkout";
import { docs } from "./routes/docs";
import { health } from "./routes/health";
import { orders } from "./routes/orders";
import { categories, products } from "./routes/products";
import { webhooks } from "./routes/webhooks";

/** The app's router type: what `createApp` returns and `extraRoutes` receives. */
export type App = OpenAPIHono<AppEnv>;

export type AppOptions = {
  /**
   * Mounts more routes after the API's own, before notFound, behind the whole middleware chain and
   * onError: for tests that need a route the API does not have (one that throws, say).
   */
  extraRoutes?: (app: App) => void;
};

/** The Hono app: the middleware chain in order, the routes, notFound and the one onError. */
export function createApp(options: AppOptions = {}): App {
  const app = createRouter();

  // Middleware order, outermost first. Every response, errors included, gets a request id and
  // security headers; CORS answers preflights before any body is read; the body limit applies
  // before anything parses a body.
  app.use(trackRequestStats);
  // Right inside the stats record, around everything else: Server-Timing, the metrics data point and the
  // request's log line see the final response, including those onError and notFound render.
  app.use(observeRequests);
  app.use(assignRequestId);
  app.use(echoRequestId);
  app.use(secureHeaders());
  // Outside every middleware that can answer (CORS, body limit, auth …), so account responses leave as private, errors too.
  app.use(keepAccountResponsesPrivate);
  app.use(corsFromSettings);
  app.use(limitBodySize);
  // Every path, health checks included: a deployment with development settings must fail its probes too.
  app.use(refuseUnsafeSettings);
  // Stripe signs the raw body of its events: that route reads it as sent (src/routes/webhooks.ts).
  app.use("/api/*", except("/api/v1/webhooks/*", parseJsonBody));
  app.use(provideDatabase);

  app.route("/", health);
  app.route("/api/v1/auth", auth);
  app.route("/api/v1/products", products);
  app.route("/api/v1/categories", categories);
  app.route("/api/v1/orders", orders);
  app.route("/api/v1/carts", carts);
  app.route("/api/v1/carts", checkout);
  app.route("/api/v1/webhooks", webhooks);
  app.route("/", docs(app));
  options.extraRoutes?.(app);

  app.notFound((c) => {
    throw ApiError.notFound(`No route for ${c.req.method} ${new URL(c.req.url).pathname}`);
  });
  app.onError(renderError);
  return app;
}

/** The Worker's app (src/index.ts). */
export const app = createApp();
