import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import { createRouter } from "../router";
import { ErrorSchema, ValidationErrorSchema } from "../schemas/common";

/** What the document needs of the app: its OpenAPI registry, complete once every router is mounted. */
export type DocumentedApp = Pick<OpenAPIHono<AppEnv>, "getOpenAPI31Document">;
type DocumentConfig = Parameters<DocumentedApp["getOpenAPI31Document"]>[0];

/** The parts of the document no route declares: what the API is, where it is served, its tags. */
export const DOCUMENT_CONFIG: DocumentConfig = {
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
    { name: "Carts", description: "Guest and customer carts: open, read, set and remove lines (If-Match with their ETag), claim" },
    { name: "Operations", description: "Health checks and this documentation" },
  ],
};

/**
 * GET /openapi.json: the OpenAPI 3.1 document of `app`, from the zod schemas its routes validate with.
 * The document is generated on the first request, when every router is mounted, and kept for the life
 * of the isolate. Mount it into the app it describes (src/routes/docs.ts does).
 */
export function openApiDocument(app: DocumentedApp) {
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

  router.get("/openapi.json", (c) => {
    document ??= JSON.stringify(app.getOpenAPI31Document(DOCUMENT_CONFIG));
    return c.body(document, 200, { "Content-Type": "application/json; charset=UTF-8" });
  });

  return router;
}
