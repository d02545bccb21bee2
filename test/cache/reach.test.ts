import { describe, expect, it } from "vitest";
import { SHARED_LIST_ROWS } from "../../src/cache/policy";
import { listReach } from "../../src/cache/reach";
import { ProductListQuerySchema } from "../../src/schemas/products";

const reachOf = (params: Record<string, string>) => listReach(ProductListQuerySchema.parse(params));

describe("which list reads the global store holds", () => {
  it("holds unfiltered pages that start within the first 200 rows, in any sort and page size", () => {
    expect(SHARED_LIST_ROWS).toBe(200);
    expect(reachOf({})).toBe("shared");
    expect(reachOf({ page: "10" })).toBe("shared");
    expect(reachOf({ page: "2", page_size: "100", sort: "-price" })).toBe("shared");
    expect(reachOf({ page: "200", page_size: "1" })).toBe("shared");
  });

  it("leaves out a page that starts at row 200 or deeper", () => {
    expect(reachOf({ page: "11" })).toBe("long-tail");
    expect(reachOf({ page: "3", page_size: "100" })).toBe("long-tail");
    expect(reachOf({ page: "201", page_size: "1" })).toBe("long-tail");
  });

  it.each<Record<string, string>>([{ q: "wireless" }, { category: "electronics" }, { min_price: "10" }, { max_price: "50" }])(
    "leaves out any filtered list, even its first page: %j",
    (filter) => {
      expect(reachOf(filter)).toBe("long-tail");
    },
  );
});
