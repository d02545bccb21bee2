import { products } from "../../src/db/schema";
import { db } from "./db";

/**
 * Catalog rows for tests, written straight into the database (drizzle over the run's SQL server):
 * no admin token, no cache invalidation, timestamps and deletions exactly as the test says. Use these
 * when a test just needs products to exist. A test of the API's own write path (POST, PATCH, DELETE
 * /api/v1/products, and what they do to the cache) creates them through the API instead.
 *
 * The database is shared with the other test files running at the same time: put each test's
 * products in a category of its own (`newCategory()`) and only look at that category.
 */

/** A category name nothing else in the run uses. */
export const newCategory = (): string => `cat-${crypto.randomUUID().slice(0, 8)}`;

/** The columns a test may set on a product; the category is the function's argument. */
export type ProductFields = Partial<Omit<typeof products.$inferInsert, "category">>;

/**
 * Inserts products of `category`, in one statement; their ids in input order. Unset columns are
 * name "product N", price "1.00", stock 10, and the table's defaults (description "", timestamps
 * now, not deleted).
 */
export async function insertProducts(category: string, specs: ProductFields[]): Promise<number[]> {
  const rows = await db
    .insert(products)
    .values(specs.map((spec, i) => ({ name: `product ${i + 1}`, price: "1.00", stock: 10, ...spec, category })))
    .returning({ id: products.id });
  return rows.map((row) => row.id);
}

/** One product of a category of its own; its id. */
export async function insertProduct(spec: ProductFields = {}): Promise<number> {
  const [id] = await insertProducts(newCategory(), [spec]);
  return id!;
}

/** What the order, queue and cron tests ask of a product: enough stock, a price, a name, a deletion. */
export type ProductSpec = { stock?: number; price?: string; name?: string; deleted?: boolean };

/**
 * Products to order, in a category of their own: stock 100, price "10.00" and name
 * "Test Product N" unless said otherwise; ids in input order.
 */
export async function makeProducts(specs: ProductSpec[]): Promise<number[]> {
  return insertProducts(
    newCategory(),
    specs.map((spec, i) => ({
      name: spec.name ?? `Test Product ${i + 1}`,
      price: spec.price ?? "10.00",
      stock: spec.stock ?? 100,
      deletedAt: spec.deleted ? new Date() : null,
    })),
  );
}
