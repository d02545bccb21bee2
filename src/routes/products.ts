import { createRoute, z } from "@hono/zod-openapi";
import { requireAdmin } from "../middleware/auth";
import { createRouter } from "../router";
import { IdParamSchema, errorResponses } from "../schemas/common";
import {
  CategorySchema,
  ProductCreateSchema,
  ProductListQuerySchema,
  ProductPageSchema,
  ProductSchema,
  ProductUpdateSchema,
} from "../schemas/products";
import {
  createProduct,
  deleteProduct,
  getProduct,
  listCategories,
  listProducts,
  updateProduct,
} from "../services/products";

const PRODUCT_TAGS = ["Products"];
const ADMIN_SECURITY = [{ bearerAuth: [] }];
const productJson = { "application/json": { schema: ProductSchema } };

/** /api/v1/products: public catalog reads, admin writes. */
export const products = createRouter();

products.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: PRODUCT_TAGS,
    summary: "List products",
    description: "Live products, filtered, sorted and paginated. A page past the end is 200 with empty items.",
    request: { query: ProductListQuerySchema },
    responses: {
      200: { description: "One page of products", content: { "application/json": { schema: ProductPageSchema } } },
      400: errorResponses[400],
    },
  }),
  async (c) => c.json(await listProducts(c.get("db"), c.req.valid("query")), 200),
);

products.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    tags: PRODUCT_TAGS,
    summary: "Get a product",
    request: { params: IdParamSchema },
    responses: {
      200: { description: "The product", content: productJson },
      400: errorResponses[400],
      404: errorResponses[404],
    },
  }),
  async (c) => c.json(await getProduct(c.get("db"), c.req.valid("param").id), 200),
);

products.openapi(
  createRoute({
    method: "post",
    path: "/",
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
        headers: { Location: { description: "The product's URL", schema: { type: "string" } } },
        content: productJson,
      },
      400: errorResponses[400],
      401: errorResponses[401],
      403: errorResponses[403],
    },
  }),
  async (c) => {
    const product = await createProduct(c.get("db"), c.req.valid("json"));
    c.header("Location", `/api/v1/products/${product.id}`);
    return c.json(product, 201);
  },
);

products.openapi(
  createRoute({
    method: "patch",
    path: "/{id}",
    tags: PRODUCT_TAGS,
    summary: "Change some fields of a product (admin)",
    security: ADMIN_SECURITY,
    middleware: [requireAdmin] as const,
    request: {
      params: IdParamSchema,
      body: { required: true, content: { "application/json": { schema: ProductUpdateSchema } } },
    },
    responses: {
      200: { description: "The changed product", content: productJson },
      400: errorResponses[400],
      401: errorResponses[401],
      403: errorResponses[403],
      404: errorResponses[404],
    },
  }),
  async (c) => c.json(await updateProduct(c.get("db"), c.req.valid("param").id, c.req.valid("json")), 200),
);

products.openapi(
  createRoute({
    method: "delete",
    path: "/{id}",
    tags: PRODUCT_TAGS,
    summary: "Remove a product from the catalog (admin)",
    description: "A soft delete: past orders still show what was bought.",
    security: ADMIN_SECURITY,
    middleware: [requireAdmin] as const,
    request: { params: IdParamSchema },
    responses: {
      204: { description: "Removed" },
      400: errorResponses[400],
      401: errorResponses[401],
      403: errorResponses[403],
      404: errorResponses[404],
    },
  }),
  async (c) => {
    await deleteProduct(c.get("db"), c.req.valid("param").id);
    return c.body(null, 204);
  },
);

/** /api/v1/categories */
export const categories = createRouter();

categories.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["Categories"],
    summary: "List categories",
    description: "Categories of live products with their product counts, by category name.",
    responses: {
      200: { description: "The categories", content: { "application/json": { schema: z.array(CategorySchema) } } },
    },
  }),
  async (c) => c.json(await listCategories(c.get("db")), 200),
);
