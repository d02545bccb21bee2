import { beforeAll, describe, expect, it } from "vitest";
import type { OrderBody } from "../../src/schemas/orders";
import { retryOwedRefunds } from "../../src/services/refunds";
import { api, apiWithEnv, type ErrorBody } from "../support/api";
import { makeUser, type TestUser } from "../support/accounts";
import { makeProducts } from "../support/catalog";
import {
  checkoutOk,
  deliver,
  eventOf,
  getOrder,
  makeCart,
  pay,
  paymentIntentsOf,
  refundsOf,
  storedOrder,
  stripe,
} from "../support/checkout";
import { db } from "../support/db";
import { CLOSED } from "../support/network";
import { jsonRequest, mailTo, placeOk, stockOf, waitFor } from "../support/orders";
import { env } from "cloudflare:test";

// Cancelling and fulfilling orders that are paid through Stripe (docs/api.md v1.1). Direct orders'
// cancellation is in orders.test.ts.

let customer: TestUser;
let admin: TestUser;

beforeAll(async () => {
  [customer, admin] = await Promise.all([makeUser({ fullName: "Cole Cancel" }), makeUser({ admin: true })]);
});

const cancel = (id: number, token = customer.token) => api(`/api/v1/orders/${id}/cancel`, jsonRequest("POST", token));
const fulfil = (id: number, token = admin.token) => api(`/api/v1/orders/${id}/fulfil`, jsonRequest("POST", token));

async function codeOf(res: Response): Promise<string> {
  return ((await res.json()) as ErrorBody).error.code;
}

async function pendingOrder(quantity = 2) {
  const [a] = await makeProducts([{ stock: 10, price: "7.50" }]);
  const order = await checkoutOk(customer, await makeCart(null, [{ product_id: a!, quantity }]));
  return { order, productId: a! };
}

async function paidOrder(quantity = 2) {
  const { order, productId } = await pendingOrder(quantity);
  await pay(order.payment.payment_intent_id);
  const res = await deliver(await eventOf(order.payment.payment_intent_id, "payment_intent.succeeded"));
  if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
  return { order, productId };
}

describe("POST /api/v1/orders/{id}/cancel with payments", () => {
  it("cancels a pending order: stock back once, its PaymentIntent cancelled at Stripe, a cancellation e-mail", async () => {
    const { order, productId } = await pendingOrder();
    const res = await cancel(order.id);
    expect(res.status).toBe(200);
    expect(((await res.json()) as OrderBody).status).toBe("cancelled");
    expect(await stockOf(productId)).toBe(10);
    const again = await cancel(order.id);
    expect(again.status).toBe(200);
    expect(((await again.json()) as OrderBody).status).toBe("cancelled");
    expect(await stockOf(productId)).toBe(10);
    const [intent] = await waitFor(
      () => paymentIntentsOf(order.id),
      (list) => list[0]?.status === "canceled",
    );
    expect(intent?.status).toBe("canceled");
    const emails = await waitFor(
      () => mailTo(customer.email),
      (list) => list.some((e) => e.subject.includes(`#${order.id}`)),
    );
    expect(emails.filter((e) => e.subject.includes(`#${order.id}`))).toHaveLength(1);
  });

  it("refunds a paid order in full through Stripe: refunded, stock back once, one refund however often it is called", async () => {
    const { order, productId } = await paidOrder(2);
    expect(await stockOf(productId)).toBe(8);
    const responses = await Promise.all([cancel(order.id), cancel(order.id), cancel(order.id)]);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as OrderBody[];
    expect(new Set(bodies.map((b) => b.status))).toEqual(new Set(["refunded"]));
    expect(await stockOf(productId)).toBe(10);
    const refunds = await waitFor(
      () => refundsOf(order.payment.payment_intent_id),
      (list) => list.length > 0,
    );
    expect(refunds).toHaveLength(1);
    expect(refunds[0]!.amount).toBe(1500);
    await waitFor(
      async () => (await storedOrder(order.id)).refundId,
      (id) => id !== null,
    );
    expect((await storedOrder(order.id)).refundId).toBe(refunds[0]!.id);
  });

  it("owes the refund when Stripe does not answer, and the cron's retry makes exactly one", async () => {
    const { order } = await paidOrder(1);
    const res = await apiWithEnv({ STRIPE_API_BASE: CLOSED }, `/api/v1/orders/${order.id}/cancel`, jsonRequest("POST", customer.token));
    expect(res.status).toBe(200);
    expect(((await res.json()) as OrderBody).status).toBe("refunded");
    expect((await storedOrder(order.id)).refundId).toBeNull();
    expect(await refundsOf(order.payment.payment_intent_id)).toHaveLength(0);
    const client = await stripe();
    await Promise.all([retryOwedRefunds(db, client, env.ENVIRONMENT), retryOwedRefunds(db, client, env.ENVIRONMENT)]);
    const refunds = await refundsOf(order.payment.payment_intent_id);
    expect(refunds).toHaveLength(1);
    expect((await storedOrder(order.id)).refundId).toBe(refunds[0]!.id);
  });

  it("refuses to cancel a fulfilled order: 409 invalid_state, nothing changes", async () => {
    const { order, productId } = await paidOrder(1);
    expect((await fulfil(order.id)).status).toBe(200);
    const res = await cancel(order.id);
    expect(res.status).toBe(409);
    expect(await codeOf(res)).toBe("invalid_state");
    expect((await getOrder(customer, order.id)).status).toBe("fulfilled");
    expect(await stockOf(productId)).toBe(9);
  });
});

describe("POST /api/v1/orders/{id}/fulfil", () => {
  it("fulfils a paid order (admin only), and refuses any other status with 409 invalid_state", async () => {
    const { order } = await paidOrder(1);
    expect((await fulfil(order.id, customer.token)).status).toBe(403);
    const res = await fulfil(order.id);
    expect(res.status).toBe(200);
    expect(((await res.json()) as OrderBody).status).toBe("fulfilled");
    const twice = await fulfil(order.id);
    expect(twice.status).toBe(409);
    expect(await codeOf(twice)).toBe("invalid_state");

    const { order: pending } = await pendingOrder(1);
    expect(await codeOf(await fulfil(pending.id))).toBe("invalid_state");
    const direct = await placeOk(customer, [{ product_id: (await makeProducts([{ stock: 1 }]))[0]!, quantity: 1 }]);
    expect(await codeOf(await fulfil(direct.id))).toBe("invalid_state");
    expect((await fulfil(2_000_000_000)).status).toBe(404);
    expect((await api(`/api/v1/orders/${order.id}/fulfil`, jsonRequest("POST", null))).status).toBe(401);
  });
});
