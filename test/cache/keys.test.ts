import { describe, expect, it } from "vitest";
import { cacheNamespace, entryKey, listResource } from "../../src/cache/keys";
import { ProductListQuerySchema } from "../../src/schemas/products";

const parse = (params: Record<string, string>) => ProductListQuerySchema.parse(params);

describe("keys", () => {
  it("gives one resource to reads that mean the same: defaults filled, parameters sorted, money normalised", () => {
    const canonical = listResource(parse({}));
    expect(canonical).toBe("list?page=1&page_size=20&sort=id");
    expect(listResource(parse({ page: "1" }))).toBe(canonical);
    expect(listResource(parse({ sort: "id", page_size: "20", page: "1" }))).toBe(canonical);
    expect(listResource(parse({ min_price: "10", category: "a b" }))).toBe(listResource(parse({ category: "a b", min_price: "10.00" })));
    expect(listResource(parse({ page: "2" }))).not.toBe(canonical);
    expect(listResource(parse({ q: "xyz&page=2" }))).not.toBe(listResource(parse({ q: "xyz", page: "2" })));
  });

  it("hashes keys that would be too long for KV", async () => {
    const long = listResource(parse({ q: "ü".repeat(100), category: "é".repeat(50) }));
    const key = await entryKey("ns", "vr1", long);
    expect(key).toMatch(/^ns:vr1:sha256\/[0-9a-f]{64}$/);
    expect(new TextEncoder().encode(key).length).toBeLessThanOrEqual(512);
    expect(await entryKey("ns", "vr1", "list?page=1")).toBe("ns:vr1:list?page=1");
  });

  it("derives the namespace from the database's host and name, not its credentials; CACHE_NAMESPACE overrides it", () => {
    const a = cacheNamespace({ DATABASE_URL: "postgres://u:one@db.example:5432/shop" });
    expect(a).toBe(cacheNamespace({ DATABASE_URL: "postgres://v:two@db.example:5432/shop" }));
    expect(a).not.toBe(cacheNamespace({ DATABASE_URL: "postgres://u:one@db.example:5432/shop_test" }));
    expect(a).not.toContain("one");
    expect(cacheNamespace({ DATABASE_URL: "postgres://x@y/z", CACHE_NAMESPACE: "mine" })).toBe("mine");
  });
});
