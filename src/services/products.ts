import { and, asc, count, desc, eq, gte, isNull, lte, sql, type AnyColumn, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import { products, type Product } from "../db/schema";
import { ApiError } from "../errors";
import { toPage, type Page } from "../schemas/common";
import type { CategoryBody, ProductBody, ProductCreateInput, ProductListQuery, ProductSort, ProductUpdateInput } from "../schemas/products";
import { bumpedUpdatedAt, intArray } from "./sql-fragments";

/**
 * The catalog: plain data access, one SQL statement (one HTTP round trip) per call. Every function
 * returns what the API sends (JSON-ready, money as "19.99", ISO timestamps), so a cache can wrap it
 * and store the result as is.
 */

/** What the API shows of a product; `deleted_at` stays internal. */
const productColumns = {
  id: products.id,
  name: products.name,
  description: products.description,
  category: products.category,
  price: products.price,
  stock: products.stock,
  createdAt: products.createdAt,
  updatedAt: products.updatedAt,
};

type ProductRow = Omit<Product, "deletedAt">;

const isLive = isNull(products.deletedAt);

function toProductBody(row: ProductRow): ProductBody {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    category: row.category,
    // numeric(10,2) comes back as Postgres' text, which always has two decimals.
    price: row.price,
    stock: row.stock,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

type SortableColumns = Record<"id" | "price" | "createdAt" | "name", AnyColumn>;

const SORT_COLUMNS: Record<ProductSort, keyof SortableColumns> = {
  id: "id",
  price: "price",
  "-price": "price",
  created_at: "createdAt",
  "-created_at": "createdAt",
  name: "name",
};

/** ORDER BY for a sort key, always ending in id (same direction) so that ties are ordered too. */
function orderFor(sort: ProductSort, columns: SortableColumns): SQL[] {
  const direction = sort.startsWith("-") ? desc : asc;
  const key = SORT_COLUMNS[sort];
  return key === "id" ? [direction(columns.id)] : [direction(columns[key]), direction(columns.id)];
}

/** `q` as an ILIKE pattern that matches it as a literal substring: \ % _ are escaped with \. */
function substringPattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, "\\$&")}%`;
}

function listFilters(query: ProductListQuery): SQL | undefined {
  return and(
    isLive,
    query.category === undefined ? undefined : eq(products.category, query.category),
    query.min_price === undefined ? undefined : gte(products.price, query.min_price),
    query.max_price === undefined ? undefined : lte(products.price, query.max_price),
    // A plain `name ILIKE <pattern>` on the column itself is what the GIN trigram index answers;
    // the ESCAPE is spelled out so the meaning of \ does not rest on a server default.
    query.q === undefined ? undefined : sql`${products.name} ilike ${substringPattern(query.q)} escape '\\'`,
  );
}

/**
 * One page of products and the number of all matches, in one statement:
 *
 *   select matching.total, page.* from (select count(*) … where <filters>) matching
 *   left join (select … where <filters> order by … limit … offset …) page on true
 *   order by page.<sort>, page.id
 *
 * The count side always yields its one row, so a page past the end still carries the total (with
 * null product columns), which a `count(*) over ()` window could not do. Each side is planned on
 * its own, so both can use the (category, price) and trigram indexes.
 */
export function productListStatement(db: Database, query: ProductListQuery) {
  const where = listFilters(query);
  const matching = db
    .select({ total: count().as("total") })
    .from(products)
    .where(where)
    .as("matching");
  const page = db
    .select(productColumns)
    .from(products)
    .where(where)
    .orderBy(...orderFor(query.sort, products))
    .limit(query.page_size)
    .offset((query.page - 1) * query.page_size)
    .as("page");
  return (
    db
      .select({
        total: matching.total,
        product: {
          id: page.id,
          name: page.name,
          description: page.description,
          category: page.category,
          price: page.price,
          stock: page.stock,
          createdAt: page.createdAt,
          updatedAt: page.updatedAt,
        },
      })
      .from(matching)
      .leftJoin(page, sql`true`)
      // A join does not promise to keep the subquery's order; sorting ≤ 100 rows again costs nothing.
      .orderBy(...orderFor(query.sort, page))
  );
}

export async function listProducts(db: Database, query: ProductListQuery): Promise<Page<ProductBody>> {
  const rows = await productListStatement(db, query);
  const total = rows[0]?.total ?? 0;
  const items = rows.flatMap((row) => (row.product ? [toProductBody(row.product)] : []));
  return toPage(items, total, query.page, query.page_size);
}

export async function getProduct(db: Database, id: number): Promise<ProductBody> {
  const [row] = await db
    .select(productColumns)
    .from(products)
    .where(and(eq(products.id, id), isLive));
  if (!row) throw productNotFound(id);
  return toProductBody(row);
}

/** A product's stock and last change as the database has it now, and whether it left the catalog. */
export type ProductStock = { id: number; stock: number; updated_at: string; deleted: boolean };

/**
 * Stock, updated_at and deleted_at of these products, deleted ones included (so a cache can tell
 * "gone" from "changed"), in one statement whatever their number:
 *
 *   select id, stock, updated_at, deleted_at from products where id = any($1::int[])
 *
 * The ids travel as one array parameter: the statement's text is the same for 1 or 5,000 ids.
 * Products that do not exist are simply not in the answer. For the catalog cache's stock view
 * (src/cache/stock-view.ts): one round trip per isolate per second serves every cached read.
 */
export async function productStocks(db: Database, ids: readonly number[]): Promise<ProductStock[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .select({ id: products.id, stock: products.stock, updatedAt: products.updatedAt, deletedAt: products.deletedAt })
    .from(products)
    .where(sql`${products.id} = any(${intArray(ids.map((id) => Math.trunc(id)))})`);
  return rows.map((row) => ({ id: row.id, stock: row.stock, updated_at: row.updatedAt.toISOString(), deleted: row.deletedAt !== null }));
}

/** Categories of live products with how many each has, by category name. */
export async function listCategories(db: Database): Promise<CategoryBody[]> {
  const rows = await db
    .select({ category: products.category, productCount: count() })
    .from(products)
    .where(isLive)
    .groupBy(products.category)
    .orderBy(asc(products.category));
  return rows.map((row) => ({ category: row.category, product_count: row.productCount }));
}

export async function createProduct(db: Database, input: ProductCreateInput): Promise<ProductBody> {
  const [row] = await db
    .insert(products)
    .values({
      name: input.name,
      description: input.description,
      category: input.category,
      price: input.price,
      stock: input.stock,
    })
    .returning(productColumns);
  return toProductBody(row!);
}

export async function updateProduct(db: Database, id: number, changes: ProductUpdateInput): Promise<ProductBody> {
  const [row] = await db
    .update(products)
    .set({ ...changes, updatedAt: bumpedUpdatedAt(products.updatedAt) })
    .where(and(eq(products.id, id), isLive))
    .returning(productColumns);
  if (!row) throw productNotFound(id);
  return toProductBody(row);
}

/** Soft delete: the product leaves the catalog; the row stays because past order items point at it. */
export async function deleteProduct(db: Database, id: number): Promise<void> {
  const [row] = await db
    .update(products)
    .set({ deletedAt: sql`now()`, updatedAt: bumpedUpdatedAt(products.updatedAt) })
    .where(and(eq(products.id, id), isLive))
    .returning({ id: products.id });
  if (!row) throw productNotFound(id);
}

function productNotFound(id: number): ApiError {
  return ApiError.notFound(`Product ${id} not found`);
}
