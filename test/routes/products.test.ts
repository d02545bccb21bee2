import { neonConfig } from "@neondatabase/serverless";
import { eq } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { products } from "../../src/db/schema";
import { adminAndCustomerTokens } from "../support/accounts";
import { api, apiWithEnv, type ErrorBody } from "../support/api";
import { insertProducts, newCategory } from "../support/catalog";
import { db } from "../support/db";

// The test database is shared with other files running at the same time: every test makes its own
// products in a category of its own and only looks at that category. Reads get their products
// straight from the database (test/support/catalog.ts); the tests of POST, PATCH and DELETE create
// theirs through the API.

type ProductBody = {
  id: number;
  name: string;
  description: string;
  category: string;
  price: string;
  stock: number;
  created_at: string;
  updated_at: string;
};
type ProductPage = { items: ProductBody[]; total: number; page: number; page_size: number; total_pages: number };
type ValidationBody = { error: { code: string; message: string; details: Array<{ field: string; message: string }> } };

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let adminToken: string;
let customerToken: string;

beforeAll(async () => {
  ({ admin: adminToken, customer: customerToken } = await adminAndCustomerTokens());
});

async function list(params: Record<string, string | number>): Promise<ProductPage> {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
  const res = await api(`/api/v1/products?${query}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as ProductPage;
}

const ids = (page: ProductPage) => page.items.map((p) => p.id);

async function expectValidationError(res: Response, field: string): Promise<void> {
  expect(res.status).toBe(400);
  const body = (await res.json()) as ValidationBody;
  expect(body.error.code).toBe("validation_error");
  expect(body.error.details.map((d) => d.field)).toContain(field);
}

function send(method: string, path: string, body: unknown, token: string | null = adminToken): Promise<Response> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  return api(path, { method, headers, body: typeof body === "string" ? body : JSON.stringify(body) });
}

async function createViaApi(fields: Record<string, unknown>): Promise<ProductBody> {
  const res = await send("POST", "/api/v1/products", fields);
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as ProductBody;
}

describe("GET /api/v1/products", () => {
  it("lists only the products of the exact category asked for", async () => {
    const category = newCategory();
    const mine = await insertProducts(category, [{ name: "A" }, { name: "B" }]);
    await insertProducts(`${category}x`, [{ name: "C" }]);
    await insertProducts(category.toUpperCase(), [{ name: "D" }]);

    const page = await list({ category });
    expect(ids(page)).toEqual(mine);
    expect(page.total).toBe(2);
    expect(page.items.every((p) => p.category === category)).toBe(true);
  });

  it("filters by price with inclusive bounds, each bound alone too", async () => {
    const category = newCategory();
    const [p999, p1000, p1550, p2000, p2001] = await insertProducts(category, [
      { name: "a", price: "9.99" },
      { name: "b", price: "10.00" },
      { name: "c", price: "15.50" },
      { name: "d", price: "20.00" },
      { name: "e", price: "20.01" },
    ]);
    expect(ids(await list({ category, min_price: "10.00", max_price: "20.00" }))).toEqual([p1000, p1550, p2000]);
    expect(ids(await list({ category, min_price: "10", max_price: "20" }))).toEqual([p1000, p1550, p2000]);
    expect(ids(await list({ category, min_price: "15.5" }))).toEqual([p1550, p2000, p2001]);
    expect(ids(await list({ category, max_price: "9.99" }))).toEqual([p999]);
    expect(ids(await list({ category, min_price: "20.00", max_price: "20.00" }))).toEqual([p2000]);
  });

  it("searches the name as a case-insensitive substring", async () => {
    const category = newCategory();
    const [blue, wide] = await insertProducts(category, [
      { name: "Blue WIDGET" },
      { name: "widgetry deluxe" },
      { name: "Gadget", description: "goes with any widget" },
    ]);
    expect(ids(await list({ category, q: "Widget" }))).toEqual([blue, wide]);
    expect(ids(await list({ category, q: "GETRY DE" }))).toEqual([wide]);
    expect(ids(await list({ category, q: "widgets" }))).toEqual([]);
  });

  it("treats % _ and \\ in q as literal characters, not wildcards", async () => {
    const category = newCategory();
    const [cotton, , , underscore, , backslash] = await insertProducts(category, [
      { name: "100% Cotton Shirt" },
      { name: "100 Cotton Shirt" },
      { name: "1000 Cotton Shirt" },
      { name: "snake_case mug" },
      { name: "snakeXcase mug" },
      { name: "back\\slash" },
      { name: "backslash" },
    ]);
    // Each q would match more (or other) names if its %, _ or \ were a wildcard or an escape.
    expect(ids(await list({ category, q: "100%" }))).toEqual([cotton]);
    expect(ids(await list({ category, q: "% Cotton" }))).toEqual([cotton]);
    expect(ids(await list({ category, q: "ke_case" }))).toEqual([underscore]);
    expect(ids(await list({ category, q: "_case" }))).toEqual([underscore]);
    expect(ids(await list({ category, q: "ck\\sl" }))).toEqual([backslash]);
    expect(ids(await list({ category, q: "\\slash" }))).toEqual([backslash]);
  });

  it("combines filters", async () => {
    const category = newCategory();
    const [, match] = await insertProducts(category, [
      { name: "lamp small", price: "5.00" },
      { name: "lamp large", price: "50.00" },
      { name: "rug large", price: "50.00" },
    ]);
    expect(ids(await list({ category, q: "LAMP", min_price: "10" }))).toEqual([match]);
  });

  describe("sort", () => {
    // Ties on every key, so the id tiebreaker shows.
    const t = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute));
    let category: string;
    let a: number, b: number, c: number, d: number, e: number;

    beforeAll(async () => {
      category = newCategory();
      [a, b, c, d, e] = (await insertProducts(category, [
        { name: "Bravo", price: "5.00", createdAt: t(2) },
        { name: "Alpha", price: "3.00", createdAt: t(3) },
        { name: "Charlie", price: "5.00", createdAt: t(1) },
        { name: "Bravo", price: "1.00", createdAt: t(2) },
        { name: "Alpha", price: "5.00", createdAt: t(3) },
      ])) as [number, number, number, number, number];
    });

    it.each([
      ["(default)", () => [a, b, c, d, e]],
      ["id", () => [a, b, c, d, e]],
      ["price", () => [d, b, a, c, e]],
      ["-price", () => [e, c, a, b, d]],
      ["created_at", () => [c, a, d, b, e]],
      ["-created_at", () => [e, b, d, a, c]],
      ["name", () => [b, e, a, d, c]],
    ])("orders by %s with ties broken by id", async (sort, expected) => {
      const params: Record<string, string> = { category };
      if (sort !== "(default)") params.sort = sort;
      expect(ids(await list(params))).toEqual(expected());
    });

    it("gives the same order on every request and across pages", async () => {
      const whole = ids(await list({ category, sort: "price" }));
      const paged = [
        ...ids(await list({ category, sort: "price", page_size: 2, page: 1 })),
        ...ids(await list({ category, sort: "price", page_size: 2, page: 2 })),
        ...ids(await list({ category, sort: "price", page_size: 2, page: 3 })),
      ];
      expect(paged).toEqual(whole);
      expect(ids(await list({ category, sort: "price" }))).toEqual(whole);
    });
  });

  describe("pagination", () => {
    it("pages with page and page_size and counts every match", async () => {
      const category = newCategory();
      const all = await insertProducts(
        category,
        ["1", "2", "3", "4", "5"].map((name) => ({ name })),
      );

      const first = await list({ category, page_size: 2 });
      expect(first).toMatchObject({ total: 5, page: 1, page_size: 2, total_pages: 3 });
      expect(ids(first)).toEqual(all.slice(0, 2));
      const last = await list({ category, page_size: 2, page: 3 });
      expect(last).toMatchObject({ total: 5, page: 3, page_size: 2, total_pages: 3 });
      expect(ids(last)).toEqual(all.slice(4));
      const exact = await list({ category, page_size: 5 });
      expect(exact).toMatchObject({ total: 5, total_pages: 1 });
    });

    it("answers a page past the end with 200, no items and the real total", async () => {
      const category = newCategory();
      await insertProducts(category, [{ name: "x" }, { name: "y" }, { name: "z" }]);
      expect(await list({ category, page_size: 2, page: 3 })).toEqual({
        items: [],
        total: 3,
        page: 3,
        page_size: 2,
        total_pages: 2,
      });
      expect((await list({ category, page: 500 })).total).toBe(3);
    });

    it("has 0 pages when nothing matches", async () => {
      expect(await list({ category: newCategory() })).toEqual({ items: [], total: 0, page: 1, page_size: 20, total_pages: 0 });
      expect(await list({ category: newCategory(), page: 2 })).toEqual({ items: [], total: 0, page: 2, page_size: 20, total_pages: 0 });
    });

    it("defaults to page 1 of 20 and allows up to 100", async () => {
      const category = newCategory();
      await insertProducts(
        category,
        Array.from({ length: 21 }, (_, i) => ({ name: `p${i}` })),
      );
      const page = await list({ category });
      expect(page).toMatchObject({ page: 1, page_size: 20, total: 21, total_pages: 2 });
      expect(page.items).toHaveLength(20);
      expect((await list({ category, page_size: 100 })).items).toHaveLength(21);
    });
  });

  it("never shows deleted products, nor counts them", async () => {
    const category = newCategory();
    const [live] = await insertProducts(category, [{ name: "live" }, { name: "gone", deletedAt: new Date() }]);
    const page = await list({ category });
    expect(ids(page)).toEqual([live]);
    expect(page.total).toBe(1);
  });

  it("shows every field, money as a string with two decimals and timestamps in ISO UTC", async () => {
    const category = newCategory();
    const createdAt = new Date("2026-03-04T05:06:07.890Z");
    const [id] = await insertProducts(category, [
      { name: "Kettle", description: "Boils", price: "7", stock: 12, createdAt, updatedAt: createdAt },
      { name: "Mug", price: "7.5" },
      { name: "Free", price: "0" },
    ]);
    const page = await list({ category });
    expect(page.items[0]).toEqual({
      id,
      name: "Kettle",
      description: "Boils",
      category,
      price: "7.00",
      stock: 12,
      created_at: "2026-03-04T05:06:07.890Z",
      updated_at: "2026-03-04T05:06:07.890Z",
    });
    expect(page.items.map((p) => p.price)).toEqual(["7.00", "7.50", "0.00"]);
    for (const product of page.items) {
      expect(product.created_at).toMatch(ISO_UTC);
      expect(product.updated_at).toMatch(ISO_UTC);
    }
  });

  it.each([
    ["page=0", "page"],
    ["page=-1", "page"],
    ["page=abc", "page"],
    ["page=1.5", "page"],
    ["page=1e3", "page"],
    ["page=", "page"],
    ["page_size=0", "page_size"],
    ["page_size=101", "page_size"],
    ["sort=cost", "sort"],
    ["sort=-id", "sort"],
    ["sort=PRICE", "sort"],
    ["min_price=abc", "min_price"],
    ["min_price=1.234", "min_price"],
    ["min_price=-1", "min_price"],
    ["max_price=1e3", "max_price"],
    ["min_price=20&max_price=10", "min_price"],
    ["min_price=10.01&max_price=10", "min_price"],
    ["q=", "q"],
    ["q=ab", "q"],
    ["q=%20ab%20", "q"],
    ["q=---", "q"],
    ["q=a--", "q"],
    [`q=${"a".repeat(101)}`, "q"],
    ["category=", "category"],
    ["page=1&page=2", "page"],
  ])("refuses %s with 400 naming %s", async (query, field) => {
    await expectValidationError(await api(`/api/v1/products?${query}`), field);
  });

  it("accepts a q of 100 characters", async () => {
    expect((await list({ q: "a".repeat(100), category: newCategory() })).total).toBe(0);
  });

  describe("search terms the name index can serve", () => {
    it("accepts a q of 3 letters or digits, with spaces and punctuation among them", async () => {
      const category = newCategory();
      const [lamp, abc, digits] = await insertProducts(category, [{ name: "Lamp" }, { name: "a-b c" }, { name: "Model 100" }]);
      expect(ids(await list({ category, q: "amp" }))).toEqual([lamp]);
      expect(ids(await list({ category, q: "a-b c" }))).toEqual([abc]);
      expect(ids(await list({ category, q: " 100" }))).toEqual([digits]);
      expect(ids(await list({ category, q: "Ü日本" }))).toEqual([]);
    });

    it.each(["ab", "  ab  ", "a-b", "--a", "...", "é1"])("refuses q=%j: fewer than 3 letters or digits", async (q) => {
      const res = await api(`/api/v1/products?${new URLSearchParams({ q })}`);
      expect(res.status).toBe(400);
      const body = (await res.json()) as ValidationBody;
      expect(body.error.code).toBe("validation_error");
      expect(body.error.details).toEqual([{ field: "q", message: "q must contain at least 3 letters or digits" }]);
    });
  });

  describe("how deep a list goes", () => {
    it.each([
      [20, 500],
      [100, 100],
      [3, 3334],
      [1, 10_000],
    ])(
      "with page_size %i serves page %i, the last one starting within 10,000 matches, and refuses the next",
      async (pageSize, lastPage) => {
        const category = newCategory();
        await insertProducts(category, [{ name: "only" }]);
        expect(await list({ category, page_size: pageSize, page: lastPage })).toMatchObject({ items: [], total: 1, page: lastPage });

        const res = await api(`/api/v1/products?category=${category}&page_size=${pageSize}&page=${lastPage + 1}`);
        expect(res.status).toBe(400);
        const body = (await res.json()) as ValidationBody;
        expect(body.error.code).toBe("validation_error");
        expect(body.error.details).toEqual([
          {
            field: "page",
            message: `page must be at most ${lastPage} with page_size ${pageSize}: lists go 10000 products deep; filter or sort to reach others`,
          },
        ]);
      },
    );

    it("keeps the contract's page and page_size bounds, and names only the field that broke them", async () => {
      for (const [query, field] of [
        ["page=0", "page"],
        ["page_size=101&page=2", "page_size"],
        ["page_size=0&page=20000", "page_size"],
      ]) {
        const res = await api(`/api/v1/products?${query}`);
        expect(res.status, query).toBe(400);
        expect(
          ((await res.json()) as ValidationBody).error.details.map((d) => d.field),
          query,
        ).toEqual([field]);
      }
    });
  });

  describe("database round trips", () => {
    const realFetch = neonConfig.fetchFunction;
    afterEach(() => {
      neonConfig.fetchFunction = realFetch;
    });

    /** Counts the SQL-over-HTTP requests the driver sends while `run` runs (the driver's fetch is a global of this isolate). */
    async function countSqlRequests(run: () => Promise<void>): Promise<number> {
      let requests = 0;
      neonConfig.fetchFunction = (input: RequestInfo | URL, init?: RequestInit) => {
        requests += 1;
        return fetch(input, init);
      };
      try {
        await run();
      } finally {
        neonConfig.fetchFunction = realFetch;
      }
      return requests;
    }

    it.each([
      ["a page with items", { page: 1, page_size: 2 }, 2],
      ["a page past the end", { page: 9, page_size: 2 }, 0],
      ["every filter and a sort", { page: 1, q: "item", min_price: "1", max_price: "9", sort: "-price" }, 3],
    ])("answers %s in one SQL request, items and total together", async (_, params, itemCount) => {
      const category = newCategory();
      await insertProducts(category, [{ name: "item 1" }, { name: "item 2" }, { name: "item 3" }]);
      const query = new URLSearchParams({ category, ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])) });
      let body: ProductPage | undefined;
      const requests = await countSqlRequests(async () => {
        // An admin read skips the catalog cache (and its version lookup): this counts the list query itself.
        const res = await apiWithEnv({}, `/api/v1/products?${query}`, { headers: { Authorization: `Bearer ${adminToken}` } });
        expect(res.status).toBe(200);
        body = (await res.json()) as ProductPage;
      });
      expect(requests).toBe(1);
      expect(body!.items).toHaveLength(itemCount);
      expect(body!.total).toBe(3);
    });
  });
});

describe("GET /api/v1/products/{id}", () => {
  it("answers the product", async () => {
    const category = newCategory();
    const [id] = await insertProducts(category, [{ name: "Lamp", description: "Bright", price: "19.9", stock: 3 }]);
    const res = await api(`/api/v1/products/${id}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as ProductBody;
    expect(body).toMatchObject({ id, name: "Lamp", description: "Bright", category, price: "19.90", stock: 3 });
    expect(Object.keys(body).sort()).toEqual(["category", "created_at", "description", "id", "name", "price", "stock", "updated_at"]);
    expect(body.created_at).toMatch(ISO_UTC);
  });

  it("answers 404 for an unknown product", async () => {
    const res = await api("/api/v1/products/2147483647");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "not_found", message: "Product 2147483647 not found" } });
  });

  it("answers 404 for a deleted product", async () => {
    const [id] = await insertProducts(newCategory(), [{ name: "gone", deletedAt: new Date() }]);
    const res = await api(`/api/v1/products/${id}`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorBody).error.message).toBe(`Product ${id} not found`);
  });

  it.each(["abc", "1.5", "1e3", "0", "-1", "2147483648"])("refuses the id %j with 400", async (id) => {
    await expectValidationError(await api(`/api/v1/products/${id}`), "id");
  });
});

describe("GET /api/v1/categories", () => {
  type CategoryBody = { category: string; product_count: number };
  const categoriesNow = async (): Promise<CategoryBody[]> => {
    const res = await api("/api/v1/categories");
    expect(res.status).toBe(200);
    return (await res.json()) as CategoryBody[];
  };

  it("counts the live products of each category, ordered by category", async () => {
    const base = newCategory();
    await insertProducts(`${base}-b`, [{ name: "1" }, { name: "2" }, { name: "gone", deletedAt: new Date() }]);
    await insertProducts(`${base}-a`, [{ name: "3" }]);
    await insertProducts(`${base}-c`, [{ name: "only deleted", deletedAt: new Date() }]);

    const all = await categoriesNow();
    const mine = all.filter((c) => c.category.startsWith(base));
    expect(mine).toEqual([
      { category: `${base}-a`, product_count: 1 },
      { category: `${base}-b`, product_count: 2 },
    ]);
  });
});

describe("admin writes", () => {
  describe("POST /api/v1/products", () => {
    it("creates a product: 201, Location, and the product reads back the same", async () => {
      const category = newCategory();
      const res = await send("POST", "/api/v1/products", {
        name: "Desk Lamp",
        description: "Warm light",
        category,
        price: "24.5",
        stock: 40,
      });
      expect(res.status).toBe(201);
      const created = (await res.json()) as ProductBody;
      expect(created).toMatchObject({ name: "Desk Lamp", description: "Warm light", category, price: "24.50", stock: 40 });
      expect(created.created_at).toMatch(ISO_UTC);
      expect(created.updated_at).toBe(created.created_at);
      expect(res.headers.get("Location")).toBe(`/api/v1/products/${created.id}`);

      const detail = await api(res.headers.get("Location")!);
      expect(detail.status).toBe(200);
      expect(await detail.json()).toEqual(created);
      expect(ids(await list({ category }))).toEqual([created.id]);
    });

    it("takes the price as a number too, and defaults description and stock", async () => {
      const created = await createViaApi({ name: "Mug", category: newCategory(), price: 7 });
      expect(created).toMatchObject({ price: "7.00", description: "", stock: 0 });
      expect((await createViaApi({ name: "Pen", category: newCategory(), price: 0.5 })).price).toBe("0.50");
      expect((await createViaApi({ name: "Max", category: newCategory(), price: "99999999.99", stock: 1_000_000 })).price).toBe(
        "99999999.99",
      );
    });

    it.each([
      ["no name", { category: "c", price: "1" }, "name"],
      ["an empty name", { name: "", category: "c", price: "1" }, "name"],
      ["a blank name", { name: "   ", category: "c", price: "1" }, "name"],
      ["a name of 201 characters", { name: "n".repeat(201), category: "c", price: "1" }, "name"],
      ["a description of 2001 characters", { name: "n", description: "d".repeat(2001), category: "c", price: "1" }, "description"],
      ["no category", { name: "n", price: "1" }, "category"],
      ["a category of 51 characters", { name: "n", category: "c".repeat(51), price: "1" }, "category"],
      ["no price", { name: "n", category: "c" }, "price"],
      ["a price with three decimals", { name: "n", category: "c", price: "1.234" }, "price"],
      ["a number price with three decimals", { name: "n", category: "c", price: 1.234 }, "price"],
      ["a negative price", { name: "n", category: "c", price: -1 }, "price"],
      ["a price that is not a number", { name: "n", category: "c", price: "abc" }, "price"],
      ["a price too large", { name: "n", category: "c", price: "100000000" }, "price"],
      ["stock as a string", { name: "n", category: "c", price: "1", stock: "7" }, "stock"],
      ["a fractional stock", { name: "n", category: "c", price: "1", stock: 1.5 }, "stock"],
      ["a negative stock", { name: "n", category: "c", price: "1", stock: -1 }, "stock"],
      ["a stock over 1,000,000", { name: "n", category: "c", price: "1", stock: 1_000_001 }, "stock"],
    ])("refuses %s with 400", async (_, body, field) => {
      await expectValidationError(await send("POST", "/api/v1/products", body), field);
    });

    it("refuses a stock written with an exponent (1e3) with 400", async () => {
      const raw = `{"name": "n", "category": "c", "price": "1", "stock": 1e3}`;
      await expectValidationError(await send("POST", "/api/v1/products", raw), "stock");
    });

    it("refuses a body that is not JSON with 400 invalid_json", async () => {
      const res = await send("POST", "/api/v1/products", "{name:");
      expect(res.status).toBe(400);
      expect(((await res.json()) as ErrorBody).error.code).toBe("invalid_json");
    });

    it("needs a token (401) of an admin (403)", async () => {
      const body = { name: "n", category: newCategory(), price: "1" };
      const anonymous = await send("POST", "/api/v1/products", body, null);
      expect(anonymous.status).toBe(401);
      expect(((await anonymous.json()) as ErrorBody).error.code).toBe("unauthorized");
      const forged = await send("POST", "/api/v1/products", body, "not.a.token");
      expect(forged.status).toBe(401);
      const customer = await send("POST", "/api/v1/products", body, customerToken);
      expect(customer.status).toBe(403);
      expect(((await customer.json()) as ErrorBody).error.code).toBe("forbidden");
      expect(await list({ category: body.category })).toMatchObject({ total: 0 });
    });

    it("checks the caller before the body", async () => {
      expect((await send("POST", "/api/v1/products", { name: "" }, null)).status).toBe(401);
      expect((await send("POST", "/api/v1/products", { name: "" }, customerToken)).status).toBe(403);
    });
  });

  describe("PATCH /api/v1/products/{id}", () => {
    it("changes only the fields given and moves updated_at forward", async () => {
      const category = newCategory();
      const before = await createViaApi({ name: "Kettle", description: "Steel", category, price: "30", stock: 5 });
      const res = await send("PATCH", `/api/v1/products/${before.id}`, { price: 27.5, stock: 0 });
      expect(res.status).toBe(200);
      const after = (await res.json()) as ProductBody;
      expect(after).toEqual({ ...before, price: "27.50", stock: 0, updated_at: after.updated_at });
      expect(Date.parse(after.updated_at)).toBeGreaterThan(Date.parse(before.updated_at));
      expect(after.created_at).toBe(before.created_at);
      expect(await (await api(`/api/v1/products/${before.id}`)).json()).toEqual(after);
    });

    it("moves a product to another category", async () => {
      const [from, to] = [newCategory(), newCategory()];
      const product = await createViaApi({ name: "Rug", category: from, price: "1" });
      expect((await send("PATCH", `/api/v1/products/${product.id}`, { category: to, name: "Red Rug" })).status).toBe(200);
      expect((await list({ category: from })).total).toBe(0);
      expect((await list({ category: to })).items).toMatchObject([{ id: product.id, name: "Red Rug" }]);
    });

    it.each([
      ["an empty body", {}, "body"],
      ["a null field", { name: null }, "name"],
      ["stock as a string", { stock: "7" }, "stock"],
      ["a fractional stock", { stock: 1.5 }, "stock"],
      ["a bad price", { price: "1.001" }, "price"],
      ["an empty name", { name: "" }, "name"],
    ])("refuses %s with 400", async (_, body, field) => {
      const product = await createViaApi({ name: "n", category: newCategory(), price: "1" });
      await expectValidationError(await send("PATCH", `/api/v1/products/${product.id}`, body), field);
    });

    it("answers 404 for an unknown or deleted product and 400 for a bad id", async () => {
      expect((await send("PATCH", "/api/v1/products/2147483647", { stock: 1 })).status).toBe(404);
      const [deleted] = await insertProducts(newCategory(), [{ name: "gone", deletedAt: new Date() }]);
      const res = await send("PATCH", `/api/v1/products/${deleted}`, { stock: 1 });
      expect(res.status).toBe(404);
      expect(((await res.json()) as ErrorBody).error).toEqual({ code: "not_found", message: `Product ${deleted} not found` });
      await expectValidationError(await send("PATCH", "/api/v1/products/1.5", { stock: 1 }), "id");
    });

    it("needs an admin", async () => {
      const product = await createViaApi({ name: "n", category: newCategory(), price: "1" });
      expect((await send("PATCH", `/api/v1/products/${product.id}`, { stock: 9 }, null)).status).toBe(401);
      expect((await send("PATCH", `/api/v1/products/${product.id}`, { stock: 9 }, customerToken)).status).toBe(403);
      expect(((await (await api(`/api/v1/products/${product.id}`)).json()) as ProductBody).stock).toBe(0);
    });
  });

  describe("DELETE /api/v1/products/{id}", () => {
    const remove = (id: number, token: string | null = adminToken) =>
      api(`/api/v1/products/${id}`, { method: "DELETE", headers: token ? { Authorization: `Bearer ${token}` } : {} });

    it("takes the product out of the catalog but keeps its row", async () => {
      const category = newCategory();
      const kept = await createViaApi({ name: "stays", category, price: "1" });
      const product = await createViaApi({ name: "goes", category, price: "1" });

      const res = await remove(product.id);
      expect(res.status).toBe(204);
      expect(await res.text()).toBe("");

      expect((await api(`/api/v1/products/${product.id}`)).status).toBe(404);
      expect(ids(await list({ category }))).toEqual([kept.id]);
      const counts = (await (await api("/api/v1/categories")).json()) as Array<{ category: string; product_count: number }>;
      expect(counts.find((c) => c.category === category)).toEqual({ category, product_count: 1 });

      const [row] = await db.select().from(products).where(eq(products.id, product.id));
      expect(row).toMatchObject({ id: product.id, name: "goes", price: "1.00" });
      expect(row!.deletedAt).toBeInstanceOf(Date);
    });

    it("answers 404 the second time, and to a patch afterwards", async () => {
      const product = await createViaApi({ name: "n", category: newCategory(), price: "1" });
      expect((await remove(product.id)).status).toBe(204);
      expect((await remove(product.id)).status).toBe(404);
      expect((await send("PATCH", `/api/v1/products/${product.id}`, { stock: 1 })).status).toBe(404);
    });

    it("needs an admin, and a valid id", async () => {
      const product = await createViaApi({ name: "n", category: newCategory(), price: "1" });
      expect((await remove(product.id, null)).status).toBe(401);
      expect((await remove(product.id, customerToken)).status).toBe(403);
      expect((await api(`/api/v1/products/${product.id}`)).status).toBe(200);
      expect((await api("/api/v1/products/abc", { method: "DELETE", headers: { Authorization: `Bearer ${adminToken}` } })).status).toBe(
        400,
      );
    });
  });
});
