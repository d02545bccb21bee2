import type { Context } from "hono";
import { version as swaggerUiVersion } from "swagger-ui-dist/package.json";
import type { AppEnv } from "../app-env";
import { createRouter } from "../router";
import { openApiDocument, type DocumentedApp } from "./openapi";

// The page loads only files of this origin, so it works offline and loads nothing from another host.
// The two Swagger UI files are Workers Static Assets (wrangler.toml [assets], written from swagger-ui-dist
// by scripts/docs-assets.ts), not part of the bundle. The version in their URLs lets browsers keep them
// for a year: a new swagger-ui-dist gets new URLs.
const ASSETS = {
  script: `/docs/swagger-ui-bundle.js?v=${swaggerUiVersion}`,
  styles: `/docs/swagger-ui.css?v=${swaggerUiVersion}`,
  init: "/docs/swagger-initializer.js",
} as const;
const IMMUTABLE = "public, max-age=31536000, immutable";

/** The Swagger UI files served from the static assets, with the type each is served as. */
const SWAGGER_UI_FILES = {
  "/docs/swagger-ui-bundle.js": "text/javascript; charset=UTF-8",
  "/docs/swagger-ui.css": "text/css; charset=UTF-8",
} as const;

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
 * GET /openapi.json (src/routes/openapi.ts: the OpenAPI 3.1 document of `app`) and GET /docs (Swagger
 * UI over it, with its initializer and the two Swagger UI files). Mount it into the app it documents:
 * `app.route("/", docs(app))`.
 */
export function docs(app: DocumentedApp) {
  const router = createRouter();

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
  router.route("/", openApiDocument(app));

  router.get("/docs", (c) => {
    c.header("Content-Security-Policy", PAGE_CSP);
    return c.html(PAGE);
  });
  router.get("/docs/swagger-initializer.js", (c) =>
    c.body(INITIALIZER, 200, { "Content-Type": "text/javascript; charset=UTF-8", "Cache-Control": "no-cache" }),
  );
  for (const [path, contentType] of Object.entries(SWAGGER_UI_FILES)) {
    router.get(path, (c) => swaggerUiFile(c, path, contentType));
  }

  return router;
}

/**
 * One Swagger UI file from the static assets (the ASSETS binding), answered like every other response
 * of the app (its middleware ran) with its type and a year of caching. Fetched unconditionally, so a
 * browser's If-None-Match gets the file as before, never a bare 304. A deployment whose assets are
 * missing is a build error and answers 500.
 */
async function swaggerUiFile(c: Context<AppEnv>, path: string, contentType: string): Promise<Response> {
  const asset = await c.env.ASSETS.fetch(new URL(path, c.req.url));
  if (asset.status !== 200 || !asset.body) {
    await asset.body?.cancel();
    throw new Error(`static asset ${path} answered ${asset.status}: were the assets written (scripts/docs-assets.ts)?`);
  }
  return c.body(asset.body, 200, { "Content-Type": contentType, "Cache-Control": IMMUTABLE });
}
