import { z } from "@hono/zod-openapi";
import { MoneyInputSchema, MoneyQuerySchema, MoneySchema, PaginationQuerySchema, TimestampSchema, pageOf, text } from "./common";

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

/**
 * The fewest letters or digits a search may have. `name ILIKE '%q%'` is answered by the trigram
 * index (pg_trgm) only through the trigrams it can take from q, and pg_trgm builds them from the runs
 * of letters and digits alone (padded with spaces only where q does not end). With 3 letters or digits
 * q always yields one; with fewer it often yields none (`wi`, `a--`, `---`), and then the whole index is
 * read, so the planner scans the table instead. On the 10,000 demo products (PostgreSQL 15, EXPLAIN
 * ANALYZE; test/db/indexes.test.ts pins it): `wi` or `---` → the index returns all 10,000 rows,
 * `wir` → the 804 matches. Spaces and punctuation count for the match but not here.
 */
export const MIN_SEARCH_WORD_CHARACTERS = 3;

/**
 * How deep a product list goes: a page must start within the first 10,000 matches, i.e.
 * (page − 1) × page_size < MAX_LIST_DEPTH, so any page_size reaches each of them. Every row before a
 * page's OFFSET is read and thrown away; 10,000 is the whole demo catalog at any page size. Deeper pages
 * are what scrapers ask for, not shoppers: a client that needs more narrows the list with filters or a sort.
 */
export const MAX_LIST_DEPTH = 10_000;

/** The last page of a product list for this page_size (see MAX_LIST_DEPTH). */
export const lastListPage = (pageSize: number): number => Math.ceil(MAX_LIST_DEPTH / pageSize);

const WORD_CHARACTER = /[\p{L}\p{N}]/gu;
const wordCharacters = (text: string): number => text.match(WORD_CHARACTER)?.length ?? 0;

export const ProductListQuerySchema = PaginationQuerySchema.extend({
  // The same rule as every list's page, documented with this list's depth: the most pages any page_size has.
  page: PaginationQuerySchema.shape.page.openapi({
    type: "integer",
    minimum: 1,
    maximum: MAX_LIST_DEPTH,
    default: 1,
    description: `A page must start within the first ${MAX_LIST_DEPTH} matches: at most ${MAX_LIST_DEPTH} ÷ page_size, rounded up`,
  }),
  category: text().min(1).max(MAX_CATEGORY_LENGTH).optional().openapi({ description: "Exact category", example: "electronics" }),
  min_price: MoneyQuerySchema.optional().openapi({ description: "Lowest price, inclusive", example: "10.00" }),
  max_price: MoneyQuerySchema.optional().openapi({
    description: "Highest price, inclusive; not below min_price",
    example: "99.99",
  }),
  q: text()
    .max(MAX_SEARCH_LENGTH, `q must be at most ${MAX_SEARCH_LENGTH} characters`)
    .refine((q) => wordCharacters(q) >= MIN_SEARCH_WORD_CHARACTERS, {
      message: `q must contain at least ${MIN_SEARCH_WORD_CHARACTERS} letters or digits`,
    })
    .optional()
    .openapi({
      description:
        "Case-insensitive substring of the name; % and _ are literal characters, not wildcards. " +
        `At least ${MIN_SEARCH_WORD_CHARACTERS} letters or digits (spaces and punctuation match but do not count), at most ${MAX_SEARCH_LENGTH} characters.`,
      example: "wireless",
    }),
  sort: z
    .enum(productSorts, { error: `sort must be one of ${productSorts.join(", ")}` })
    .optional()
    .default("id")
    .openapi({
      description: "Sort key, '-' for descending. Ties are broken by id in the same direction, so '-x' is exactly the reverse of 'x'.",
    }),
})
  .refine((query) => !(query.min_price && query.max_price && Number(query.min_price) > Number(query.max_price)), {
    message: "min_price must not be greater than max_price",
    path: ["min_price"],
  })
  .superRefine((query, ctx) => {
    const last = lastListPage(query.page_size);
    if (query.page <= last) return;
    ctx.addIssue({
      code: "custom",
      path: ["page"],
      message: `page must be at most ${last} with page_size ${query.page_size}: lists go ${MAX_LIST_DEPTH} products deep; filter or sort to reach others`,
    });
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
  .openapi("ProductUpdate", {
    // At least one of these fields: other fields are ignored, so they do not count.
    minProperties: 1,
    anyOf: Object.keys(productFields).map((field) => ({ required: [field] })),
  });

export type ProductUpdateInput = z.output<typeof ProductUpdateSchema>;
