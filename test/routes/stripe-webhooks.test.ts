import { env } from "cloudflare:test";
import { eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { emailOutbox, stripeEvents } from "../../src/db/schema";
import type { ErrorBody } from "../support/api";
import { makeUser, type TestUser } from "../support/accounts";
import { makeProducts } from "../support/catalog";
import { checkoutOk, deliver, eventOf, getOrder, makeCart, pay, signedEvent, storedOrder } from "../support/checkout";
import { db } from "../support/db";
import { mailTo, stockOf, waitFor } from "../support/orders";

// Stripe's events at POST /api/v1/webhooks/stripe: signatures, once per event id, any order. Events
// that meet an expired order are in test/services/order-expiry.test.ts, beside the expiry they race.

let customer: TestUser;

beforeAll(async () => {
  customer = await makeUser({ fullName: "Pia Payer" });
});

/** A fresh pending order of the customer's: one line of a product of its own (stock 10, 4.00 each). */
async function pendingOrder(quantity = 2) {
  const [a] = await makeProducts([{ stock: 10, price: "4.00" }]);
  const order = await checkoutOk(customer, await makeCart(null, [{ product_id: a!, quantity }]));
  return { order, productId: a!, intent: { id: order.payment.payment_intent_id, amount: quantity * 400 } };
}

async function confirmationRows(orderId: number): Promise<number> {
  const rows = await db
    .select({ id: emailOutbox.id })
    .from(emailOutbox)
    .where(sql`${emailOutbox.orderId} = ${orderId} and ${emailOutbox.kind} = 'order_confirmation'`);
  return rows.length;
}

describe("POST /api/v1/webhooks/stripe", () => {
  it("makes the order paid when the stand-in reports the card payment, and the confirmation goes out once", async () => {
    const { order } = await pendingOrder();
    await pay(order.payment.payment_intent_id, "pm_card_visa");
    const event = await eventOf(order.payment.payment_intent_id, "payment_intent.succeeded");
    const res = await deliver(event);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toEqual({ received: true });
    const paid = await getOrder(customer, order.id);
    expect(paid.status).toBe("paid");
    expect(paid.paid_at).not.toBeNull();
    const emails = await waitFor(
      () => mailTo(customer.email),
      (list) => list.some((e) => e.subject.includes(`#${order.id}`)),
    );
    expect(emails.filter((e) => e.subject.includes(`#${order.id}`))).toHaveLength(1);
  });

  it("takes effect once for one event delivered 5 times at once: one change, one e-mail job, five 200s", async () => {
    const { order, productId } = await pendingOrder();
    await pay(order.payment.payment_intent_id);
    const event = await eventOf(order.payment.payment_intent_id, "payment_intent.succeeded");
    const responses = await Promise.all(Array.from({ length: 5 }, () => deliver(event)));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect((await storedOrder(order.id)).status).toBe("paid");
    expect(await confirmationRows(order.id)).toBe(1);
    expect(await db.select().from(stripeEvents).where(eq(stripeEvents.id, event.id))).toHaveLength(1);
    expect(await stockOf(productId)).toBe(8);
    // And again later: still 200, still nothing new.
    expect((await deliver(event)).status).toBe(200);
    expect(await confirmationRows(order.id)).toBe(1);
  });

  it("leaves the order pending after a declined card, and a second card then pays it", async () => {
    const { order } = await pendingOrder();
    await pay(order.payment.payment_intent_id, "pm_card_chargeDeclined");
    const failed = await eventOf(order.payment.payment_intent_id, "payment_intent.payment_failed");
    expect((await deliver(failed)).status).toBe(200);
    expect((await getOrder(customer, order.id)).status).toBe("pending_payment");
    await pay(order.payment.payment_intent_id, "pm_card_visa");
    expect((await deliver(await eventOf(order.payment.payment_intent_id, "payment_intent.succeeded"))).status).toBe(200);
    expect((await getOrder(customer, order.id)).status).toBe("paid");
  });

  it("keeps an order paid when a payment_failed event arrives after the success (events come in any order)", async () => {
    const { order, intent } = await pendingOrder();
    expect((await deliver(await signedEvent("payment_intent.succeeded", intent))).status).toBe(200);
    expect((await deliver(await signedEvent("payment_intent.payment_failed", intent))).status).toBe(200);
    expect((await getOrder(customer, order.id)).status).toBe("paid");
    expect(await confirmationRows(order.id)).toBe(1);
  });

  it("answers 200 to event types it does not act on, and to events of PaymentIntents it does not know", async () => {
    const { order, intent } = await pendingOrder();
    expect((await deliver(await signedEvent("payment_intent.created", intent))).status).toBe(200);
    expect((await deliver(await signedEvent("customer.created", intent))).status).toBe(200);
    expect((await deliver(await signedEvent("payment_intent.succeeded", { id: "pi_unknown_to_tenpo", amount: 100 }))).status).toBe(200);
    expect((await getOrder(customer, order.id)).status).toBe("pending_payment");
  });

  describe("refuses with 400 invalid_signature, changing nothing", () => {
    const refused = async (res: Response) => {
      expect(res.status).toBe(400);
      expect(((await res.json()) as ErrorBody).error.code).toBe("invalid_signature");
    };

    it("an event without a Stripe-Signature header", async () => {
      const { order, intent } = await pendingOrder();
      const event = await signedEvent("payment_intent.succeeded", intent);
      await refused(await deliver({ payload: event.payload, signature: "" }));
      expect((await storedOrder(order.id)).status).toBe("pending_payment");
    });

    it("an event signed with another secret, or whose body was changed after signing", async () => {
      const { order, intent } = await pendingOrder();
      await refused(await deliver(await signedEvent("payment_intent.succeeded", intent, { secret: "whsec_someone_else" })));
      const event = await signedEvent("payment_intent.succeeded", intent);
      await refused(await deliver({ ...event, payload: event.payload.replace('"livemode":false', '"livemode":true') }));
      expect((await storedOrder(order.id)).status).toBe("pending_payment");
      expect(await db.select().from(stripeEvents).where(eq(stripeEvents.id, event.id))).toHaveLength(0);
    });

    it("a stale event: signed more than 300 s ago", async () => {
      const { order, intent } = await pendingOrder();
      await refused(
        await deliver(await signedEvent("payment_intent.succeeded", intent, { timestamp: Math.floor(Date.now() / 1000) - 301 })),
      );
      expect((await storedOrder(order.id)).status).toBe("pending_payment");
    });

    it("a malformed header and a signed body that is not JSON", async () => {
      const { intent } = await pendingOrder();
      const event = await signedEvent("payment_intent.succeeded", intent);
      await refused(await deliver({ payload: event.payload, signature: "v1=deadbeef" }));
      await refused(await deliver({ payload: event.payload, signature: "t=abc,v1=" }));
      const garbage = "{not json";
      const { default: Stripe } = await import("stripe");
      const signature = await Stripe.webhooks.generateTestHeaderStringAsync({
        payload: garbage,
        secret: env.STRIPE_WEBHOOK_SECRET,
        cryptoProvider: Stripe.createSubtleCryptoProvider(),
      });
      await refused(await deliver({ payload: garbage, signature }));
    });
  });
});
