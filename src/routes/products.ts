import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AuthenticatedEnv } from "../app-env";
import { invalidateCatalog } from "../cache/catalog-cache";
import { serveCatalogRead } from "../cache/http-caching";
import { CATEGORIES_RESOURCE, listResource, productResource } from "../cache/keys";
import { STALE_IF_ERROR_MS } from "../cache/policy";
import { listReach } from "../cache/reach";
import type { StockShape } from "../cache/stock-view";
import { requireAdmin } from "../middleware/auth";
import { createRouter } from "../router";
import { IdParamSchema, bodyErrorResponses, errorResponses } from "../schemas/common";
import {
  CategorySchema,
  MAX_LIST_DEPTH,
  ProductCreateSchema,
  ProductListQuerySchema,
  ProductPageSchema,
  ProductSchema,
  ProductUpdateSchema,
} from "../schemas/products";
import { createProduct, deleteProduct, getProduct, listCategories, listProducts, productStocks, updateProduct } from "../services/products";

const PRODUCT_TAGS = ["Products"];
const PUBLIC: [] = [];
const ADMIN_SECURITY = [{ bearerAuth: [] }];
const productJson = { "application/json": { schema: ProductSchema } };

// Catalog reads are cached (src/cache/, README "Catalog cache"); these document what clients see.
const cachedReadHeaders = {
  ETag: { description: "Strong entity tag of the body", required: true, schema: { type: "string" as const } },
  "Cache-Control": {
    description: "`public, max-age=N` (N ≤ 5: what is left of the 5 s freshness bound); `private, no-store` for admin reads",
    required: true,
    schema: { type: "string" as const },
  },
  "X-Cache": {
    description:
      "HIT, STALE (served while refreshed, never older than 5 s; or, only while the database is not answering, " +
      `up to ${STALE_IF_ERROR_MS / 1000} s old: stale-if-error), MISS (from the database) or BYPASS (admin read, or the cache is unavailable)`,
    required: true,
    schema: { type: "string" as const, enum: ["HIT", "MISS", "STALE", "BYPASS"] },
  },
};
/** What every catalog read may fail with: a database that does not answer while nothing usable is cached. */
const readFailures = { 500: errorResponses[500], 503: errorResponses[503] };
/** What every admin write may answer besides its own errors (requireAdmin, the body limit, the database). */
const adminFailures = {
  401: errorResponses[401],
  403: { ...errorResponses[403], description: "`forbidden`: the account is not an admin" },
  500: errorResponses[500],
  503: errorResponses[503],
};
const notModified = { description: "Not modified: the If-None-Match tag matches the current body", headers: cachedReadHeaders };
const ifNoneMatchHeader = z.object({
  "if-none-match": z.string().optional().openapi({ description: "An ETag from an earlier response: 304 when it still matches" }),
});

// What keeps each read current in this isolate's memory between loads (src/cache/stock-view.ts): a
// detail and a page by the stock of the products they show, categories (no stock) by the version.
const detailStock: StockShape = { productsIn: (data) => [data], read: productStocks };
const pageStock: StockShape = {
  productsIn: (data) => {
    const items = (data as { items?: unknown } | null)?.items;
    return Array.isArray(items) ? items : undefined;
  },
  read: productStocks,
};

/** After an admin write: the next read through this isolate is exact, every other within 1 s (src/cache/catalog-cache.ts). */
const invalidate = (c: Context<AuthenticatedEnv>) => invalidateCatalog({ env: c.env, db: c.get("db") });

/** /api/v1/products: public catalog reads, admin writes. */
export const products = createRouter();

products.openapi(
  createRoute({
    method: "get",
    path: "/",
    operationId: "listProducts",
    tags: PRODUCT_TAGS,
    summary: "List products",
    security: PUBLIC,
    description:
      "Live products, filtered, sorted and paginated. A page past the end is 200 with empty items. " +
      `A page must start within the first ${MAX_LIST_DEPTH} matches ((page − 1) × page_size < ${MAX_LIST_DEPTH}); a deeper one is 400 naming \`page\` with the last page for that page_size.`,
    request: { query: ProductListQuerySchema, headers: ifNoneMatchHeader },
    responses: {
      200: {
        description: "One page of products",
        headers: cachedReadHeaders,
        content: { "application/json": { schema: ProductPageSchema } },
      },
      304: notModified,
      400: errorResponses[400],
      ...readFailures,
    },
  }),
  (c) => {
    const query = c.req.valid("query");
    return serveCatalogRead(c, listResource(query), () => listProducts(c.get("db"), query), pageStock, listReach(query));
  },
);

products.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    operationId: "getProduct",
    tags: PRODUCT_TAGS,
    summary: "Get a product",
    description: "A live product; one removed from the catalog is 404.",
    security: PUBLIC,
    request: { params: IdParamSchema, headers: ifNoneMatchHeader },
    responses: {
      200: { description: "The product", headers: cachedReadHeaders, content: productJson },
      304: notModified,
      400: errorResponses[400],
      404: errorResponses[404],
      ...readFailures,
    },
  }),
  (c) => {
    const { id } = c.req.valid("param");
    return serveCatalogRead(c, productResource(id), () => getProduct(c.get("db"), id), detailStock);
  },
);

products.openapi(
  createRoute({
    method: "post",
    path: "/",
    operationId: "createProduct",
    tags: PRODUCT_TAGS,
    summary: "Create a product (admin)",
    security: ADMIN_SECURITY,
    middleware: [requireAdmin] as const,
    request: {
      body: { required: true, content: { "application/json": { schema: ProductCreateSchema } } },
    },
    responses: {
      201: {
        description: "The new product",
        headers: { Location: { description: "The product's URL", required: true, schema: { type: "string" } } },
        content: productJson,
      },
      ...bodyErrorResponses,
      ...adminFailures,
    },
  }),
  async (c) => {
    const product = await createProduct(c.get("db"), c.req.valid("json"));
    await invalidate(c);
    c.header("Location", `/api/v1/products/${product.id}`);
    return c.json(product, 201);
  },
);

products.openapi(
  createRoute({
    method: "patch",
    path: "/{id}",
    operationId: "updateProduct",
    tags: PRODUCT_TAGS,
    summary: "Change some fields of a product (admin)",
    description: "Only the fields given change; at least one must be given. A product removed from the catalog is 404.",
    security: ADMIN_SECURITY,
    middleware: [requireAdmin] as const,
    request: {
      params: IdParamSchema,
      body: { required: true, content: { "application/json": { schema: ProductUpdateSchema } } },
    },
    responses: {
      200: { description: "The changed product", content: productJson },
      ...bodyErrorResponses,
      ...adminFailures,
      404: errorResponses[404],
    },
  }),
  async (c) => {
    const product = await updateProduct(c.get("db"), c.req.valid("param").id, c.req.valid("json"));
    await invalidate(c);
    return c.json(product, 200);
  },
);

products.openapi(
  createRoute({
    method: "delete",
    path: "/{id}",
    operationId: "deleteProduct",
    tags: PRODUCT_TAGS,
    summary: "Remove a product from the catalog (admin)",
    description: "A soft delete: past orders still show what was bought.",
    security: ADMIN_SECURITY,
    middleware: [requireAdmin] as const,
    request: { params: IdParamSchema },
    responses: {
      204: { description: "Removed" },
      400: errorResponses[400],
      ...adminFailures,
      404: errorResponses[404],
      // The body limit applies to every request that carries a body, this one included.
      413: bodyErrorResponses[413],
    },
  }),
  async (c) => {
    await deleteProduct(c.get("db"), c.req.valid("param").id);
    await invalidate(c);
    return c.body(null, 204);
  },
);

/** /api/v1/categories */
export const categories = createRouter();

categories.openapi(
  createRoute({
    method: "get",
    path: "/",
    operationId: "listCategories",
    tags: ["Categories"],
    security: PUBLIC,
    summary: "List categories",
    description: "Categories of live products with their product counts, by category name.",
    request: { headers: ifNoneMatchHeader },
    responses: {
      200: {
        description: "The categories",
        headers: cachedReadHeaders,
        content: { "application/json": { schema: z.array(CategorySchema) } },
      },
      304: notModified,
      ...readFailures,
    },
  }),
  (c) => serveCatalogRead(c, CATEGORIES_RESOURCE, () => listCategories(c.get("db")), "version"),
);
