import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { carts, idempotencyKeys, orders } from "../../src/db/schema";
import type { OrderBody } from "../../src/schemas/orders";
import { apiWithEnv, type ErrorBody } from "../support/api";
import { makeUser, type TestUser } from "../support/accounts";
import { makeProducts } from "../support/catalog";
import { checkoutOk, makeCart, paymentIntentsOf, postCheckout } from "../support/checkout";
import { db } from "../support/db";
import { CLOSED } from "../support/network";
import { jsonRequest, outboxOf, stockOf, stocksOf } from "../support/orders";

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

async function cartStatus(id: string): Promise<string> {
  const [row] = await db.select({ status: carts.status }).from(carts).where(eq(carts.id, id));
  return row!.status;
}

async function ordersOfCart(id: string): Promise<number> {
  return (await db.select({ id: orders.id }).from(orders).where(eq(orders.cartId, id))).length;
}

let customer: TestUser;
let other: TestUser;

beforeAll(async () => {
  [customer, other] = await Promise.all([makeUser({ fullName: "Cara Checkout" }), makeUser()]);
});

describe("POST /api/v1/carts/{id}/checkout", () => {
  it("turns the caller's cart into a pending_payment order with exactly one PaymentIntent, taking the stock", async () => {
    const [a, b] = await makeProducts([
      { stock: 10, price: "19.99", name: "Classic Mug" },
      { stock: 5, price: "0.10", name: "Tea Bag" },
    ]);
    const cart = await makeCart(customer, [
      { product_id: a!, quantity: 3 },
      { product_id: b!, quantity: 2 },
    ]);
    // (the customer's one open cart: the other tests use guest carts or buyers of their own)
    const before = Date.now();
    const res = await postCheckout(customer.token, cart);
    expect(res.status, await res.clone().text()).toBe(201);
    const order = (await res.json()) as OrderBody;
    expect(res.headers.get("Location")).toBe(`/api/v1/orders/${order.id}`);
    expect(res.headers.get("Cache-Control")).toBe("private, no-store");
    expect(order).toMatchObject({
      user_id: customer.id,
      status: "pending_payment",
      total_amount: "60.17",
      paid_at: null,
      items: [
        { product_id: a, quantity: 3, unit_price: "19.99" },
        { product_id: b, quantity: 2, unit_price: "0.10" },
      ],
      payment: { provider: "stripe", amount: "60.17", currency: "usd" },
    });
    expect(order.expires_at).toMatch(ISO_UTC);
    const window = Date.parse(order.expires_at!) - before;
    expect(window).toBeGreaterThan(14 * 60_000);
    expect(window).toBeLessThanOrEqual(15 * 60_000 + 5_000);
    expect(await stocksOf([a!, b!])).toEqual([7, 3]);
    expect(await cartStatus(cart)).toBe("checked_out");

    const intents = await paymentIntentsOf(order.id);
    expect(intents).toHaveLength(1);
    expect(intents[0]).toMatchObject({
      id: order.payment!.payment_intent_id,
      client_secret: order.payment!.client_secret,
      amount: 6017,
      currency: "usd",
      status: "requires_payment_method",
      metadata: { order_id: String(order.id) },
    });
    // No confirmation yet: it goes out when the payment does.
    await expect(outboxOf(order.id)).rejects.toThrow();
  });

  it("checks out a guest cart for the caller, and the cart is gone afterwards", async () => {
    const [a] = await makeProducts([{ stock: 3, price: "5.00" }]);
    const cart = await makeCart(null, [{ product_id: a!, quantity: 1 }]);
    const order = await checkoutOk(other, cart);
    expect(order.user_id).toBe(other.id);
    const again = await postCheckout(other.token, cart);
    expect(again.status).toBe(404);
    expect(((await again.json()) as ErrorBody).error.code).toBe("not_found");
  });

  it("answers 404 for another customer's cart, an unknown cart and an expired one, and 401 without a token", async () => {
    const [a] = await makeProducts([{ stock: 3, price: "5.00" }]);
    const owner = await makeUser();
    const mine = await makeCart(owner, [{ product_id: a!, quantity: 1 }]);
    expect((await postCheckout(other.token, mine)).status).toBe(404);
    expect((await postCheckout(customer.token, "no-such-cart-000000000000")).status).toBe(404);
    const stale = await makeCart(null, [{ product_id: a!, quantity: 1 }]);
    await db
      .update(carts)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(carts.id, stale));
    expect((await postCheckout(customer.token, stale)).status).toBe(404);
    expect((await postCheckout(null, mine)).status).toBe(401);
    expect((await postCheckout(customer.token, mine)).status).toBe(404);
    expect(await stockOf(a!)).toBe(3);
    expect(await cartStatus(mine)).toBe("open");
  });

  it("refuses an empty cart with 409 cart_empty", async () => {
    const cart = await makeCart(null, []);
    const res = await postCheckout(customer.token, cart);
    expect(res.status).toBe(409);
    expect(((await res.json()) as ErrorBody).error.code).toBe("cart_empty");
    expect(await cartStatus(cart)).toBe("open");
  });

  it("takes nothing when one line lacks stock: 409 insufficient_stock with details, the cart stays open", async () => {
    const [a, b] = await makeProducts([
      { stock: 5, price: "1.00" },
      { stock: 1, price: "1.00" },
    ]);
    const cart = await makeCart(null, [
      { product_id: a!, quantity: 2 },
      { product_id: b!, quantity: 2 },
    ]);
    const res = await postCheckout(customer.token, cart);
    expect(res.status).toBe(409);
    const { error } = (await res.json()) as ErrorBody;
    expect(error.code).toBe("insufficient_stock");
    expect(error.details).toEqual([{ product_id: b, requested: 2, available: 1 }]);
    expect(await stocksOf([a!, b!])).toEqual([5, 1]);
    expect(await cartStatus(cart)).toBe("open");
    expect(await ordersOfCart(cart)).toBe(0);
  });

  it("refuses a total Stripe cannot charge (below 0.50) with 409 amount_out_of_range, taking nothing", async () => {
    const [a] = await makeProducts([{ stock: 5, price: "0.10" }]);
    const cart = await makeCart(null, [{ product_id: a!, quantity: 2 }]);
    const res = await postCheckout(customer.token, cart);
    expect(res.status).toBe(409);
    expect(((await res.json()) as ErrorBody).error.code).toBe("amount_out_of_range");
    expect(await stockOf(a!)).toBe(5);
    expect(await cartStatus(cart)).toBe("open");
  });

  it("raced 10 times on one cart makes one order, takes the stock once and makes one PaymentIntent", async () => {
    const [a] = await makeProducts([{ stock: 20, price: "2.50" }]);
    const buyer = await makeUser();
    const cart = await makeCart(buyer, [{ product_id: a!, quantity: 3 }]);
    const responses = await Promise.all(Array.from({ length: 10 }, () => postCheckout(buyer.token, cart)));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 404, 404, 404, 404, 404, 404, 404, 404, 404]);
    const order = (await responses.find((r) => r.status === 201)!.json()) as OrderBody;
    expect(await stockOf(a!)).toBe(17);
    expect(await ordersOfCart(cart)).toBe(1);
    expect(await paymentIntentsOf(order.id)).toHaveLength(1);
  });

  it("raced 10 times with one Idempotency-Key answers the same order every time, with one PaymentIntent", async () => {
    const [a] = await makeProducts([{ stock: 20, price: "2.50" }]);
    const cart = await makeCart(null, [{ product_id: a!, quantity: 2 }]);
    const key = `checkout-${crypto.randomUUID()}`;
    const responses = await Promise.all(Array.from({ length: 10 }, () => postCheckout(customer.token, cart, key)));
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(201));
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as OrderBody[];
    expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
    expect(new Set(bodies.map((b) => b.payment?.payment_intent_id)).size).toBe(1);
    expect(responses.filter((r) => r.headers.get("Idempotent-Replayed") === "true")).toHaveLength(9);
    expect(await stockOf(a!)).toBe(18);
    expect(await paymentIntentsOf(bodies[0]!.id)).toHaveLength(1);
    // A retry later answers the same order again.
    const later = await postCheckout(customer.token, cart, key);
    expect(later.status).toBe(201);
    expect(((await later.json()) as OrderBody).id).toBe(bodies[0]!.id);
  });

  it("refuses one Idempotency-Key for two carts with 409 idempotency_conflict", async () => {
    const [a] = await makeProducts([{ stock: 20, price: "2.50" }]);
    const key = `checkout-${crypto.randomUUID()}`;
    const first = await postCheckout(customer.token, await makeCart(null, [{ product_id: a!, quantity: 1 }]), key);
    expect(first.status).toBe(201);
    const second = await postCheckout(customer.token, await makeCart(null, [{ product_id: a!, quantity: 1 }]), key);
    expect(second.status).toBe(409);
    expect(((await second.json()) as ErrorBody).error.code).toBe("idempotency_conflict");
  });

  it("sells the last 5 units to 5 of 40 customers checking out at once: 35 × 409, stock 0", async () => {
    const [a] = await makeProducts([{ stock: 5, price: "3.00" }]);
    const buyers = await Promise.all(Array.from({ length: 40 }, () => makeUser()));
    const cartIds = await Promise.all(buyers.map((buyer) => makeCart(buyer, [{ product_id: a!, quantity: 1 }])));
    const responses = await Promise.all(buyers.map((buyer, i) => postCheckout(buyer.token, cartIds[i]!)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(5);
    expect(statuses.filter((s) => s === 409)).toHaveLength(35);
    expect(await stockOf(a!)).toBe(0);
    const losers = await Promise.all(responses.filter((r) => r.status === 409).map((r) => r.json() as Promise<ErrorBody>));
    expect(new Set(losers.map((l) => l.error.code))).toEqual(new Set(["insufficient_stock"]));
  });

  it("takes nothing when Stripe does not answer: 503 payment_unavailable, stock back, cart open, a retry succeeds", async () => {
    const [a] = await makeProducts([{ stock: 4, price: "2.00" }]);
    const cart = await makeCart(null, [{ product_id: a!, quantity: 2 }]);
    const key = `checkout-${crypto.randomUUID()}`;
    const down = await apiWithEnv(
      { STRIPE_API_BASE: CLOSED },
      `/api/v1/carts/${cart}/checkout`,
      jsonRequest("POST", customer.token, undefined, { "Idempotency-Key": key }),
    );
    expect(down.status).toBe(503);
    expect(down.headers.get("Retry-After")).not.toBeNull();
    expect(((await down.json()) as ErrorBody).error.code).toBe("payment_unavailable");
    expect(await stockOf(a!)).toBe(4);
    expect(await cartStatus(cart)).toBe("open");
    expect(await ordersOfCart(cart)).toBe(0);
    expect(await db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, key))).toHaveLength(0);

    const order = (await (await postCheckout(customer.token, cart, key)).json()) as OrderBody;
    expect(order.status).toBe("pending_payment");
    expect(await stockOf(a!)).toBe(2);
    expect(await paymentIntentsOf(order.id)).toHaveLength(1);
  });
});
