import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { cors } from "hono/cors";
import { bodyLimit } from "hono/body-limit";
import { createDb } from "./db/client";
import { ApiError } from "./errors";
import { refuseUnsafeSettings } from "./middleware/config-guard";
import { renderError } from "./middleware/error-handler";
import { parseJsonBody } from "./middleware/json-body";
import { observeRequests } from "./middleware/observe-requests";
import { keepAccountResponsesPrivate } from "./middleware/private-responses";
import { trackRequestStats } from "./middleware/request-stats";
import { requestIdFor } from "./lib/request-id";
import { createRouter } from "./router";
import { auth } from "./routes/auth";
import { categories, products } from "./routes/products";
import { orders } from "./routes/orders";
import { docs } from "./routes/docs";
import { health } from "./routes/health";

const MAX_BODY_BYTES = 64 * 1024;

export const app = createRouter();

// Middleware order, outermost first. Every response, errors included, gets a request id and
// security headers; CORS answers preflights before any body is read; the body limit applies
// before anything parses a body.
app.use(trackRequestStats);
// Right inside the stats record, around everything else: Server-Timing, the metrics data point and the
// request's log line see the final response, including those onError and notFound render.
app.use(observeRequests);
app.use(
  requestId({
    // hono/request-id accepts a wider alphabet than the contract, so it only stores the id
    // (headerName "") and the generator applies the contract's rule.
    headerName: "",
    generator: (c) => requestIdFor(c.req.header("X-Request-Id")),
  }),
);
app.use(async (c, next) => {
  c.header("X-Request-Id", c.get("requestId"));
  await next();
});
app.use(secureHeaders());
// Outside every middleware that can answer (CORS, body limit, auth …), so account responses leave as private, errors too.
app.use(keepAccountResponsesPrivate);
app.use((c, next) => {
  const origins = c.env.CORS_ORIGINS === "*" ? "*" : c.env.CORS_ORIGINS.split(",").map((o) => o.trim());
  return cors({
    origin: origins,
    allowHeaders: ["Authorization", "Content-Type", "Idempotency-Key", "If-None-Match", "X-Request-Id"],
    exposeHeaders: ["X-Request-Id", "X-Cache", "ETag", "Location", "Retry-After", "Server-Timing", "Idempotent-Replayed"],
    maxAge: 600,
  })(c, next);
});
app.use(
  bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw new ApiError(413, "payload_too_large", `Request bodies are limited to ${MAX_BODY_BYTES} bytes`);
    },
  }),
);
// Every path, health checks included: a deployment with development settings must fail its probes too.
app.use(refuseUnsafeSettings);
app.use("/api/*", parseJsonBody);
app.use(async (c, next) => {
  c.set("db", createDb(c.env));
  await next();
});

app.route("/", health);
app.route("/api/v1/auth", auth);
app.route("/api/v1/products", products);
app.route("/api/v1/categories", categories);
app.route("/api/v1/orders", orders);
app.route("/", docs(app));

app.notFound((c) => {
  throw ApiError.notFound(`No route for ${c.req.method} ${new URL(c.req.url).pathname}`);
});
app.onError(renderError);
