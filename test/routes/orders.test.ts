import { env } from "cloudflare:test";
import { eq, sql } from "drizzle-orm";
import { sign } from "hono/jwt";
import { beforeAll, describe, expect, it } from "vitest";
import { orders, products } from "../../src/db/schema";
import type { OrderBody } from "../../src/schemas/orders";
import { issueToken } from "../../src/lib/access-token";
import { api, apiWithEnv, type ErrorBody } from "../support/api";
import { makeUser, type TestUser } from "../support/accounts";
import { makeProducts } from "../support/catalog";
import { db } from "../support/db";
import { jsonRequest, mailTo, outboxOf, placeOk, postOrder, stockOf, stocksOf, waitFor } from "../support/orders";
import { countedDatabase } from "../support/round-trips";

type OrderPage = { items: OrderBody[]; total: number; page: number; page_size: number; total_pages: number };
type ValidationBody = { error: { code: string; details: Array<{ field: string; message: string }> } };
type StockDetails = Array<{ product_id: number; requested: number; available: number }>;

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const get = (path: string, token: string | null) => api(path, jsonRequest("GET", token));
const cancel = (id: number, token: string) => api(`/api/v1/orders/${id}/cancel`, jsonRequest("POST", token));

async function expectValidationError(res: Response, field: string): Promise<void> {
  expect(res.status, await res.clone().text()).toBe(400);
  const body = (await res.json()) as ValidationBody;
  expect(body.error.code).toBe("validation_error");
  expect(body.error.details.map((d) => d.field)).toContain(field);
}

async function errorOf(res: Response): Promise<ErrorBody["error"]> {
  return ((await res.json()) as ErrorBody).error;
}

let customer: TestUser;
let other: TestUser;
let admin: TestUser;

beforeAll(async () => {
  [customer, other, admin] = await Promise.all([makeUser({ fullName: "Ann Buyer" }), makeUser(), makeUser({ admin: true })]);
});

describe("POST /api/v1/orders", () => {
  it("places an order: 201, the contract's shape, prices of now, total in exact decimals, stock taken", async () => {
    const [a, b] = await makeProducts([
      { stock: 10, price: "19.99", name: "Classic Mug" },
      { stock: 10, price: "0.10", name: "Tea Bag" },
    ]);
    const res = await postOrder(customer.token, {
      items: [
        { product_id: b, quantity: 7 },
        { product_id: a, quantity: 3 },
      ],
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const order = (await res.json()) as OrderBody;
    expect(res.headers.get("Location")).toBe(`/api/v1/orders/${order.id}`);
    expect(res.headers.get("Idempotent-Replayed")).toBeNull();
    const [product] = await db.select({ category: products.category }).from(products).where(eq(products.id, a!));
    expect(order).toEqual({
      id: expect.any(Number),
      user_id: customer.id,
      status: "confirmed",
      // 3 × 19.99 + 7 × 0.10 = 60.67 exactly (in floats 59.97 + 0.7000000000000001)
      total_amount: "60.67",
      created_at: expect.stringMatching(ISO_UTC),
      items: [
        { product_id: b, quantity: 7, unit_price: "0.10", product: { id: b, name: "Tea Bag", category: product!.category } },
        { product_id: a, quantity: 3, unit_price: "19.99", product: { id: a, name: "Classic Mug", category: product!.category } },
      ],
      // A direct order has no payment window and no payment (docs/api.md v1.1: null where they do not apply).
      expires_at: null,
      paid_at: null,
      payment: null,
    });
    expect(await stocksOf([a!, b!])).toEqual([7, 3]);
    // Reading it back gives the same body.
    expect(await (await get(`/api/v1/orders/${order.id}`, customer.token)).json()).toEqual(order);
  });

  it("merges lines of the same product (quantities summed)", async () => {
    const [a, b] = await makeProducts([{ stock: 10 }, { stock: 10 }]);
    const res = await postOrder(customer.token, {
      items: [
        { product_id: a, quantity: 2 },
        { product_id: b, quantity: 1 },
        { product_id: a, quantity: 3 },
      ],
    });
    expect(res.status).toBe(201);
    const order = (await res.json()) as OrderBody;
    expect(order.items.map((i) => [i.product_id, i.quantity])).toEqual([
      [a, 5],
      [b, 1],
    ]);
    expect(order.total_amount).toBe("60.00");
    expect(await stocksOf([a!, b!])).toEqual([5, 9]);
  });

  it("checks merged quantities against 1..1000 (400, nothing taken)", async () => {
    const [a] = await makeProducts([{ stock: 5000 }]);
    const res = await postOrder(customer.token, {
      items: [
        { product_id: a, quantity: 600 },
        { product_id: a, quantity: 401 },
      ],
    });
    await expectValidationError(res, "items.0.quantity");
    expect(await stockOf(a!)).toBe(5000);
    const ok = await postOrder(customer.token, {
      items: [
        { product_id: a, quantity: 600 },
        { product_id: a, quantity: 400 },
      ],
    });
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as OrderBody).items).toMatchObject([{ product_id: a, quantity: 1000 }]);
  });

  describe("refuses bad input with 400, before touching stock", () => {
    let productId: number;
    beforeAll(async () => {
      [productId] = (await makeProducts([{ stock: 100 }])) as [number];
    });
    const line = (fields: Record<string, unknown>) => ({ items: [{ product_id: productId, quantity: 1, ...fields }] });

    it.each([
      ["quantity 0", () => line({ quantity: 0 }), "items.0.quantity"],
      ["quantity 1001", () => line({ quantity: 1001 }), "items.0.quantity"],
      ["quantity -1", () => line({ quantity: -1 }), "items.0.quantity"],
      ["quantity 1.5", () => line({ quantity: 1.5 }), "items.0.quantity"],
      ['quantity "7"', () => line({ quantity: "7" }), "items.0.quantity"],
      ["quantity null", () => line({ quantity: null }), "items.0.quantity"],
      ['product_id "7"', () => line({ product_id: String(productId) }), "items.0.product_id"],
      ["product_id 1.5", () => line({ product_id: 1.5 }), "items.0.product_id"],
      ["product_id 0", () => line({ product_id: 0 }), "items.0.product_id"],
      ["product_id beyond int4", () => line({ product_id: 2_147_483_648 }), "items.0.product_id"],
      ["no lines", () => ({ items: [] }), "items"],
      ["51 lines", () => ({ items: Array.from({ length: 51 }, (_, i) => ({ product_id: i + 1, quantity: 1 })) }), "items"],
      ["items missing", () => ({}), "items"],
      ["items not a list", () => ({ items: { product_id: productId, quantity: 1 } }), "items"],
    ])("%s", async (_, body, field) => {
      await expectValidationError(await postOrder(customer.token, body()), field);
      expect(await stockOf(productId)).toBe(100);
    });

    it("1e3 is not a JSON integer", async () => {
      const res = await postOrder(customer.token, `{"items": [{"product_id": ${productId}, "quantity": 1e3}]}`);
      await expectValidationError(res, "items.0.quantity");
    });

    it("50 lines are fine", async () => {
      const ids = await makeProducts(Array.from({ length: 50 }, () => ({ stock: 1, price: "0.01" })));
      const res = await postOrder(customer.token, { items: ids.map((id) => ({ product_id: id, quantity: 1 })) });
      expect(res.status).toBe(201);
      expect(((await res.json()) as OrderBody).total_amount).toBe("0.50");
    });

    it("malformed JSON is 400 invalid_json", async () => {
      const res = await postOrder(customer.token, '{"items": [');
      expect(res.status).toBe(400);
      expect((await errorOf(res)).code).toBe("invalid_json");
    });

    it.each([
      ["empty", ""],
      ["256 characters", "k".repeat(256)],
      ["not printable ASCII", "key\u0007bell"],
    ])("an Idempotency-Key that is %s", async (_, key) => {
      const res = await api("/api/v1/orders", {
        method: "POST",
        headers: { Authorization: `Bearer ${customer.token}`, "Content-Type": "application/json", "Idempotency-Key": key },
        body: JSON.stringify(line({})),
      });
      await expectValidationError(res, "idempotency-key");
      expect(await stockOf(productId)).toBe(100);
    });
  });

  it("needs a token: 401 without one or with a bad one", async () => {
    const [a] = await makeProducts([{ stock: 5 }]);
    const body = { items: [{ product_id: a, quantity: 1 }] };
    for (const token of [null, "not-a-token"]) {
      const res = await postOrder(token, body);
      expect(res.status).toBe(401);
      expect((await errorOf(res)).code).toBe("unauthorized");
    }
    // Even with a bad body, the missing token is what is reported.
    expect((await postOrder(null, { items: [] })).status).toBe(401);
    expect(await stockOf(a!)).toBe(5);
  });

  it("answers 404 for an unknown product, and takes nothing from the other lines", async () => {
    const [a] = await makeProducts([{ stock: 5 }]);
    const res = await postOrder(customer.token, {
      items: [
        { product_id: a, quantity: 1 },
        { product_id: 2_000_000_000, quantity: 1 },
      ],
    });
    expect(res.status).toBe(404);
    expect(await errorOf(res)).toMatchObject({ code: "not_found", message: "Product 2000000000 not found" });
    expect(await stockOf(a!)).toBe(5);
  });

  it("answers 404 for a product that left the catalog (soft-deleted)", async () => {
    const [a, gone] = await makeProducts([{ stock: 5 }, { stock: 5, deleted: true }]);
    const res = await postOrder(customer.token, {
      items: [
        { product_id: a, quantity: 1 },
        { product_id: gone, quantity: 1 },
      ],
    });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("not_found");
    expect(await stocksOf([a!, gone!])).toEqual([5, 5]);
  });

  it("is all or nothing: the second line short → 409 with what is available, nothing taken from the first", async () => {
    const [a, b] = await makeProducts([{ stock: 10 }, { stock: 2 }]);
    const res = await postOrder(customer.token, {
      items: [
        { product_id: a, quantity: 4 },
        { product_id: b, quantity: 3 },
      ],
    });
    expect(res.status).toBe(409);
    const error = await errorOf(res);
    expect(error.code).toBe("insufficient_stock");
    expect(error.details as StockDetails).toEqual([{ product_id: b, requested: 3, available: 2 }]);
    expect(await stocksOf([a!, b!])).toEqual([10, 2]);
    const ordersOfProduct = await db.execute(sql`select 1 from order_items where product_id = ${a!}`);
    expect(ordersOfProduct.rows).toHaveLength(0);
  });

  it("lists every short line in the 409's details", async () => {
    const [a, b, c] = await makeProducts([{ stock: 1 }, { stock: 10 }, { stock: 0 }]);
    const res = await postOrder(customer.token, {
      items: [
        { product_id: a, quantity: 2 },
        { product_id: b, quantity: 1 },
        { product_id: c, quantity: 1 },
      ],
    });
    expect(res.status).toBe(409);
    expect((await errorOf(res)).details).toEqual([
      { product_id: a, requested: 2, available: 1 },
      { product_id: c, requested: 1, available: 0 },
    ]);
  });

  it("never oversells: 40 concurrent orders for 5 units from 8 users → 5 × 201, 35 × 409, stock 0", async () => {
    const [scarce] = await makeProducts([{ stock: 5, price: "3.00" }]);
    const buyers = await Promise.all(Array.from({ length: 8 }, () => makeUser()));
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => postOrder(buyers[i % 8]!.token, { items: [{ product_id: scarce, quantity: 1 }] })),
    );
    const statuses = responses.map((res) => res.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(5);
    expect(statuses.filter((s) => s === 409)).toHaveLength(35);
    for (const res of responses.filter((r) => r.status === 409)) {
      const error = await errorOf(res);
      expect(error.code).toBe("insufficient_stock");
      expect(error.details).toEqual([{ product_id: scarce, requested: 1, available: 0 }]);
    }
    expect(await stockOf(scarce!)).toBe(0);
    const sold = await db.execute<{ n: number }>(
      sql`select coalesce(sum(quantity), 0)::int as n from order_items where product_id = ${scarce!}`,
    );
    expect(sold.rows[0]!.n).toBe(5);
  });

  it("does not deadlock: orders taking the same products in opposite line orders all finish (201 or 409, never 500)", async () => {
    const [a, b, c] = await makeProducts([{ stock: 30 }, { stock: 30 }, { stock: 30 }]);
    const shapes = [
      [a, b, c],
      [c, b, a],
      [b, a, c],
      [c, a, b],
    ];
    const responses = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        postOrder(customer.token, { items: shapes[i % 4]!.map((id) => ({ product_id: id, quantity: 2 })) }),
      ),
    );
    const statuses = responses.map((res) => res.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(15);
    expect(statuses.filter((s) => s === 409)).toHaveLength(9);
    expect(await stocksOf([a!, b!, c!])).toEqual([0, 0, 0]);
  });
});

describe("Idempotency-Key on POST /api/v1/orders", () => {
  it("10 concurrent requests with one key: one order, stock taken once, ten 201s with the same body", async () => {
    const buyer = await makeUser();
    const [a] = await makeProducts([{ stock: 50, price: "2.50" }]);
    const key = `checkout-${crypto.randomUUID()}`;
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => postOrder(buyer.token, { items: [{ product_id: a, quantity: 4 }] }, key)),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(201));
    const bodies = await Promise.all(responses.map((r) => r.text()));
    expect(new Set(bodies).size).toBe(1);
    expect(responses.filter((r) => r.headers.get("Idempotent-Replayed") === "true")).toHaveLength(9);
    const order = JSON.parse(bodies[0]!) as OrderBody;
    expect(responses.every((r) => r.headers.get("Location") === `/api/v1/orders/${order.id}`)).toBe(true);
    expect(await stockOf(a!)).toBe(46);
    const placed = await db.select({ id: orders.id }).from(orders).where(eq(orders.userId, buyer.id));
    expect(placed).toEqual([{ id: order.id }]);
  });

  it("a later retry with the same key and body answers the same 201 and body, without a new order", async () => {
    const [a] = await makeProducts([{ stock: 10 }]);
    const key = crypto.randomUUID();
    const first = await postOrder(customer.token, { items: [{ product_id: a, quantity: 1 }] }, key);
    expect(first.status).toBe(201);
    const again = await postOrder(customer.token, { items: [{ product_id: a, quantity: 1 }] }, key);
    expect(again.status).toBe(201);
    expect(again.headers.get("Idempotent-Replayed")).toBe("true");
    expect(await again.text()).toBe(await first.text());
    expect(await stockOf(a!)).toBe(9);
  });

  it("treats the same lines in another order or split as the same request", async () => {
    const [a, b] = await makeProducts([{ stock: 10 }, { stock: 10 }]);
    const key = crypto.randomUUID();
    const first = await postOrder(
      customer.token,
      {
        items: [
          { product_id: a, quantity: 2 },
          { product_id: b, quantity: 1 },
        ],
      },
      key,
    );
    const again = await postOrder(
      customer.token,
      {
        items: [
          { product_id: b, quantity: 1 },
          { product_id: a, quantity: 1 },
          { product_id: a, quantity: 1 },
        ],
      },
      key,
    );
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual(await first.json());
    expect(await stocksOf([a!, b!])).toEqual([8, 9]);
  });

  it("the same key with another body → 409 idempotency_conflict, nothing taken", async () => {
    const [a] = await makeProducts([{ stock: 10 }]);
    const key = crypto.randomUUID();
    expect((await postOrder(customer.token, { items: [{ product_id: a, quantity: 1 }] }, key)).status).toBe(201);
    const res = await postOrder(customer.token, { items: [{ product_id: a, quantity: 2 }] }, key);
    expect(res.status).toBe(409);
    expect((await errorOf(res)).code).toBe("idempotency_conflict");
    expect(await stockOf(a!)).toBe(9);
  });

  it("scopes keys per user: another user's identical key is a different key", async () => {
    const [a] = await makeProducts([{ stock: 10 }]);
    const key = "shared-looking-key-1";
    const mine = await postOrder(customer.token, { items: [{ product_id: a, quantity: 1 }] }, key);
    const theirs = await postOrder(other.token, { items: [{ product_id: a, quantity: 1 }] }, key);
    expect([mine.status, theirs.status]).toEqual([201, 201]);
    const [m, t] = (await Promise.all([mine.json(), theirs.json()])) as [OrderBody, OrderBody];
    expect(m.id).not.toBe(t.id);
    expect([m.user_id, t.user_id]).toEqual([customer.id, other.id]);
    expect(theirs.headers.get("Idempotent-Replayed")).toBeNull();
    expect(await stockOf(a!)).toBe(8);
  });

  it("stores a business refusal too (Stripe): a retry of a 409 insufficient_stock answers the same 409", async () => {
    const [a] = await makeProducts([{ stock: 1 }]);
    const key = crypto.randomUUID();
    const first = await postOrder(customer.token, { items: [{ product_id: a, quantity: 2 }] }, key);
    expect(first.status).toBe(409);
    await db.update(products).set({ stock: 10 }).where(eq(products.id, a!));
    const again = await postOrder(customer.token, { items: [{ product_id: a, quantity: 2 }] }, key);
    expect(again.status).toBe(409);
    expect(again.headers.get("Idempotent-Replayed")).toBe("true");
    expect(await again.text()).toBe(await first.text());
    expect(await stockOf(a!)).toBe(10);
    // A new key is a new attempt.
    expect((await postOrder(customer.token, { items: [{ product_id: a, quantity: 2 }] }, crypto.randomUUID())).status).toBe(201);
  });

  it("does not store a rejected request (400): the key stays unused", async () => {
    const [a] = await makeProducts([{ stock: 10 }]);
    const key = crypto.randomUUID();
    expect((await postOrder(customer.token, { items: [{ product_id: a, quantity: 0 }] }, key)).status).toBe(400);
    expect((await postOrder(customer.token, { items: [{ product_id: a, quantity: 1 }] }, key)).status).toBe(201);
  });

  it("forgets a key after 24 hours: an expired key places a new order", async () => {
    const buyer = await makeUser();
    const [a] = await makeProducts([{ stock: 10 }]);
    const key = crypto.randomUUID();
    const first = (await (await postOrder(buyer.token, { items: [{ product_id: a, quantity: 1 }] }, key)).json()) as OrderBody;
    await db.execute(sql`
      update idempotency_keys set created_at = now() - interval '25 hours', expires_at = now() - interval '1 hour'
      where user_id = ${buyer.id} and key = ${key}
    `);
    const res = await postOrder(buyer.token, { items: [{ product_id: a, quantity: 1 }] }, key);
    expect(res.status).toBe(201);
    expect(res.headers.get("Idempotent-Replayed")).toBeNull();
    expect(((await res.json()) as OrderBody).id).not.toBe(first.id);
    expect(await stockOf(a!)).toBe(8);
  });

  it("accepts a key of 255 printable characters", async () => {
    const [a] = await makeProducts([{ stock: 10 }]);
    const key = `${crypto.randomUUID()} ~!`.padEnd(255, "x");
    const first = await postOrder(customer.token, { items: [{ product_id: a, quantity: 1 }] }, key);
    const again = await postOrder(customer.token, { items: [{ product_id: a, quantity: 1 }] }, key);
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.headers.get("Idempotent-Replayed")).toBe("true");
  });
});

describe("GET /api/v1/orders and /api/v1/orders/{id}", () => {
  it("lists the caller's own orders, newest first, paginated, with current product names", async () => {
    const buyer = await makeUser();
    const [a, b] = await makeProducts([
      { stock: 10, price: "5.00", name: "Old Name" },
      { stock: 10, price: "1.00" },
    ]);
    const first = await placeOk(buyer, [{ product_id: a!, quantity: 1 }]);
    const second = await placeOk(buyer, [{ product_id: b!, quantity: 2 }]);
    const third = await placeOk(buyer, [
      { product_id: a!, quantity: 2 },
      { product_id: b!, quantity: 1 },
    ]);
    await placeOk(other, [{ product_id: a!, quantity: 1 }]);
    // Renamed, repriced, then removed from the catalog: the order keeps its price, shows the product as it is now.
    await db.update(products).set({ name: "New Name", price: "99.00" }).where(eq(products.id, a!));
    await db.update(products).set({ deletedAt: new Date() }).where(eq(products.id, a!));

    const page1 = (await (await get("/api/v1/orders?page_size=2", buyer.token)).json()) as OrderPage;
    expect(page1).toMatchObject({ total: 3, page: 1, page_size: 2, total_pages: 2 });
    expect(page1.items.map((o) => o.id)).toEqual([third.id, second.id]);
    expect(page1.items[0]!.items[0]).toMatchObject({ product_id: a, unit_price: "5.00", product: { id: a, name: "New Name" } });
    const page2 = (await (await get("/api/v1/orders?page=2&page_size=2", buyer.token)).json()) as OrderPage;
    expect(page2.items.map((o) => o.id)).toEqual([first.id]);
    expect(page2.items[0]).toEqual({
      ...first,
      items: [{ ...first.items[0]!, product: { ...first.items[0]!.product, name: "New Name" } }],
    });
    const past = (await (await get("/api/v1/orders?page=3&page_size=2", buyer.token)).json()) as OrderPage;
    expect(past).toEqual({ items: [], total: 3, page: 3, page_size: 2, total_pages: 2 });
  });

  it("answers an empty first page for a user without orders", async () => {
    const nobody = await makeUser();
    const res = await get("/api/v1/orders", nobody.token);
    expect(await res.json()).toEqual({ items: [], total: 0, page: 1, page_size: 20, total_pages: 0 });
  });

  it("orders by created_at then id, both descending", async () => {
    const buyer = await makeUser();
    const [a] = await makeProducts([{ stock: 10 }]);
    const at = new Date("2026-01-01T00:00:00.000Z");
    const rows = await db
      .insert(orders)
      .values([0, 1, 2].map(() => ({ userId: buyer.id, totalAmount: "0.00", createdAt: at })))
      .returning({ id: orders.id });
    const later = await placeOk(buyer, [{ product_id: a!, quantity: 1 }]);
    const page = (await (await get("/api/v1/orders", buyer.token)).json()) as OrderPage;
    expect(page.items.map((o) => o.id)).toEqual([later.id, ...rows.map((r) => r.id).reverse()]);
    expect(page.items[1]!.items).toEqual([]);
  });

  it.each([
    ["page 0", "page=0", "page"],
    ["page_size 0", "page_size=0", "page_size"],
    ["page_size 101", "page_size=101", "page_size"],
    ["page 1.5", "page=1.5", "page"],
  ])("refuses %s", async (_, query, field) => {
    await expectValidationError(await get(`/api/v1/orders?${query}`, customer.token), field);
  });

  it("reads one order; someone else's is 404, an admin may read any", async () => {
    const [a] = await makeProducts([{ stock: 10 }]);
    const order = await placeOk(customer, [{ product_id: a!, quantity: 1 }]);
    expect(await (await get(`/api/v1/orders/${order.id}`, customer.token)).json()).toEqual(order);
    const theirs = await get(`/api/v1/orders/${order.id}`, other.token);
    expect(theirs.status).toBe(404);
    expect(await errorOf(theirs)).toEqual({ code: "not_found", message: `Order ${order.id} not found` });
    expect(await (await get(`/api/v1/orders/${order.id}`, admin.token)).json()).toEqual(order);
    // An admin's own list is still only the admin's own orders.
    expect(((await (await get("/api/v1/orders", admin.token)).json()) as OrderPage).items.map((o) => o.id)).not.toContain(order.id);
  });

  it("a revoked admin loses access at once (the role is checked in the database, not the token)", async () => {
    const [a] = await makeProducts([{ stock: 10 }]);
    const order = await placeOk(customer, [{ product_id: a!, quantity: 1 }]);
    const formerAdmin = await makeUser({ admin: true });
    expect((await get(`/api/v1/orders/${order.id}`, formerAdmin.token)).status).toBe(200);
    await db.execute(sql`update users set is_admin = false where id = ${formerAdmin.id}`);
    expect((await get(`/api/v1/orders/${order.id}`, formerAdmin.token)).status).toBe(404);
  });

  it("404 for an unknown order, 400 for an id that is not one, 401 without a token", async () => {
    expect((await get("/api/v1/orders/2000000000", customer.token)).status).toBe(404);
    await expectValidationError(await get("/api/v1/orders/abc", customer.token), "id");
    await expectValidationError(await get("/api/v1/orders/1.5", customer.token), "id");
    expect((await get("/api/v1/orders", null)).status).toBe(401);
    expect((await get("/api/v1/orders/1", null)).status).toBe(401);
  });
});

describe("POST /api/v1/orders/{id}/cancel", () => {
  it("cancels: the order with status cancelled, its stock back", async () => {
    const [a, b] = await makeProducts([{ stock: 10 }, { stock: 10 }]);
    const order = await placeOk(customer, [
      { product_id: a!, quantity: 3 },
      { product_id: b!, quantity: 1 },
    ]);
    expect(await stocksOf([a!, b!])).toEqual([7, 9]);
    const res = await cancel(order.id, customer.token);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ...order, status: "cancelled" });
    expect(await stocksOf([a!, b!])).toEqual([10, 10]);
    expect(((await (await get(`/api/v1/orders/${order.id}`, customer.token)).json()) as OrderBody).status).toBe("cancelled");
  });

  it("a second cancel answers 200 with the cancelled order and returns nothing twice", async () => {
    const [a] = await makeProducts([{ stock: 10 }]);
    const order = await placeOk(customer, [{ product_id: a!, quantity: 4 }]);
    expect((await cancel(order.id, customer.token)).status).toBe(200);
    const again = await cancel(order.id, customer.token);
    expect(again.status).toBe(200);
    expect(((await again.json()) as OrderBody).status).toBe("cancelled");
    expect(await stockOf(a!)).toBe(10);
  });

  it("10 concurrent cancels return the stock exactly once", async () => {
    const [a, b] = await makeProducts([{ stock: 20 }, { stock: 20 }]);
    const order = await placeOk(customer, [
      { product_id: a!, quantity: 5 },
      { product_id: b!, quantity: 2 },
    ]);
    const responses = await Promise.all(Array.from({ length: 10 }, () => cancel(order.id, customer.token)));
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200));
    for (const res of responses) expect(((await res.json()) as OrderBody).status).toBe("cancelled");
    expect(await stocksOf([a!, b!])).toEqual([20, 20]);
  });

  it("keeps stock consistent when orders and cancels race on the same products", async () => {
    const [a, b] = await makeProducts([{ stock: 40 }, { stock: 40 }]);
    const placed = await Promise.all(
      Array.from({ length: 6 }, () =>
        placeOk(customer, [
          { product_id: a!, quantity: 2 },
          { product_id: b!, quantity: 1 },
        ]),
      ),
    );
    const work = [
      ...placed.map((o) => cancel(o.id, customer.token)),
      ...Array.from({ length: 10 }, (_, i) =>
        postOrder(customer.token, {
          items:
            i % 2
              ? [
                  { product_id: a, quantity: 3 },
                  { product_id: b, quantity: 1 },
                ]
              : [
                  { product_id: b, quantity: 1 },
                  { product_id: a, quantity: 3 },
                ],
        }),
      ),
    ];
    const statuses = (await Promise.all(work)).map((r) => r.status);
    expect(
      statuses.every((s) => s === 200 || s === 201 || s === 409),
      String(statuses),
    ).toBe(true);
    const { rows } = await db.execute<{ product_id: number; held: number }>(sql`
      select i.product_id, coalesce(sum(i.quantity) filter (where o.status = 'confirmed'), 0)::int as held
      from order_items i join orders o on o.id = i.order_id
      where i.product_id in (${a!}, ${b!}) group by i.product_id order by i.product_id
    `);
    const [stockA, stockB] = await stocksOf([a!, b!]);
    expect(stockA! + rows[0]!.held).toBe(40);
    expect(stockB! + rows[1]!.held).toBe(40);
  });

  it("someone else's order is 404 and stays as it is; an admin may cancel any", async () => {
    const [a] = await makeProducts([{ stock: 10 }]);
    const order = await placeOk(customer, [{ product_id: a!, quantity: 2 }]);
    const res = await cancel(order.id, other.token);
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("not_found");
    expect(await stockOf(a!)).toBe(8);
    const byAdmin = await cancel(order.id, admin.token);
    expect(byAdmin.status).toBe(200);
    expect(((await byAdmin.json()) as OrderBody).status).toBe("cancelled");
    expect(await stockOf(a!)).toBe(10);
  });

  it("404 for an unknown order, 401 without a token", async () => {
    expect((await cancel(2_000_000_000, customer.token)).status).toBe(404);
    expect((await api("/api/v1/orders/1/cancel", { method: "POST" })).status).toBe(401);
  });
});

describe("a signed token whose account is gone, revoked its tokens, or cannot exist", () => {
  async function expectUnauthorized(res: Response): Promise<void> {
    expect(res.status, await res.clone().text()).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toContain("Bearer");
    expect((await errorOf(res)).code).toBe("unauthorized");
  }

  async function ordersOf(userId: number): Promise<number> {
    const { rows } = await db.execute<{ n: number }>(sql`select count(*)::int as n from orders where user_id = ${userId}`);
    return rows[0]!.n;
  }

  async function keysOf(userId: number): Promise<number> {
    const { rows } = await db.execute<{ n: number }>(sql`select count(*)::int as n from idempotency_keys where user_id = ${userId}`);
    return rows[0]!.n;
  }

  it("answers 401 on every order route for an account that was deleted (never a 500), and takes nothing", async () => {
    const [a] = await makeProducts([{ stock: 5 }]);
    const someoneElses = await placeOk(other, [{ product_id: a!, quantity: 1 }]);
    const gone = await makeUser();
    await db.execute(sql`delete from users where id = ${gone.id}`);
    await expectUnauthorized(await postOrder(gone.token, { items: [{ product_id: a, quantity: 1 }] }));
    await expectUnauthorized(await postOrder(gone.token, { items: [{ product_id: a, quantity: 1 }] }, crypto.randomUUID()));
    await expectUnauthorized(await get("/api/v1/orders", gone.token));
    await expectUnauthorized(await get(`/api/v1/orders/${someoneElses.id}`, gone.token));
    await expectUnauthorized(await cancel(someoneElses.id, gone.token));
    expect(await stockOf(a!)).toBe(4);
    expect((await (await get(`/api/v1/orders/${someoneElses.id}`, other.token)).json()) as OrderBody).toMatchObject({
      status: "confirmed",
    });
    expect(await keysOf(gone.id)).toBe(0);
  });

  it("answers 401 on every order route to a token issued before the account's tokens were revoked, and changes nothing", async () => {
    const [a] = await makeProducts([{ stock: 10 }]);
    const user = await makeUser();
    const order = await placeOk(user, [{ product_id: a!, quantity: 2 }]);
    await db.execute(sql`update users set token_version = token_version + 1 where id = ${user.id}`);
    await expectUnauthorized(await postOrder(user.token, { items: [{ product_id: a, quantity: 1 }] }));
    await expectUnauthorized(await postOrder(user.token, { items: [{ product_id: a, quantity: 1 }] }, crypto.randomUUID()));
    await expectUnauthorized(await get("/api/v1/orders", user.token));
    await expectUnauthorized(await get(`/api/v1/orders/${order.id}`, user.token));
    await expectUnauthorized(await cancel(order.id, user.token));
    expect(await stockOf(a!)).toBe(8);
    expect(await ordersOf(user.id)).toBe(1);
    expect(await keysOf(user.id)).toBe(0);
    // A token of the account's new version works as before.
    const renewed = await issueToken({ id: user.id, isAdmin: false, tokenVersion: 1 }, env.JWT_SECRET);
    expect(((await (await get(`/api/v1/orders/${order.id}`, renewed)).json()) as OrderBody).status).toBe("confirmed");
    expect((await cancel(order.id, renewed)).status).toBe(200);
    expect(await stockOf(a!)).toBe(10);
  });

  it("answers 401, not 500, on every order route to a token whose sub is beyond the id column's range", async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await sign({ sub: "9999999999", iat: now, exp: now + 3600 }, env.JWT_SECRET, "HS256");
    await expectUnauthorized(await postOrder(token, { items: [{ product_id: 1, quantity: 1 }] }));
    await expectUnauthorized(await get("/api/v1/orders", token));
    await expectUnauthorized(await get("/api/v1/orders/1", token));
    await expectUnauthorized(await cancel(1, token));
  });

  it("a revoked admin token reads and cancels no one's order", async () => {
    const [a] = await makeProducts([{ stock: 10 }]);
    const order = await placeOk(customer, [{ product_id: a!, quantity: 1 }]);
    const formerAdmin = await makeUser({ admin: true });
    await db.execute(sql`update users set token_version = 1 where id = ${formerAdmin.id}`);
    await expectUnauthorized(await get(`/api/v1/orders/${order.id}`, formerAdmin.token));
    await expectUnauthorized(await cancel(order.id, formerAdmin.token));
    expect(((await (await get(`/api/v1/orders/${order.id}`, customer.token)).json()) as OrderBody).status).toBe("confirmed");
  });

  it("orders racing the account's deletion are 201 (the deletion then fails on them) or 401, never 500", async () => {
    const [a] = await makeProducts([{ stock: 100 }]);
    const user = await makeUser();
    const orders = Array.from({ length: 8 }, (_, i) =>
      postOrder(user.token, { items: [{ product_id: a, quantity: 1 }] }, i % 2 ? crypto.randomUUID() : undefined),
    );
    const deletion = db.execute(sql`delete from users where id = ${user.id}`).then(
      () => "deleted",
      () => "refused",
    );
    const statuses = (await Promise.all(orders)).map((res) => res.status);
    const outcome = await deletion;
    expect(
      statuses.every((status) => status === 201 || status === 401),
      statuses.join(),
    ).toBe(true);
    const placed = statuses.filter((status) => status === 201).length;
    // The deletion went through only if no order had been placed before it (orders keep their account).
    expect(outcome).toBe(placed > 0 ? "refused" : "deleted");
    expect(await ordersOf(user.id)).toBe(placed);
    expect(await stockOf(a!)).toBe(100 - placed);
  });
});

describe("database round trips (SQL-over-HTTP requests, counted per request)", () => {
  /**
   * Counts the SQL-over-HTTP requests one API request makes, including its waitUntil work
   * (apiWithEnv waits for it): the request runs with a DATABASE_URL of its own marker
   * (test/support/round-trips.ts), so other test files sharing the database and the server cannot
   * disturb the count.
   */
  async function roundTrips(path: string, init: RequestInit): Promise<{ res: Response; count: number }> {
    const counted = countedDatabase();
    const res = await apiWithEnv({ DATABASE_URL: counted.env.DATABASE_URL }, path, init);
    return { res, count: (await counted.counts()).requests };
  }

  let reader: TestUser;
  let productIds: number[];
  const ORDERS = 120;

  beforeAll(async () => {
    reader = await makeUser();
    productIds = await makeProducts([{ stock: 1000 }, { stock: 1000 }, { stock: 1000 }]);
    // 120 past orders of 3 lines each, straight into the database.
    await db.execute(sql`
      with o as (
        insert into orders (user_id, total_amount, created_at)
        select ${reader.id}, 30.00, now() - make_interval(mins => g) from generate_series(1, ${ORDERS}) g
        returning id
      )
      insert into order_items (order_id, product_id, quantity, unit_price)
      select o.id, p.id, 1, 10.00 from o cross join unnest(${`{${productIds.join(",")}}`}::int[]) as p(id)
    `);
  });

  it.each([1, 20, 100])("GET /api/v1/orders?page_size=%i is one round trip", async (pageSize) => {
    const { res, count } = await roundTrips(`/api/v1/orders?page_size=${pageSize}`, jsonRequest("GET", reader.token));
    expect(res.status).toBe(200);
    const page = (await res.json()) as OrderPage;
    expect(page.items).toHaveLength(pageSize);
    expect(page.total).toBe(ORDERS);
    expect(page.items.every((o) => o.items.length === 3)).toBe(true);
    expect(count).toBe(1);
  });

  it("the last, partial page of 100 is one round trip too", async () => {
    const { res, count } = await roundTrips("/api/v1/orders?page=2&page_size=100", jsonRequest("GET", reader.token));
    expect(((await res.json()) as OrderPage).items).toHaveLength(ORDERS - 100);
    expect(count).toBe(1);
  });

  it("GET /api/v1/orders/{id} is one round trip", async () => {
    const order = await placeOk(reader, [{ product_id: productIds[0]!, quantity: 1 }]);
    const { res, count } = await roundTrips(`/api/v1/orders/${order.id}`, jsonRequest("GET", reader.token));
    expect(res.status).toBe(200);
    expect(count).toBe(1);
  });

  it("POST /api/v1/orders is one round trip, its after-response enqueue included (no outbox write per order)", async () => {
    const lines = productIds.map((id) => ({ product_id: id, quantity: 1 }));
    const plain = await roundTrips("/api/v1/orders", jsonRequest("POST", reader.token, { items: lines }));
    expect(plain.res.status).toBe(201);
    expect(plain.count).toBe(1);
    const key = crypto.randomUUID();
    const keyed = await roundTrips("/api/v1/orders", jsonRequest("POST", reader.token, { items: lines }, { "Idempotency-Key": key }));
    expect(keyed.res.status).toBe(201);
    expect(keyed.count).toBe(1);
    const replay = await roundTrips("/api/v1/orders", jsonRequest("POST", reader.token, { items: lines }, { "Idempotency-Key": key }));
    expect(replay.res.status).toBe(201);
    expect(replay.count).toBe(1);
    const short = await roundTrips(
      "/api/v1/orders",
      jsonRequest("POST", reader.token, { items: [{ product_id: productIds[0], quantity: 1000 }] }),
    );
    expect(short.res.status).toBe(409);
    expect(short.count).toBe(1);
  });

  it("a token revoked since it was issued costs every order route one round trip too: the check is in the order SQL", async () => {
    const revoked = await makeUser();
    const order = await placeOk(revoked, [{ product_id: productIds[2]!, quantity: 1 }]);
    await db.execute(sql`update users set token_version = 1 where id = ${revoked.id}`);
    const body = { items: [{ product_id: productIds[2], quantity: 1 }] };
    const requests: Array<[string, RequestInit]> = [
      ["/api/v1/orders", jsonRequest("POST", revoked.token, body)],
      ["/api/v1/orders", jsonRequest("POST", revoked.token, body, { "Idempotency-Key": crypto.randomUUID() })],
      ["/api/v1/orders", jsonRequest("GET", revoked.token)],
      [`/api/v1/orders/${order.id}`, jsonRequest("GET", revoked.token)],
      [`/api/v1/orders/${order.id}/cancel`, jsonRequest("POST", revoked.token)],
    ];
    for (const [path, init] of requests) {
      const { res, count } = await roundTrips(path, init);
      expect(res.status, `${init.method} ${path}`).toBe(401);
      expect(count, `${init.method} ${path}`).toBe(1);
    }
  });

  it("POST /api/v1/orders/{id}/cancel is one round trip", async () => {
    const order = await placeOk(reader, [{ product_id: productIds[1]!, quantity: 1 }]);
    const { res, count } = await roundTrips(`/api/v1/orders/${order.id}/cancel`, jsonRequest("POST", reader.token));
    expect(res.status).toBe(200);
    expect(count).toBe(1);
  });
});

describe("the confirmation e-mail", () => {
  it("goes out once per new order, to the buyer, in the background", async () => {
    const buyer = await makeUser({ fullName: "Mail Reader" });
    const [a] = await makeProducts([{ stock: 10, price: "4.20", name: "Blue Kettle" }]);
    const key = crypto.randomUUID();
    const order = (await (await postOrder(buyer.token, { items: [{ product_id: a, quantity: 2 }] }, key)).json()) as OrderBody;
    // A replay does not send it again.
    expect((await postOrder(buyer.token, { items: [{ product_id: a, quantity: 2 }] }, key)).status).toBe(201);
    const mails = await waitFor(
      () => mailTo(buyer.email),
      (m) => m.length > 0,
    );
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ to: [buyer.email], subject: `Your Tenpo order #${order.id} is confirmed`, requests: 1 });
    expect(mails[0]!.text).toContain("Hello Mail Reader,");
    expect(mails[0]!.text).toContain("2 × Blue Kettle");
    expect(mails[0]!.text).toContain("Total: 8.40");
    const row = await waitFor(
      () => outboxOf(order.id),
      (r) => r.sent_at !== null,
    );
    expect(row).toMatchObject({ attempts: 1, last_error: null, failed_at: null, provider_message_id: mails[0]!.id });
    // The request's enqueue is not recorded (a round trip per order); enqueued_at is the cron's.
    expect(row.enqueued_at).toBeNull();
    // Still one, a moment later.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await mailTo(buyer.email)).toHaveLength(1);
  });

  it("a queue that throws does not fail the order: 201, the job stays in the outbox, unsent and not enqueued", async () => {
    const buyer = await makeUser();
    const [a] = await makeProducts([{ stock: 10 }]);
    const throwing = {
      send: () => Promise.reject(new Error("queue unavailable")),
      sendBatch: () => Promise.reject(new Error("queue unavailable")),
    } as unknown as Queue;
    const res = await apiWithEnv(
      { ORDER_EMAILS: throwing },
      "/api/v1/orders",
      jsonRequest("POST", buyer.token, { items: [{ product_id: a, quantity: 1 }] }),
    );
    expect(res.status).toBe(201);
    const order = (await res.json()) as OrderBody;
    expect(await stockOf(a!)).toBe(9);
    expect(await outboxOf(order.id)).toMatchObject({ enqueued_at: null, sent_at: null, attempts: 0 });
    // (The re-send cron delivering it later is in test/queue/scheduled.test.ts.)
  });

  it("a queue binding that throws synchronously does not fail the order either", async () => {
    const buyer = await makeUser();
    const [a] = await makeProducts([{ stock: 10 }]);
    const throwing = {
      send: () => {
        throw new Error("binding broken");
      },
    } as unknown as Queue;
    const res = await apiWithEnv(
      { ORDER_EMAILS: throwing },
      "/api/v1/orders",
      jsonRequest("POST", buyer.token, { items: [{ product_id: a, quantity: 1 }] }),
    );
    expect(res.status).toBe(201);
  });
});

describe("the OpenAPI document", () => {
  it("lists the order operations under their full paths, with the Idempotency-Key header", async () => {
    const doc = (await (await api("/openapi.json")).json()) as {
      paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }> }>>;
    };
    expect(Object.keys(doc.paths["/api/v1/orders"]!).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths["/api/v1/orders/{id}"]!)).toEqual(["get"]);
    expect(Object.keys(doc.paths["/api/v1/orders/{id}/cancel"]!)).toEqual(["post"]);
    const header = doc.paths["/api/v1/orders"]!.post!.parameters!.find((p) => p.in === "header");
    expect(header?.name.toLowerCase()).toBe("idempotency-key");
  });
});
