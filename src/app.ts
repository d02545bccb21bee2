import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { cors } from "hono/cors";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "./app-env";
import { ApiError } from "./errors";
import { renderError } from "./middleware/error-handler";
import { health } from "./routes/health";

const MAX_BODY_BYTES = 64 * 1024;
const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

// Middleware order, outermost first: every response (errors included) gets a request id and
// security headers; CORS answers preflights before any body is read.
export const app = new Hono<AppEnv>();

// hono/request-id accepts a wider alphabet than the contract, so it only stores the id here
// (headerName "") and the generator applies the contract's rule; the header is set for every response.
app.use(
  requestId({
    headerName: "",
    generator: (c) => {
      const sent = c.req.header("X-Request-Id");
      return sent && SANE_REQUEST_ID.test(sent) ? sent : crypto.randomUUID();
    },
  }),
);
app.use(async (c, next) => {
  c.header("X-Request-Id", c.get("requestId"));
  await next();
});
app.use(secureHeaders());
app.use((c, next) => {
  const origins = c.env.CORS_ORIGINS === "*" ? "*" : c.env.CORS_ORIGINS.split(",").map((o) => o.trim());
  return cors({
    origin: origins,
    allowHeaders: ["Authorization", "Content-Type", "Idempotency-Key", "If-None-Match", "X-Request-Id"],
    exposeHeaders: ["X-Request-Id", "X-Cache", "ETag", "Location", "Retry-After", "Server-Timing"],
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

app.route("/", health);

app.notFound((c) => {
  throw ApiError.notFound(`No route for ${c.req.method} ${new URL(c.req.url).pathname}`);
});
app.onError(renderError);
