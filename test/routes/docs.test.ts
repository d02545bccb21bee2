import { describe, expect, it } from "vitest";
import { api } from "../support/api";

type OpenApiDocument = {
  openapi: string;
  info: { title: string; version: string };
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, unknown>>;
  components: { securitySchemes?: Record<string, unknown>; schemas?: Record<string, { type?: string; properties?: object }> };
};

async function openApiDocument(): Promise<OpenApiDocument> {
  const res = await api("/openapi.json");
  expect(res.status).toBe(200);
  expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
  return (await res.json()) as OpenApiDocument;
}

// Operations of docs/api.md (accounts, catalog and operations; test/docs/api-contract.test.ts checks them all), by their full paths.
const CONTRACT_OPERATIONS = [
  ["post", "/api/v1/auth/register"],
  ["post", "/api/v1/auth/login"],
  ["get", "/api/v1/auth/me"],
  ["get", "/api/v1/products"],
  ["post", "/api/v1/products"],
  ["get", "/api/v1/products/{id}"],
  ["patch", "/api/v1/products/{id}"],
  ["delete", "/api/v1/products/{id}"],
  ["get", "/api/v1/categories"],
  ["get", "/health"],
  ["get", "/health/ready"],
  ["get", "/openapi.json"],
  ["get", "/docs"],
] as const;
const OPERATIONAL_PATHS = ["/health", "/health/ready", "/openapi.json", "/docs"];

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3.1 document about this API", async () => {
    const doc = await openApiDocument();
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.info.title).toBe("Tenpo API");
    expect(doc.info.version).toBeTruthy();
    expect(doc.servers).toEqual([{ url: "/" }]);
  });

  it.each(CONTRACT_OPERATIONS)("lists %s %s under its full path", async (method, path) => {
    const doc = await openApiDocument();
    expect(Object.keys(doc.paths)).toContain(path);
    expect(Object.keys(doc.paths[path]!)).toContain(method);
  });

  it("puts every resource under /api/v1 (no path is missing its mount prefix)", async () => {
    const doc = await openApiDocument();
    for (const path of Object.keys(doc.paths)) {
      if (!OPERATIONAL_PATHS.includes(path)) expect(path).toMatch(/^\/api\/v1\//);
    }
  });

  it("groups every operation under a declared tag, and declares no tag without operations", async () => {
    const doc = (await openApiDocument()) as OpenApiDocument & { tags: Array<{ name: string }> };
    const declared = doc.tags.map((tag) => tag.name).sort();
    const used = new Set<string>();
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const tags = (operation as { tags?: string[] }).tags ?? [];
        expect(tags.length, `${method} ${path} has a tag`).toBeGreaterThan(0);
        for (const tag of tags) used.add(tag);
      }
    }
    expect([...used].sort()).toEqual(declared);
  });

  it("declares the bearer scheme and the error shapes", async () => {
    const doc = await openApiDocument();
    expect(doc.components.securitySchemes?.bearerAuth).toEqual({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
    expect(doc.components.schemas?.Error?.properties).toHaveProperty("error");
    expect(doc.components.schemas?.ValidationError?.properties).toHaveProperty("error");
  });

  it("answers the same document every time", async () => {
    const [first, second] = await Promise.all([api("/openapi.json"), api("/openapi.json")]);
    expect(await first.text()).toBe(await second.text());
  });
});

describe("GET /docs", () => {
  it("is an HTML page that loads only same-origin assets, each served with its type", async () => {
    const res = await api("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(res.headers.get("Content-Security-Policy")).toContain("script-src 'self'");
    const html = await res.text();

    // Nothing from another host: no absolute or scheme-relative URL anywhere in the page.
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/(src|href)="\/\//i);

    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((url) => !url.startsWith("data:"));
    const expectedTypes: Record<string, RegExp> = { ".js": /^text\/javascript/, ".css": /^text\/css/ };
    expect(assets.filter((url) => url.split("?")[0]!.endsWith(".js"))).toHaveLength(2);
    expect(assets.filter((url) => url.split("?")[0]!.endsWith(".css"))).toHaveLength(1);
    for (const url of assets) {
      expect(url).toMatch(/^\/docs\//);
      const asset = await api(url);
      expect(asset.status, url).toBe(200);
      const extension = url.split("?")[0]!.match(/\.[a-z]+$/)![0];
      expect(asset.headers.get("Content-Type"), url).toMatch(expectedTypes[extension]!);
      expect((await asset.text()).length, url).toBeGreaterThan(100);
    }
  });

  it("serves the real Swagger UI files, not empty stand-ins", async () => {
    const script = await (await api("/docs/swagger-ui-bundle.js")).text();
    expect(script.length).toBeGreaterThan(500_000);
    expect(script).toContain("SwaggerUIBundle");
    const styles = await (await api("/docs/swagger-ui.css")).text();
    expect(styles.length).toBeGreaterThan(50_000);
    expect(styles).toContain(".swagger-ui");
  });

  // They come from the static assets (wrangler.toml [assets]) through the app, as they came from the bundle:
  // same type, a year of caching (their URLs carry the version), the app's headers, never a bare 304.
  it("serves the Swagger UI files from the static assets with the app's headers and a year of caching", async () => {
    for (const path of ["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"]) {
      const res = await api(`${path}?v=1`, { headers: { "If-None-Match": "*" } });
      expect(res.status, path).toBe(200);
      expect(res.headers.get("Cache-Control"), path).toBe("public, max-age=31536000, immutable");
      expect(res.headers.get("X-Request-Id"), path).toBeTruthy();
      expect(res.headers.get("X-Content-Type-Options"), path).toBe("nosniff");
      expect((await res.text()).length, path).toBeGreaterThan(50_000);
    }
  });
});
