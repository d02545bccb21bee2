import { env } from "cloudflare:test";
import { neon } from "@neondatabase/serverless";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { ProductListQuerySchema } from "../../src/schemas/products";
import { productListStatement } from "../../src/services/products";

// The plans of the catalog list query on the contract's demo data (10,000 products, seeded by
// test/global-setup.ts into a database of its own). The SQL is the statement the list service runs,
// from drizzle's toSQL() with the same query-string parsing as the route, so these plans are the
// plans of the real query.

type PlanNode = { "Node Type": string; "Index Name"?: string; "Relation Name"?: string; Plans?: PlanNode[] };

// createDb also points the driver at the local SQL-over-HTTP endpoint, like the Worker does.
const db = createDb({ DATABASE_URL: env.DEMO_DATABASE_URL, NEON_HTTP_ENDPOINT: env.NEON_HTTP_ENDPOINT, NEON_HTTP_SECRET: env.NEON_HTTP_SECRET });
const sql = neon(env.DEMO_DATABASE_URL, { authToken: env.NEON_HTTP_SECRET });

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

async function planOfList(queryString: Record<string, string>): Promise<PlanNode[]> {
  const statement = productListStatement(db, ProductListQuerySchema.parse(queryString)).toSQL();
  const rows = (await sql.query(`EXPLAIN (FORMAT JSON) ${statement.sql}`, statement.params)) as Array<{
    "QUERY PLAN": Array<{ Plan: PlanNode }>;
  }>;
  return nodesOf(rows[0]!["QUERY PLAN"][0]!.Plan);
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

  it.each([
    ["category + price range", { category: "electronics", min_price: "10", max_price: "50" }],
    ["category + price range sorted by price", { category: "electronics", min_price: "10", max_price: "50", sort: "price" }],
  ])("filters %s through the (category, price) index", async (_, queryString) => {
    const nodes = await planOfList(queryString);
    expect(indexesUsed(nodes)).toContain("products_category_price_idx");
    expect(seqScansOfProducts(nodes)).toEqual([]);
  });
});
