import { beforeAll, describe, expect, it } from "vitest";
import { expireUnpaidOrders } from "../../src/services/order-expiry";
import { makeUser, type TestUser } from "../support/accounts";
import { makeProducts } from "../support/catalog";
import { api, type ErrorBody } from "../support/api";
import { checkoutOk, deliver, expireNow, getOrder, makeCart, pay, refundsOf, signedEvent, storedOrder } from "../support/checkout";
import { db } from "../support/db";
import { jsonRequest, mailTo, placeOk, stockOf, waitFor } from "../support/orders";

// Unpaid checkout orders expiring, and the payments that arrive for them late. Everything that runs
// the expiry (it sweeps every due order of the database) lives in this one file, so its tests run one
// after another and no other file's pending orders are ever past their deadline.

let customer: TestUser;

beforeAll(async () => {
  customer = await makeUser({ fullName: "Lena Late" });
});

async function pendingOrder(stock: number, quantity: number) {
  const [a] = await makeProducts([{ stock, price: "5.00" }]);
  const order = await checkoutOk(customer, await makeCart(null, [{ product_id: a!, quantity }]));
  return { order, productId: a!, intent: { id: order.payment.payment_intent_id, amount: quantity * 500 } };
}

describe("the expiry of unpaid orders", () => {
  it("reads an unpaid order as expired from its expires_at on, before the cron has run", async () => {
    const { order, productId } = await pendingOrder(5, 2);
    await expireNow(order.id);
    expect((await getOrder(customer, order.id)).status).toBe("expired");
    expect((await storedOrder(order.id)).status).toBe("pending_payment");
    expect(await stockOf(productId)).toBe(3);
  });

  it("expires it and returns its stock once, however often the cron runs", async () => {
    const { order, productId } = await pendingOrder(5, 2);
    await expireNow(order.id);
    const [first, second] = await Promise.all([expireUnpaidOrders(db), expireUnpaidOrders(db)]);
    expect(first + second).toBeGreaterThanOrEqual(1);
    await expireUnpaidOrders(db);
    expect((await storedOrder(order.id)).status).toBe("expired");
    expect(await stockOf(productId)).toBe(5);
  });

  it("leaves orders within their 15 minutes alone", async () => {
    const { order, productId } = await pendingOrder(5, 1);
    await expireUnpaidOrders(db);
    expect((await storedOrder(order.id)).status).toBe("pending_payment");
    expect(await stockOf(productId)).toBe(4);
  });

  it("refuses to cancel an expired order: 409 invalid_state", async () => {
    const { order } = await pendingOrder(5, 1);
    await expireNow(order.id);
    const res = await api(`/api/v1/orders/${order.id}/cancel`, jsonRequest("POST", customer.token));
    expect(res.status).toBe(409);
    expect(((await res.json()) as ErrorBody).error.code).toBe("invalid_state");
  });
});

describe("a payment that arrives after the order expired", () => {
  it("pays an order just past its deadline whose stock was still held (the cron had not run)", async () => {
    const { order, productId, intent } = await pendingOrder(5, 2);
    await expireNow(order.id);
    expect((await deliver(await signedEvent("payment_intent.succeeded", intent))).status).toBe(200);
    expect((await getOrder(customer, order.id)).status).toBe("paid");
    await expireUnpaidOrders(db);
    expect((await storedOrder(order.id)).status).toBe("paid");
    expect(await stockOf(productId)).toBe(3);
  });

  it("takes the stock again when it is still there, and the order is paid", async () => {
    const { order, productId, intent } = await pendingOrder(5, 2);
    await expireNow(order.id);
    await expireUnpaidOrders(db);
    expect(await stockOf(productId)).toBe(5);
    expect((await deliver(await signedEvent("payment_intent.succeeded", intent))).status).toBe(200);
    const paid = await getOrder(customer, order.id);
    expect(paid.status).toBe("paid");
    expect(await stockOf(productId)).toBe(3);
    expect(await refundsOf(intent.id)).toHaveLength(0);
  });

  it("refunds the payment in full when the stock has gone meanwhile: refunded, the refund at Stripe, a refund e-mail", async () => {
    const { order, productId, intent } = await pendingOrder(2, 2);
    await expireNow(order.id);
    await expireUnpaidOrders(db);
    // Someone else buys the returned stock.
    await placeOk(await makeUser(), [{ product_id: productId, quantity: 1 }]);
    // The customer's card was charged at the stand-in meanwhile (Stripe would not send the event otherwise).
    await pay(intent.id, "pm_card_visa");
    expect((await deliver(await signedEvent("payment_intent.succeeded", intent))).status).toBe(200);
    const refunded = await getOrder(customer, order.id);
    expect(refunded.status).toBe("refunded");
    expect(await stockOf(productId)).toBe(1);
    const refunds = await refundsOf(intent.id);
    expect(refunds).toHaveLength(1);
    expect(refunds[0]).toMatchObject({ amount: 1000, status: "succeeded" });
    expect((await storedOrder(order.id)).refundId).toBe(refunds[0]!.id);
    const emails = await waitFor(
      () => mailTo(customer.email),
      (list) => list.some((e) => e.subject.includes(`#${order.id}`) && /refund/i.test(e.subject)),
    );
    expect(emails.filter((e) => e.subject.includes(`#${order.id}`) && /refund/i.test(e.subject))).toHaveLength(1);
  });

  it("takes or returns the stock exactly once when the expiry and a late payment race", async () => {
    for (let round = 0; round < 5; round++) {
      const { order, productId, intent } = await pendingOrder(3, 2);
      await expireNow(order.id);
      const event = await signedEvent("payment_intent.succeeded", intent);
      const [res] = await Promise.all([deliver(event), expireUnpaidOrders(db)]);
      expect(res.status).toBe(200);
      await expireUnpaidOrders(db);
      // Either order of events ends paid with the stock taken once: the stock was there all along.
      expect((await storedOrder(order.id)).status).toBe("paid");
      expect(await stockOf(productId)).toBe(1);
    }
  });
});
