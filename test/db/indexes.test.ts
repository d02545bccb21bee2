import { env } from "cloudflare:test";
import { neon } from "@neondatabase/serverless";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { ProductListQuerySchema, type ProductListQuery } from "../../src/schemas/products";
import { productListStatement } from "../../src/services/products";

// The plans of the catalog list query on the contract's demo data (10,000 products, seeded by
// test/global-setup.ts into a database of its own). The SQL is the statement the list service runs,
// from drizzle's toSQL() with the same query-string parsing as the route, so these plans are the
// plans of the real query.

type PlanNode = { "Node Type": string; "Index Name"?: string; "Relation Name"?: string; "Actual Rows"?: number; Plans?: PlanNode[] };

// createDb also points the driver at the local SQL-over-HTTP endpoint, like the Worker does.
const db = createDb({
  DATABASE_URL: env.DEMO_DATABASE_URL,
  NEON_HTTP_ENDPOINT: env.NEON_HTTP_ENDPOINT,
  NEON_HTTP_SECRET: env.NEON_HTTP_SECRET,
});
const sql = neon(env.DEMO_DATABASE_URL, { authToken: env.NEON_HTTP_SECRET });

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

async function planOfList(queryString: Record<string, string>): Promise<PlanNode[]> {
  return planOf(ProductListQuerySchema.parse(queryString));
}

type Explained = Array<{ "QUERY PLAN": Array<{ Plan: PlanNode }> }>;

/** The plan of the list statement for a query as given (not validated: the route refuses some of these). */
async function planOf(query: ProductListQuery): Promise<PlanNode[]> {
  const statement = productListStatement(db, query).toSQL();
  const rows = (await sql.query(`EXPLAIN (FORMAT JSON) ${statement.sql}`, statement.params)) as Explained;
  return nodesOf(rows[0]!["QUERY PLAN"][0]!.Plan);
}

/**
 * The rows the trigram index hands back for the list statement's `name ILIKE '%q%'` (each side of it),
 * run with sequential scans off so that the planner has to use the index: how much the index narrows.
 */
async function rowsFromTrigramIndex(q: string): Promise<number[]> {
  const statement = productListStatement(db, { ...ProductListQuerySchema.parse({}), q }).toSQL();
  const [, rows] = (await sql.transaction([
    sql`set local enable_seqscan = off`,
    sql.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${statement.sql}`, statement.params),
  ])) as [unknown, Explained];
  return nodesOf(rows[0]!["QUERY PLAN"][0]!.Plan)
    .filter((node) => node["Index Name"] === "products_name_trgm_idx")
    .map((node) => node["Actual Rows"]!);
}

const indexesUsed = (nodes: PlanNode[]) => new Set(nodes.flatMap((node) => (node["Index Name"] ? [node["Index Name"]] : [])));
const seqScansOfProducts = (nodes: PlanNode[]) =>
  nodes.filter((node) => node["Node Type"] === "Seq Scan" && node["Relation Name"] === "products");

describe("the product list query on the demo data", () => {
  beforeAll(async () => {
    // VACUUM as well as ANALYZE: right after a bulk load the trigram index still holds the new rows
    // in its pending list and its statistics are stale, which makes the planner cost it far above a
    // sequential scan. Autovacuum brings a live database into this state soon after any load.
    await sql.query("VACUUM (ANALYZE) products");
  });

  it("has the demo catalog", async () => {
    const rows = (await sql.query("select count(*)::int as n from products")) as Array<{ n: number }>;
    expect(rows[0]!.n).toBeGreaterThanOrEqual(10_000);
  });

  it.each([
    ["q=wireless", { q: "wireless" }],
    ["q=Wireless sorted by -price", { q: "Wireless", sort: "-price" }],
    ["q=100% cotton (escaped wildcards)", { q: "100% cotton" }],
  ])("finds %s through the trigram index on name", async (_, queryString) => {
    const nodes = await planOfList(queryString);
    expect(indexesUsed(nodes)).toContain("products_name_trgm_idx");
    expect(seqScansOfProducts(nodes)).toEqual([]);
  });

  it("narrows a search only from 3 letters or digits on: with fewer, or punctuation alone, it returns every product", async () => {
    const rows = (await sql.query("select count(*)::int as n from products")) as Array<{ n: number }>;
    const all = rows[0]!.n;
    for (const q of ["wi", "---", "a--"]) {
      const fromIndex = await rowsFromTrigramIndex(q);
      expect(fromIndex.length, q).toBeGreaterThan(0);
      expect(
        fromIndex.every((n) => n === all),
        `${q}: ${fromIndex}`,
      ).toBe(true);
      // So, left to itself, the planner reads the table instead.
      expect(seqScansOfProducts(await planOf({ ...ProductListQuerySchema.parse({}), q })).length, q).toBeGreaterThan(0);
    }
    for (const q of ["wir", "a-b-c"]) {
      const fromIndex = await rowsFromTrigramIndex(q);
      expect(fromIndex.length, q).toBeGreaterThan(0);
      expect(
        fromIndex.every((n) => n < all),
        `${q}: ${fromIndex}`,
      ).toBe(true);
    }
  });

  it.each([
    ["category + price range", { category: "electronics", min_price: "10", max_price: "50" }],
    ["category + price range sorted by price", { category: "electronics", min_price: "10", max_price: "50", sort: "price" }],
  ])("filters %s through the (category, price) index", async (_, queryString) => {
    const nodes = await planOfList(queryString);
    expect(indexesUsed(nodes)).toContain("products_category_price_idx");
    expect(seqScansOfProducts(nodes)).toEqual([]);
  });
});
