import { z } from "@hono/zod-openapi";
import { MoneyInputSchema, MoneySchema, PaginationQuerySchema, TimestampSchema, pageOf, text } from "./common";

/** Products and categories as the API reads and writes them. */

export const ProductSchema = z
  .object({
    id: z.number().int().openapi({ example: 42 }),
    name: z.string().openapi({ example: "Classic Wireless Headphones" }),
    description: z.string(),
    category: z.string().openapi({ example: "electronics" }),
    price: MoneySchema,
    stock: z.number().int().openapi({ example: 1200 }),
    created_at: TimestampSchema,
    updated_at: TimestampSchema,
  })
  .openapi("Product");

export type ProductBody = z.infer<typeof ProductSchema>;

export const ProductPageSchema = pageOf(ProductSchema, "ProductPage");

export const CategorySchema = z
  .object({
    category: z.string().openapi({ example: "electronics" }),
    product_count: z.number().int().openapi({ example: 500 }),
  })
  .openapi("Category");

export type CategoryBody = z.infer<typeof CategorySchema>;

const productSorts = ["id", "price", "-price", "created_at", "-created_at", "name"] as const;
export type ProductSort = (typeof productSorts)[number];

const MAX_SEARCH_LENGTH = 100;
const MAX_CATEGORY_LENGTH = 50;

export const ProductListQuerySchema = PaginationQuerySchema.extend({
  category: text().min(1).max(MAX_CATEGORY_LENGTH).optional().openapi({ description: "Exact category", example: "electronics" }),
  min_price: MoneyInputSchema.optional().openapi({ description: "Lowest price, inclusive", example: "10.00" }),
  max_price: MoneyInputSchema.optional().openapi({ description: "Highest price, inclusive", example: "99.99" }),
  q: text()
    .min(1, "q must not be empty")
    .max(MAX_SEARCH_LENGTH, `q must be at most ${MAX_SEARCH_LENGTH} characters`)
    .optional()
    .openapi({
      description: "Case-insensitive substring of the name; % and _ are literal characters, not wildcards",
      example: "wireless",
    }),
  sort: z
    .enum(productSorts, { error: `sort must be one of ${productSorts.join(", ")}` })
    .optional()
    .default("id")
    .openapi({
      description: "Sort key, '-' for descending. Ties are broken by id in the same direction, so '-x' is exactly the reverse of 'x'.",
    }),
}).refine((query) => !(query.min_price && query.max_price && Number(query.min_price) > Number(query.max_price)), {
  message: "min_price must not be greater than max_price",
  path: ["min_price"],
});

export type ProductListQuery = z.output<typeof ProductListQuerySchema>;

const productFields = {
  name: text().trim().min(1).max(200).openapi({ example: "Classic Wireless Headphones" }),
  description: text({ multiline: true }).max(2000).openapi({ example: "Over-ear, 30 h battery." }),
  category: text().trim().min(1).max(MAX_CATEGORY_LENGTH).openapi({ example: "electronics" }),
  price: MoneyInputSchema,
  stock: z.number().int().min(0).max(1_000_000).openapi({ description: "A JSON integer", example: 100 }),
};

export const ProductCreateSchema = z
  .object({
    ...productFields,
    description: productFields.description.optional().openapi({ description: "Empty when not given" }),
    stock: productFields.stock.optional().openapi({ description: "A JSON integer; 0 when not given" }),
  })
  .openapi("ProductCreate");

export type ProductCreateInput = z.output<typeof ProductCreateSchema>;

export const ProductUpdateSchema = z
  .object(productFields)
  .partial()
  .refine((changes) => Object.keys(changes).length > 0, { message: "Give at least one field to change" })
  .openapi("ProductUpdate");

export type ProductUpdateInput = z.output<typeof ProductUpdateSchema>;
