/**
 * Specification of carts (docs/api.md "Carts"; src/routes/carts.ts, src/services/carts.ts and cart-sql.ts):
 * guest and customer carts, their lines at the products' current prices, the stock check, the 50-line
 * cap, ETags and If-Match, who may use a cart, expiry, and claiming. Through the real Worker entry
 * against the real database; every test makes its own users, products and carts.
 */
import { env } from "cloudflare:test";
import { eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { carts, products } from "../../src/db/schema";
import { issueToken } from "../../src/lib/access-token";
import { api, apiWithEnv, type ErrorBody } from "../support/api";
import { makeUser, type TestUser } from "../support/accounts";
import { makeProducts } from "../support/catalog";
import {
  cartOf,
  cartRow,
  cartWith,
  claimCart,
  createCart,
  deleteItem,
  expireCart,
  getCart,
  insertLines,
  postCart,
  putItem,
  putItemOk,
  setCartStatus,
  type CartBody,
} from "../support/carts";
import { db } from "../support/db";
import { jsonRequest } from "../support/orders";
import { countedDatabase } from "../support/round-trips";

type ValidationBody = { error: { code: string; details: Array<{ field: string; message: string }> } };

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const SEVEN_DAYS_MS = 7 * 24 * 60 * 60 * 1000;
const PRIVATE = "private, no-store";

async function errorOf(res: Response, status: number, code: string): Promise<ErrorBody["error"]> {
  expect(res.status, await res.clone().text()).toBe(status);
  const { error } = (await res.json()) as ErrorBody;
  expect(error.code).toBe(code);
  return error;
}

const expectNotFound = (res: Response) => errorOf(res, 404, "not_found");

async function expectValidationError(res: Response, field: string): Promise<void> {
  expect(res.status, await res.clone().text()).toBe(400);
  const body = (await res.json()) as ValidationBody;
  expect(body.error.code).toBe("validation_error");
  expect(body.error.details.map((d) => d.field)).toContain(field);
}

/** The cart as stored, read through the API as `token` (must be 200). */
async function read(id: string, token: string | null = null): Promise<CartBody & { etag: string }> {
  return cartOf(await getCart(id, { token }), 200);
}

/** A users row's token version raised: every token issued before is revoked. */
async function revoke(user: TestUser): Promise<void> {
  await db.execute(sql`update users set token_version = token_version + 1 where id = ${user.id}`);
}

/** A cart opened through the API with a line of quantity 1 for each product, written straight into cart_items. */
async function cartWithLines(productIds: number[], token: string | null = null): Promise<CartBody & { etag: string }> {
  const cart = await createCart(token);
  await insertLines(cart.id, productIds);
  return read(cart.id, token);
}

/** A cart id of the right form that no cart has. */
const unknownCartId = () =>
  btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(18))))
    .replace(/\+/g, "-")
    .replace(/\//g, "_");

let customer: TestUser;
let other: TestUser;

beforeAll(async () => {
  [customer, other] = await Promise.all([makeUser(), makeUser()]);
});

describe("POST /api/v1/carts", () => {
  it("opens a guest cart without a token: 201, the contract's shape, an ETag and its URL", async () => {
    const res = await postCart();
    expect(res.status).toBe(201);
    const cart = (await res.json()) as CartBody;
    expect(cart).toEqual({
      id: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/),
      user_id: null,
      items: [],
      item_count: 0,
      subtotal: "0.00",
      currency: "USD",
      expires_at: expect.stringMatching(ISO_UTC),
      created_at: expect.stringMatching(ISO_UTC),
      updated_at: expect.stringMatching(ISO_UTC),
    });
    expect(res.headers.get("ETag")).toBe('"1"');
    expect(res.headers.get("Location")).toBe(`/api/v1/carts/${cart.id}`);
    expect(res.headers.get("Cache-Control")).toBe(PRIVATE);
    expect(Date.parse(cart.expires_at) - Date.parse(cart.created_at)).toBe(SEVEN_DAYS_MS);
    expect(cart.updated_at).toBe(cart.created_at);
    expect(await read(cart.id)).toEqual({ ...cart, etag: '"1"' });
  });

  it("gives every guest cart an unguessable id of its own: 24 URL-safe characters, 144 random bits", async () => {
    const ids = (await Promise.all(Array.from({ length: 20 }, () => createCart()))).map((cart) => cart.id);
    expect(new Set(ids).size).toBe(20);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{24}$/);
    // Random, not a counter or a time: the ids share no common prefix, and their characters spread
    // over the alphabet (20 × 24 characters from 64 would hardly all come from a few).
    expect(new Set(ids.map((id) => id.slice(0, 4))).size).toBe(20);
    expect(new Set(ids.join("")).size).toBeGreaterThan(40);
  });

  it("opens the customer's cart with a token (201), and answers that same cart afterwards (200)", async () => {
    const user = await makeUser();
    const first = await postCart(user.token);
    expect(first.status).toBe(201);
    const cart = await cartOf(first);
    expect(cart.user_id).toBe(user.id);
    const second = await postCart(user.token);
    expect(second.status).toBe(200);
    expect(second.headers.get("Location")).toBeNull();
    expect(await cartOf(second)).toEqual(cart);
  });

  it("makes one cart of racing opens for one customer, and answers it to every one of them", async () => {
    const user = await makeUser();
    const responses = await Promise.all(Array.from({ length: 10 }, () => postCart(user.token)));
    const statuses = responses.map((res) => res.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(9);
    const ids = new Set(await Promise.all(responses.map(async (res) => ((await res.json()) as CartBody).id)));
    expect(ids.size).toBe(1);
    const rows = await db.select().from(carts).where(eq(carts.userId, user.id));
    expect(rows).toHaveLength(1);
  });

  it("opens a new cart when the customer's open cart has expired, marking the old one expired", async () => {
    const user = await makeUser();
    const old = await createCart(user.token);
    await expireCart(old.id);
    const res = await postCart(user.token);
    expect(res.status).toBe(201);
    const fresh = await cartOf(res);
    expect(fresh.id).not.toBe(old.id);
    expect((await cartRow(old.id))?.status).toBe("expired");
    expect((await cartRow(fresh.id))?.status).toBe("open");
  });

  it("opens a new cart when the customer's cart was checked out", async () => {
    const user = await makeUser();
    const old = await createCart(user.token);
    await setCartStatus(old.id, "checked_out");
    const res = await postCart(user.token);
    expect(res.status).toBe(201);
    expect((await cartOf(res)).id).not.toBe(old.id);
  });

  it("refuses a token that is sent but not valid (401), rather than opening a guest cart", async () => {
    const res = await postCart("not-a-token");
    await errorOf(res, 401, "unauthorized");
    expect(res.headers.get("WWW-Authenticate")).toContain("Bearer");
    expect(res.headers.get("Cache-Control")).toBe(PRIVATE);
  });

  it("refuses a revoked token and a token whose account is gone (401), and changes nothing", async () => {
    const user = await makeUser();
    const old = await createCart(user.token);
    await expireCart(old.id);
    await revoke(user);
    await errorOf(await postCart(user.token), 401, "unauthorized");
    const ghost = await issueToken({ id: 2_000_000_000, isAdmin: false, tokenVersion: 0 }, env.JWT_SECRET);
    await errorOf(await postCart(ghost), 401, "unauthorized");
    // Not even the expired cart was marked expired: a refused token writes nothing.
    const rows = await db.select().from(carts).where(eq(carts.userId, user.id));
    expect(rows.map((row) => [row.id, row.status])).toEqual([[old.id, "open"]]);
  });
});

describe("lines: PUT and DELETE /api/v1/carts/{id}/items/{product_id}", () => {
  it("prices lines at the product's price, exactly: 19.99 × 3 = 59.97, subtotal Σ line_total, item_count Σ quantity", async () => {
    const [mug, tea] = await makeProducts([
      { price: "19.99", name: "Classic Mug" },
      { price: "0.10", name: "Tea Bag" },
    ]);
    const [{ category }] = (await db.select({ category: products.category }).from(products).where(eq(products.id, mug!))) as [
      { category: string },
    ];
    const cart = await createCart();
    const once = await putItemOk(cart.id, mug!, 3);
    expect(once.items).toEqual([
      { product_id: mug, quantity: 3, unit_price: "19.99", line_total: "59.97", product: { id: mug, name: "Classic Mug", category } },
    ]);
    expect(once.subtotal).toBe("59.97");
    const twice = await putItemOk(cart.id, tea!, 7);
    // 59.97 + 0.70 = 60.67 exactly (in floats 59.97 + 0.7000000000000001)
    expect(twice.subtotal).toBe("60.67");
    expect(twice.item_count).toBe(10);
    expect(twice.items.map((item) => [item.product_id, item.line_total])).toEqual([
      [mug, "59.97"],
      [tea, "0.70"],
    ]);
  });

  it("sets the quantity (it does not add to it), and keeps lines in the order they were first added", async () => {
    const [a, b, c] = await makeProducts([{}, {}, {}]);
    const cart = await cartWith([
      [b!, 1],
      [a!, 2],
      [c!, 3],
    ]);
    const updated = await putItemOk(cart.id, b!, 5);
    expect(updated.items.map((item) => [item.product_id, item.quantity])).toEqual([
      [b, 5],
      [a, 2],
      [c, 3],
    ]);
    expect(updated.item_count).toBe(10);
  });

  it("shows a price change on the next read: prices are the products' current ones, never cached", async () => {
    const [a] = await makeProducts([{ price: "19.99" }]);
    const cart = await cartWith([[a!, 3]]);
    // Read through the catalog first, so any cache layer would hold the old price.
    expect((await api(`/api/v1/products/${a}`)).status).toBe(200);
    await db.update(products).set({ price: "17.50" }).where(eq(products.id, a!));
    const after = await read(cart.id);
    expect(after.items[0]).toMatchObject({ unit_price: "17.50", line_total: "52.50" });
    expect(after.subtotal).toBe("52.50");
  });

  it("accepts a quantity equal to the stock, and refuses one above it: 409 insufficient_stock with details, nothing changed", async () => {
    const [scarce] = await makeProducts([{ stock: 4 }]);
    const cart = await createCart();
    expect((await putItemOk(cart.id, scarce!, 4)).items[0]!.quantity).toBe(4);
    const before = await read(cart.id);
    const error = await errorOf(await putItem(cart.id, scarce!, 5), 409, "insufficient_stock");
    expect(error.details).toEqual([{ product_id: scarce, requested: 5, available: 4 }]);
    expect(await read(cart.id)).toEqual(before);
  });

  it("checks the stock as it is now, also for a line already in the cart; it takes none", async () => {
    const [a] = await makeProducts([{ stock: 10 }]);
    const cart = await cartWith([[a!, 8]]);
    await db.update(products).set({ stock: 3 }).where(eq(products.id, a!));
    const error = await errorOf(await putItem(cart.id, a!, 4), 409, "insufficient_stock");
    expect(error.details).toEqual([{ product_id: a, requested: 4, available: 3 }]);
    expect((await db.select({ stock: products.stock }).from(products).where(eq(products.id, a!)))[0]!.stock).toBe(3);
  });

  it("refuses an unknown product and one that left the catalog (404), and changes nothing", async () => {
    const [gone] = await makeProducts([{ deleted: true }]);
    const cart = await createCart();
    const unknown = await expectNotFound(await putItem(cart.id, 2_000_000_000, 1));
    expect(unknown.message).toBe("Product 2000000000 not found");
    await expectNotFound(await putItem(cart.id, gone!, 1));
    expect(await read(cart.id)).toMatchObject({ items: [], etag: '"1"' });
  });

  it("holds 50 lines and refuses a 51st (409 cart_full); a line already in a full cart can still be changed", async () => {
    const ids = await makeProducts(Array.from({ length: 51 }, () => ({})));
    const cart = await cartWith(ids.slice(0, 50).map((id) => [id, 1] as [number, number]));
    expect(cart.items).toHaveLength(50);
    await errorOf(await putItem(cart.id, ids[50]!, 1), 409, "cart_full");
    expect((await read(cart.id)).etag).toBe(cart.etag);
    expect((await putItemOk(cart.id, ids[0]!, 2)).items).toHaveLength(50);
    // Room again after a line goes.
    expect((await deleteItem(cart.id, ids[1]!)).status).toBe(200);
    expect((await putItemOk(cart.id, ids[50]!, 1)).items).toHaveLength(50);
  });

  it("no longer shows a line whose product left the catalog, nor counts it", async () => {
    const [kept, gone] = await makeProducts([{ price: "2.00" }, { price: "3.00" }]);
    const cart = await cartWith([
      [kept!, 1],
      [gone!, 1],
    ]);
    expect(cart.subtotal).toBe("5.00");
    await db.update(products).set({ deletedAt: new Date() }).where(eq(products.id, gone!));
    const after = await read(cart.id);
    expect(after.items.map((item) => item.product_id)).toEqual([kept]);
    expect(after).toMatchObject({ item_count: 1, subtotal: "2.00" });
  });

  it("removes a line with DELETE (200, the cart), and answers 404 for a line the cart does not have", async () => {
    const [a, b] = await makeProducts([{ price: "1.50" }, { price: "2.25" }]);
    const cart = await cartWith([
      [a!, 2],
      [b!, 1],
    ]);
    const res = await deleteItem(cart.id, a!);
    const after = await cartOf(res, 200);
    expect(after.items.map((item) => item.product_id)).toEqual([b]);
    expect(after).toMatchObject({ item_count: 1, subtotal: "2.25" });
    const error = await expectNotFound(await deleteItem(cart.id, a!));
    expect(error.message).toBe(`The cart has no line for product ${a}`);
    expect((await read(cart.id)).etag).toBe(after.etag);
  });

  describe("refuses bad input with 400 validation_error, and changes nothing", () => {
    let cart: CartBody & { etag: string };
    let productId: number;
    beforeAll(async () => {
      [productId] = (await makeProducts([{}])) as [number];
      cart = await createCart();
    });

    it.each([
      ["quantity 0", { quantity: 0 }],
      ["quantity 1001", { quantity: 1001 }],
      ["quantity -1", { quantity: -1 }],
      ['quantity "2"', { quantity: "2" }],
      ["quantity 1.5", { quantity: 1.5 }],
      ["quantity null", { quantity: null }],
      ["quantity missing", {}],
    ])("%s", async (_, body) => {
      const before = await read(cart.id);
      await expectValidationError(await putItem(cart.id, productId, undefined, {}, body), "quantity");
      expect(await read(cart.id)).toEqual(before);
    });

    it("1e3 is not a JSON integer", async () => {
      await expectValidationError(await putItem(cart.id, productId, undefined, {}, '{"quantity": 1e3}'), "quantity");
    });

    it("1000 is fine", async () => {
      const [plenty] = await makeProducts([{ stock: 1000 }]);
      expect((await putItemOk(cart.id, plenty!, 1000)).items).toMatchObject([{ product_id: plenty, quantity: 1000 }]);
    });

    it.each([
      ["a product_id that is not an integer", "abc"],
      ["product_id 0", "0"],
      ["product_id beyond int4", "2147483648"],
    ])("%s", async (_, id) => {
      await expectValidationError(await putItem(cart.id, id, 1), "product_id");
      await expectValidationError(await deleteItem(cart.id, id), "product_id");
    });
  });

  it("lets 20 concurrent PUTs of 20 products to one cart all land: 20 lines, version 21", async () => {
    const ids = await makeProducts(Array.from({ length: 20 }, () => ({})));
    const cart = await createCart();
    const responses = await Promise.all(ids.map((id) => putItem(cart.id, id, 1)));
    expect(responses.map((res) => res.status)).toEqual(Array(20).fill(200));
    // Each write saw the last one's result: the answers have 1, 2, …, 20 lines and ETags "2" … "21".
    const answers = await Promise.all(responses.map((res) => cartOf(res, 200)));
    expect(answers.map((answer) => answer.items.length).sort((x, y) => x - y)).toEqual(ids.map((_, i) => i + 1));
    expect(new Set(answers.map((answer) => answer.etag)).size).toBe(20);
    const after = await read(cart.id);
    expect(after.items.map((item) => item.product_id).sort((x, y) => x - y)).toEqual([...ids].sort((x, y) => x - y));
    expect(after.etag).toBe('"21"');
  });

  it("keeps the cap under concurrency: 51 concurrent PUTs of 51 products → 50 lines and one 409 cart_full", async () => {
    const ids = await makeProducts(Array.from({ length: 51 }, () => ({})));
    const cart = await createCart();
    const responses = await Promise.all(ids.map((id) => putItem(cart.id, id, 1)));
    const statuses = responses.map((res) => res.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(50);
    expect(statuses.filter((s) => s === 409)).toHaveLength(1);
    await errorOf(responses.find((res) => res.status === 409)!, 409, "cart_full");
    const after = await read(cart.id);
    expect(after.items).toHaveLength(50);
    const { rows } = await db.execute<{ n: number }>(sql`select count(*)::int as n from cart_items where cart_id = ${cart.id}`);
    expect(rows[0]!.n).toBe(50);
  });
});

describe("ETag and If-Match", () => {
  it("changes the ETag with every write and not with a read: every answer's ETag is the cart's version", async () => {
    const [a, b] = await makeProducts([{}, {}]);
    const cart = await createCart();
    expect(cart.etag).toBe('"1"');
    const seen = [cart.etag];
    seen.push((await putItemOk(cart.id, a!, 1)).etag);
    seen.push((await putItemOk(cart.id, a!, 2)).etag);
    seen.push((await putItemOk(cart.id, b!, 1)).etag);
    seen.push((await cartOf(await deleteItem(cart.id, a!), 200)).etag);
    expect(seen).toEqual(['"1"', '"2"', '"3"', '"4"', '"5"']);
    expect((await read(cart.id)).etag).toBe('"5"');
    expect((await read(cart.id)).etag).toBe('"5"');
    expect((await cartRow(cart.id))?.version).toBe(5);
  });

  it("moves updated_at and expires_at (7 days after it) with every write", async () => {
    const [a] = await makeProducts([{}]);
    const cart = await createCart();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const changed = await putItemOk(cart.id, a!, 1);
    expect(Date.parse(changed.updated_at)).toBeGreaterThan(Date.parse(cart.updated_at));
    expect(Date.parse(changed.expires_at) - Date.parse(changed.updated_at)).toBe(SEVEN_DAYS_MS);
    expect(changed.created_at).toBe(cart.created_at);
  });

  it("refuses a write whose If-Match is not the current ETag (412 precondition_failed), and changes nothing", async () => {
    const [a, b] = await makeProducts([{}, {}]);
    const cart = await cartWith([[a!, 1]]);
    const stale = '"1"';
    const error = await errorOf(await putItem(cart.id, b!, 1, { ifMatch: stale }), 412, "precondition_failed");
    expect(error.message).toContain('"2"');
    await errorOf(await deleteItem(cart.id, a!, { ifMatch: stale }), 412, "precondition_failed");
    expect(await read(cart.id)).toEqual(cart);
  });

  it("lets a write through whose If-Match is the current ETag, alone or in a list", async () => {
    const [a, b] = await makeProducts([{}, {}]);
    const cart = await createCart();
    const one = await putItemOk(cart.id, a!, 1, { ifMatch: cart.etag });
    const two = await putItemOk(cart.id, b!, 1, { ifMatch: `"7", ${one.etag} ,"x"` });
    expect((await cartOf(await deleteItem(cart.id, a!, { ifMatch: two.etag }), 200)).items).toHaveLength(1);
  });

  it("matches any cart with If-Match: *", async () => {
    const [a] = await makeProducts([{}]);
    const cart = await createCart();
    expect((await putItemOk(cart.id, a!, 1, { ifMatch: "*" })).etag).toBe('"2"');
    expect((await cartOf(await deleteItem(cart.id, a!, { ifMatch: "*" }), 200)).etag).toBe('"3"');
  });

  it("never matches a weak tag, nor the version written otherwise (If-Match compares strongly)", async () => {
    const [a] = await makeProducts([{}]);
    const cart = await createCart();
    for (const ifMatch of ['W/"1"', '"01"', '"+1"', '""', '"1.0"']) {
      await errorOf(await putItem(cart.id, a!, 1, { ifMatch }), 412, "precondition_failed");
    }
    expect((await read(cart.id)).etag).toBe('"1"');
  });

  it.each([["1"], ['*, "1"'], ['w/"1"'], ['"1" "2"'], ['"1']])(
    "answers If-Match: %s (not an entity tag list) with 400",
    async (ifMatch) => {
      const [a] = await makeProducts([{}]);
      const cart = await createCart();
      await expectValidationError(await putItem(cart.id, a!, 1, { ifMatch }), "if-match");
      await expectValidationError(await deleteItem(cart.id, a!, { ifMatch }), "if-match");
      expect((await read(cart.id)).etag).toBe('"1"');
    },
  );

  it("checks If-Match before the product and the stock: a stale write learns that first", async () => {
    const cart = await createCart();
    const [scarce] = await makeProducts([{ stock: 1 }]);
    await errorOf(await putItem(cart.id, 2_000_000_000, 1, { ifMatch: '"9"' }), 412, "precondition_failed");
    await errorOf(await putItem(cart.id, scarce!, 5, { ifMatch: '"9"' }), 412, "precondition_failed");
  });
});

describe("who may use a cart", () => {
  it("answers a guest cart to anyone who has its id, with or without a token", async () => {
    const [a] = await makeProducts([{}]);
    const cart = await createCart();
    expect((await read(cart.id, null)).id).toBe(cart.id);
    expect((await read(cart.id, customer.token)).id).toBe(cart.id);
    expect((await putItemOk(cart.id, a!, 1, { token: other.token })).user_id).toBeNull();
  });

  it("answers a customer's cart to its owner only: anyone else, with or without a token, gets 404", async () => {
    const [a] = await makeProducts([{}]);
    const owner = await makeUser();
    const cart = await cartWith([[a!, 1]], owner.token);
    expect((await read(cart.id, owner.token)).user_id).toBe(owner.id);
    for (const token of [null, other.token]) {
      await expectNotFound(await getCart(cart.id, { token }));
      await expectNotFound(await putItem(cart.id, a!, 2, { token }));
      await expectNotFound(await deleteItem(cart.id, a!, { token }));
    }
    expect(await read(cart.id, owner.token)).toEqual(cart);
  });

  it("answers 404 for a guessed id, and for a malformed one (a key that opens nothing, not a bad request)", async () => {
    const [a] = await makeProducts([{}]);
    for (const id of [unknownCartId(), "short", "x".repeat(25), `${"a".repeat(23)}!`, `${"a".repeat(23)}%00`, "%E2%82%AC".repeat(8)]) {
      const res = await getCart(id);
      const error = await expectNotFound(res);
      expect(error.message, id).toBe("Cart not found");
      expect(res.headers.get("Cache-Control")).toBe(PRIVATE);
      await expectNotFound(await putItem(id, a!, 1));
      await expectNotFound(await deleteItem(id, a!));
    }
  });

  it("answers 401 to a revoked token, on a guest cart too, and before 404", async () => {
    const [a] = await makeProducts([{}]);
    const user = await makeUser();
    const cart = await createCart();
    await revoke(user);
    for (const res of [
      await getCart(cart.id, { token: user.token }),
      await putItem(cart.id, a!, 1, { token: user.token }),
      await deleteItem(cart.id, a!, { token: user.token }),
      await getCart(unknownCartId(), { token: user.token }),
      await getCart("malformed", { token: user.token }),
    ]) {
      await errorOf(res, 401, "unauthorized");
    }
    expect((await read(cart.id)).etag).toBe('"1"');
  });

  it("answers 404 for an expired cart, whatever its status column still says", async () => {
    const [a] = await makeProducts([{}]);
    const owner = await makeUser();
    const guest = await cartWith([[a!, 1]]);
    const own = await createCart(owner.token);
    await expireCart(guest.id);
    await expireCart(own.id);
    expect((await cartRow(guest.id))?.status).toBe("open");
    await expectNotFound(await getCart(guest.id));
    await expectNotFound(await putItem(guest.id, a!, 2));
    await expectNotFound(await deleteItem(guest.id, a!));
    await expectNotFound(await getCart(own.id, { token: owner.token }));
    expect((await cartRow(guest.id))?.version).toBe(2);
  });

  it("answers 404 for a checked-out cart", async () => {
    const [a] = await makeProducts([{}]);
    const cart = await cartWith([[a!, 1]]);
    await setCartStatus(cart.id, "checked_out");
    await expectNotFound(await getCart(cart.id));
    await expectNotFound(await putItem(cart.id, a!, 2));
  });

  it("keeps every cart response private, errors included", async () => {
    const [a] = await makeProducts([{}]);
    const cart = await createCart();
    for (const res of [
      await postCart(),
      await getCart(cart.id),
      await putItem(cart.id, a!, 1),
      await putItem(cart.id, a!, 0),
      await deleteItem(cart.id, a!),
      await getCart(unknownCartId()),
      await claimCart(cart.id, null),
    ]) {
      expect(res.headers.get("Cache-Control"), `${res.status}`).toBe(PRIVATE);
    }
  });
});

describe("POST /api/v1/carts/{id}/claim", () => {
  it("makes a guest cart the caller's when they have none: same id, same lines; no longer a guest's", async () => {
    const [a, b] = await makeProducts([{ price: "4.00" }, { price: "1.25" }]);
    const user = await makeUser();
    const guest = await cartWith([
      [a!, 2],
      [b!, 4],
    ]);
    const res = await claimCart(guest.id, user.token);
    const claimed = await cartOf(res, 200);
    expect(claimed).toMatchObject({ id: guest.id, user_id: user.id, items: guest.items, subtotal: "13.00", item_count: 6 });
    expect(claimed.etag).not.toBe(guest.etag);
    // Now the customer's: their token opens it, no one else's does, and POST /carts answers it.
    expect(await read(guest.id, user.token)).toEqual(claimed);
    await expectNotFound(await getCart(guest.id));
    await expectNotFound(await getCart(guest.id, { token: other.token }));
    expect(await cartOf(await postCart(user.token), 200)).toEqual(claimed);
  });

  it("merges a guest cart into the caller's open cart: quantities summed, capped at 1000; the guest cart ends", async () => {
    const [both, onlyGuest, onlyMine, big] = await makeProducts([{ stock: 1000 }, {}, {}, { stock: 1000 }]);
    const user = await makeUser();
    const mine = await cartWith(
      [
        [onlyMine!, 1],
        [both!, 3],
        [big!, 700],
      ],
      user.token,
    );
    const guest = await cartWith([
      [both!, 4],
      [onlyGuest!, 2],
      [big!, 600],
    ]);
    const merged = await cartOf(await claimCart(guest.id, user.token), 200);
    expect(merged.id).toBe(mine.id);
    expect(merged.user_id).toBe(user.id);
    // Lines in the order first added to either cart: mine were added before the guest cart's.
    expect(merged.items.map((item) => [item.product_id, item.quantity])).toEqual([
      [onlyMine, 1],
      [both, 7],
      [big, 1000],
      [onlyGuest, 2],
    ]);
    expect(merged.etag).toBe(`"${Number(JSON.parse(mine.etag)) + 1}"`);
    await expectNotFound(await getCart(guest.id));
    await expectNotFound(await getCart(guest.id, { token: user.token }));
    await expectNotFound(await claimCart(guest.id, user.token));
    expect((await cartRow(guest.id))?.status).toBe("merged");
    expect(await read(mine.id, user.token)).toEqual(merged);
  });

  it("refuses a merge that would make more than 50 lines (409 cart_full), and changes neither cart", async () => {
    const ids = await makeProducts(Array.from({ length: 51 }, () => ({})));
    const user = await makeUser();
    const mine = await cartWithLines(ids.slice(0, 30), user.token);
    // 25 lines, 4 of them products mine has too: 30 + 21 = 51 distinct.
    const guest = await cartWithLines(ids.slice(26, 51));
    const error = await errorOf(await claimCart(guest.id, user.token), 409, "cart_full");
    expect(error.message).toContain("51 lines");
    expect(await read(mine.id, user.token)).toEqual(mine);
    expect(await read(guest.id)).toEqual(guest);
    // One line fewer in the guest cart and the merge fits exactly.
    await deleteItem(guest.id, ids[50]!);
    expect((await cartOf(await claimCart(guest.id, user.token), 200)).items).toHaveLength(50);
  });

  it("answers the caller's own cart as it is when they claim it (200, nothing changes)", async () => {
    const [a] = await makeProducts([{}]);
    const user = await makeUser();
    const mine = await cartWith([[a!, 1]], user.token);
    expect(await cartOf(await claimCart(mine.id, user.token), 200)).toEqual(mine);
    expect((await cartRow(mine.id))?.version).toBe(2);
  });

  it("answers 404 for another customer's cart, an unknown, a malformed or an expired one, and changes nothing", async () => {
    const owner = await makeUser();
    const theirs = await createCart(owner.token);
    const expired = await createCart();
    await expireCart(expired.id);
    for (const id of [theirs.id, unknownCartId(), "malformed", expired.id]) {
      await expectNotFound(await claimCart(id, customer.token));
    }
    expect(await read(theirs.id, owner.token)).toEqual(theirs);
  });

  it("needs a token (401 without one) and a current one (401 when revoked), and changes nothing", async () => {
    const user = await makeUser();
    const guest = await createCart();
    const without = await claimCart(guest.id, null);
    await errorOf(without, 401, "unauthorized");
    expect(without.headers.get("WWW-Authenticate")).toContain("Bearer");
    await revoke(user);
    await errorOf(await claimCart(guest.id, user.token), 401, "unauthorized");
    expect(await read(guest.id)).toEqual(guest);
  });

  it("moves a guest cart to a customer whose own open cart has expired, marking that one expired", async () => {
    const user = await makeUser();
    const old = await createCart(user.token);
    await expireCart(old.id);
    const guest = await createCart();
    const claimed = await cartOf(await claimCart(guest.id, user.token), 200);
    expect(claimed).toMatchObject({ id: guest.id, user_id: user.id });
    expect((await cartRow(old.id))?.status).toBe("expired");
  });

  it("gives a guest cart claimed by two customers at once to one of them; the other gets 404", async () => {
    const [a] = await makeProducts([{}]);
    const [first, second] = await Promise.all([makeUser(), makeUser()]);
    const guest = await cartWith([[a!, 1]]);
    const responses = await Promise.all([claimCart(guest.id, first.token), claimCart(guest.id, second.token)]);
    expect(responses.map((res) => res.status).sort()).toEqual([200, 404]);
    const winner = responses[0]!.status === 200 ? first : second;
    expect((await cartRow(guest.id))?.userId).toBe(winner.id);
  });

  it("merges guest carts claimed at once by one customer, and races with opening their cart, without deadlock or loss", async () => {
    const ids = await makeProducts(Array.from({ length: 6 }, () => ({})));
    const user = await makeUser();
    const guests = await Promise.all(ids.map((id) => cartWith([[id, 1]])));
    const responses = await Promise.all([
      ...guests.map((guest) => claimCart(guest.id, user.token)),
      postCart(user.token),
      postCart(user.token),
    ]);
    expect(responses.map((res) => res.status).filter((s) => s >= 300)).toEqual([]);
    const { rows } = await db.execute<{ id: string }>(sql`select id from carts where user_id = ${user.id} and status = 'open'`);
    expect(rows).toHaveLength(1);
    const final = await read(rows[0]!.id, user.token);
    expect(final.items.map((item) => item.product_id).sort((x, y) => x - y)).toEqual([...ids].sort((x, y) => x - y));
  });
});

describe("database round trips", () => {
  /** The status of `init` to `path` and how many SQL-over-HTTP requests it made. */
  async function counted(path: string, init: RequestInit): Promise<[number, number]> {
    const database = countedDatabase("cart");
    const res = await apiWithEnv({ DATABASE_URL: database.env.DATABASE_URL }, path, init);
    await res.body?.cancel();
    return [res.status, (await database.counts()).requests];
  }

  it("makes every operation one round trip, whatever it answers", async () => {
    const [a, scarce] = await makeProducts([{}, { stock: 1 }]);
    const user = await makeUser();
    const revoked = await makeUser();
    await revoke(revoked);
    const guest = await cartWith([[a!, 1]]);
    const other = await cartWith([[a!, 1]]);
    const put = (id: string, productId: number, quantity: number, headers: Record<string, string> = {}, token: string | null = null) =>
      counted(`/api/v1/carts/${id}/items/${productId}`, jsonRequest("PUT", token, { quantity }, headers));
    const cases: Array<[string, () => Promise<[number, number]>, number]> = [
      ["open a guest cart", () => counted("/api/v1/carts", jsonRequest("POST", null)), 201],
      ["open a customer's cart", () => counted("/api/v1/carts", jsonRequest("POST", user.token)), 201],
      ["open it again", () => counted("/api/v1/carts", jsonRequest("POST", user.token)), 200],
      ["open with a revoked token", () => counted("/api/v1/carts", jsonRequest("POST", revoked.token)), 401],
      ["read", () => counted(`/api/v1/carts/${guest.id}`, jsonRequest("GET", null)), 200],
      ["read an unknown cart", () => counted(`/api/v1/carts/${unknownCartId()}`, jsonRequest("GET", null)), 404],
      ["set a line", () => put(guest.id, a!, 2), 200],
      ["set a line beyond the stock", () => put(guest.id, scarce!, 2), 409],
      ["set a line, stale If-Match", () => put(guest.id, a!, 3, { "If-Match": '"1"' }), 412],
      ["set a line, revoked token", () => put(guest.id, a!, 3, {}, revoked.token), 401],
      ["remove a line", () => counted(`/api/v1/carts/${other.id}/items/${a}`, jsonRequest("DELETE", null)), 200],
      ["remove a missing line", () => counted(`/api/v1/carts/${other.id}/items/${scarce}`, jsonRequest("DELETE", null)), 404],
      ["claim", () => counted(`/api/v1/carts/${other.id}/claim`, jsonRequest("POST", user.token)), 200],
      ["claim an unknown cart", () => counted(`/api/v1/carts/${unknownCartId()}/claim`, jsonRequest("POST", user.token)), 404],
    ];
    // One after the other: several of them write the same carts, in this order.
    for (const [what, send, status] of cases) expect(await send(), what).toEqual([status, 1]);
  });
});
