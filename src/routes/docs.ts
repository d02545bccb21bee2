import { z, type OpenAPIHono } from "@hono/zod-openapi";
import swaggerUiScript from "swagger-ui-dist/swagger-ui-bundle.js";
import swaggerUiStyles from "swagger-ui-dist/swagger-ui.css";
import { version as swaggerUiVersion } from "swagger-ui-dist/package.json";
import type { AppEnv } from "../app-env";
import { createRouter } from "../router";
import { ErrorSchema, ValidationErrorSchema } from "../schemas/common";

/** What the docs need of the app: its OpenAPI registry, complete once every router is mounted. */
type DocumentedApp = Pick<OpenAPIHono<AppEnv>, "getOpenAPI31Document">;
type DocumentConfig = Parameters<DocumentedApp["getOpenAPI31Document"]>[0];

const DOCUMENT_CONFIG: DocumentConfig = {
  openapi: "3.1.0",
  info: {
    title: "Tenpo API",
    version: "1.0.0",
    description:
      "Accounts, catalog and orders of the Tenpo shop. JSON in and out, `snake_case` fields, money as decimal " +
      'strings ("19.99"), ISO 8601 UTC timestamps. Errors are `{"error": {"code", "message", "details"?}}`. ' +
      "Authenticated routes take `Authorization: Bearer <token>` from `POST /api/v1/auth/login`.",
  },
  servers: [{ url: "/" }],
  tags: [
    { name: "Auth", description: "Registration, login and the current user" },
    { name: "Products", description: "The catalog: public reads, admin writes" },
    { name: "Categories", description: "Catalog categories and their product counts" },
    { name: "Orders", description: "The caller's orders: place (idempotent with Idempotency-Key), read, cancel" },
    { name: "Operations", description: "Health checks and this documentation" },
  ],
};

// The Swagger UI files are served by the Worker itself (bundled as text, see wrangler.toml), so the
// page works offline and loads nothing from another host. The version in the URLs lets browsers keep
// them for a year: a new swagger-ui-dist gets new URLs.
const ASSETS = {
  script: `/docs/swagger-ui-bundle.js?v=${swaggerUiVersion}`,
  styles: `/docs/swagger-ui.css?v=${swaggerUiVersion}`,
  init: "/docs/swagger-initializer.js",
} as const;
const IMMUTABLE = "public, max-age=31536000, immutable";

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Tenpo API reference</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="${ASSETS.styles}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${ASSETS.script}"></script>
  <script src="${ASSETS.init}"></script>
</body>
</html>
`;

// A file rather than an inline script, so that the page's CSP can forbid inline scripts.
// validatorUrl: null keeps Swagger UI from sending the document to its online validator.
const INITIALIZER = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
});
`;

// Same-origin only. Swagger UI sets inline styles and uses data: images in its stylesheet.
const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * GET /openapi.json (the OpenAPI 3.1 document of `app`, from the zod schemas its routes validate with)
 * and GET /docs (Swagger UI over it). Mount it into the app it documents: `app.route("/", docs(app))`.
 * The document is generated on the first request, when every router is mounted, and kept for the
 * life of the isolate.
 */
export function docs(app: DocumentedApp) {
  const router = createRouter();
  let document: string | undefined;

  // Registered here, merged into the app's registry when the router is mounted.
  router.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
  });
  // The error shapes are in the document even before a route refers to them.
  router.openAPIRegistry.register("Error", ErrorSchema);
  router.openAPIRegistry.register("ValidationError", ValidationErrorSchema);
  registerOperations(router);

  router.get("/openapi.json", (c) => {
    document ??= JSON.stringify(withServiceUnavailable(app.getOpenAPI31Document(DOCUMENT_CONFIG)));
    return c.body(document, 200, { "Content-Type": "application/json; charset=UTF-8" });
  });

  router.get("/docs", (c) => {
    c.header("Content-Security-Policy", PAGE_CSP);
    return c.html(PAGE);
  });
  router.get("/docs/swagger-initializer.js", (c) =>
    c.body(INITIALIZER, 200, { "Content-Type": "text/javascript; charset=UTF-8", "Cache-Control": "no-cache" }),
  );
  router.get("/docs/swagger-ui-bundle.js", (c) =>
    c.body(swaggerUiScript, 200, { "Content-Type": "text/javascript; charset=UTF-8", "Cache-Control": IMMUTABLE }),
  );
  router.get("/docs/swagger-ui.css", (c) =>
    c.body(swaggerUiStyles, 200, { "Content-Type": "text/css; charset=UTF-8", "Cache-Control": IMMUTABLE }),
  );

  return router;
}

/**
 * Every /api/v1 operation needs the database (reads of the catalog only when nothing is cached
 * young enough): each may answer 503 `service_unavailable` with `Retry-After` while it does not
 * answer (README "Failure modes"). Added here once rather than on every route.
 */
function withServiceUnavailable<T extends { paths?: unknown }>(doc: T): T {
  type Operation = { responses?: Record<string, unknown> };
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Record<string, Operation>>)) {
    if (!path.startsWith("/api/v1/")) continue;
    for (const operation of Object.values(item)) {
      if (typeof operation !== "object" || operation === null || !operation.responses) continue;
      operation.responses["503"] ??= {
        description:
          "`service_unavailable`: the database is not answering (timed out, unreachable or overloaded); retry after " +
          "`Retry-After` seconds. POST /api/v1/orders is safe to retry with the same Idempotency-Key.",
        headers: { "Retry-After": { description: "Seconds to wait before retrying", schema: { type: "integer" } } },
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      };
    }
  }
  return doc;
}

/**
 * The operational routes in the document. /health and /health/ready are served by src/routes/health.ts,
 * a plain Hono router, so they are described here; if that router moves to createRoute, drop them here.
 */
function registerOperations(router: ReturnType<typeof createRouter>) {
  const CheckSchema = z.object({
    status: z.enum(["ok", "error"]),
    backend: z.enum(["kv", "upstash"]).optional(),
    error: z.string().optional().openapi({ example: "database is not answering" }),
  });
  const ReadinessSchema = z
    .object({
      status: z.enum(["ok", "unavailable"]),
      checks: z.object({ database: CheckSchema, cache: CheckSchema }),
    })
    .openapi("Readiness");

  router.openAPIRegistry.registerPath({
    method: "get",
    path: "/health",
    operationId: "getHealth",
    security: [],
    tags: ["Operations"],
    summary: "Liveness: the worker runs",
    responses: {
      200: {
        description: "The worker runs",
        content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } },
      },
    },
  });
  router.openAPIRegistry.registerPath({
    method: "get",
    path: "/health/ready",
    operationId: "getReadiness",
    security: [],
    tags: ["Operations"],
    summary: "Readiness: the database and the cache answer",
    responses: {
      200: { description: "Ready", content: { "application/json": { schema: ReadinessSchema } } },
      503: {
        description: "A dependency is not answering (`Retry-After` says when to try again)",
        content: { "application/json": { schema: ReadinessSchema } },
      },
    },
  });
  router.openAPIRegistry.registerPath({
    method: "get",
    path: "/openapi.json",
    operationId: "getOpenApiDocument",
    security: [],
    tags: ["Operations"],
    summary: "This OpenAPI 3.1 document",
    responses: {
      200: { description: "The document", content: { "application/json": { schema: { type: "object" } } } },
    },
  });
  router.openAPIRegistry.registerPath({
    method: "get",
    path: "/docs",
    operationId: "getDocs",
    security: [],
    tags: ["Operations"],
    summary: "A browsable reference of this API (Swagger UI, served by the API itself)",
    responses: {
      200: { description: "An HTML page", content: { "text/html": { schema: { type: "string" } } } },
    },
  });
}
