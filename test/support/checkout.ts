import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import Stripe from "stripe";
import { cartItems, carts, orders } from "../../src/db/schema";
import { stripeClient } from "../../src/lib/stripe";
import type { OrderBody } from "../../src/schemas/orders";
import type { TestUser } from "./accounts";
import { api } from "./api";
import { db } from "./db";
import { jsonRequest, type Line } from "./orders";

/**
 * Helpers of the checkout and payment tests: carts made straight in the database (the cart API has
 * tests of its own), checkouts through the API, and the run's Stripe stand-in
 * (scripts/stripe-standin.ts) reached the way the Worker reaches it, through the official SDK, plus
 * its test hooks. The stand-in is shared with other files running at the same time: every test
 * looks only at its own orders' PaymentIntents.
 */

/** A cart straight into the database: a guest cart (`owner` null) or a customer's, with these lines. */
export async function makeCart(owner: TestUser | null, lines: Line[]): Promise<string> {
  const id = crypto.randomUUID().replaceAll("-", "").slice(0, 24);
  await db.insert(carts).values({ id, userId: owner?.id ?? null, expiresAt: new Date(Date.now() + 7 * 86_400_000) });
  if (lines.length > 0) {
    await db
      .insert(cartItems)
      .values(lines.map((l, i) => ({ cartId: id, productId: l.product_id, quantity: l.quantity, addedAt: new Date(Date.now() + i) })));
  }
  return id;
}

export function postCheckout(token: string | null, cartId: string, idempotencyKey?: string): Promise<Response> {
  const headers: Record<string, string> = idempotencyKey === undefined ? {} : { "Idempotency-Key": idempotencyKey };
  return api(`/api/v1/carts/${cartId}/checkout`, jsonRequest("POST", token, undefined, headers));
}

/** A checkout that must succeed: the pending order with its PaymentIntent. */
export async function checkoutOk(user: TestUser, cartId: string): Promise<OrderBody & { payment: NonNullable<OrderBody["payment"]> }> {
  const res = await postCheckout(user.token, cartId);
  if (res.status !== 201) throw new Error(`expected 201, got ${res.status}: ${await res.text()}`);
  const order = (await res.json()) as OrderBody;
  if (!order.payment) throw new Error("a checkout order came without its payment");
  return order as OrderBody & { payment: NonNullable<OrderBody["payment"]> };
}

export async function getOrder(user: TestUser, id: number): Promise<OrderBody> {
  const res = await api(`/api/v1/orders/${id}`, jsonRequest("GET", user.token));
  if (res.status !== 200) throw new Error(`GET order ${id}: ${res.status} ${await res.text()}`);
  return (await res.json()) as OrderBody;
}

/** The Worker's own Stripe client, pointed at this run's stand-in. */
export const stripe = (): Promise<Stripe> => stripeClient(env);

/** The stand-in's PaymentIntents of one order (a test hook: Stripe's own API cannot list by metadata). */
export async function paymentIntentsOf(orderId: number): Promise<Stripe.PaymentIntent[]> {
  const res = await fetch(`${env.STRIPE_API_BASE}/__payment_intents?order_id=${orderId}`);
  return ((await res.json()) as { payment_intents: Stripe.PaymentIntent[] }).payment_intents;
}

/** The stand-in's refunds of a PaymentIntent, through Stripe's list API. */
export async function refundsOf(paymentIntentId: string): Promise<Stripe.Refund[]> {
  return (await (await stripe()).refunds.list({ payment_intent: paymentIntentId })).data;
}

/** An event as the stand-in signed it: the exact body and its Stripe-Signature. */
export type SignedEvent = { id: string; type: string; payload: string; signature: string };

/** The events the stand-in made for a PaymentIntent (it cannot reach the Worker inside workerd, so tests deliver them). */
export async function eventsOf(paymentIntentId: string): Promise<SignedEvent[]> {
  const res = await fetch(`${env.STRIPE_API_BASE}/__events?payment_intent=${encodeURIComponent(paymentIntentId)}`);
  return ((await res.json()) as { events: SignedEvent[] }).events;
}

/** The stand-in's one event of `type` for a PaymentIntent. */
export async function eventOf(paymentIntentId: string, type: string): Promise<SignedEvent> {
  const event = (await eventsOf(paymentIntentId)).find((e) => e.type === type);
  if (!event) throw new Error(`the stand-in has no ${type} event for ${paymentIntentId}`);
  return event;
}

/** Pays (or fails to pay) a PaymentIntent at the stand-in, as Stripe.js would with a test card. */
export async function pay(paymentIntentId: string, card: "pm_card_visa" | "pm_card_chargeDeclined" = "pm_card_visa"): Promise<void> {
  try {
    await (await stripe()).paymentIntents.confirm(paymentIntentId, { payment_method: card });
  } catch (err) {
    if (!(card === "pm_card_chargeDeclined" && err instanceof Stripe.errors.StripeCardError)) throw err;
  }
}

/** Delivers a signed event to the webhook, as Stripe does (an empty signature: no Stripe-Signature header at all). */
export function deliver(event: Pick<SignedEvent, "payload" | "signature">): Promise<Response> {
  return api("/api/v1/webhooks/stripe", {
    method: "POST",
    headers: { "Content-Type": "application/json; charset=utf-8", ...(event.signature ? { "Stripe-Signature": event.signature } : {}) },
    body: event.payload,
  });
}

/**
 * An event of our own making about a PaymentIntent, signed with `secret` (default: the webhook's) at
 * `timestamp` (default: now): for the orders Stripe would not send in one test (a success before a
 * failure, a success long after expiry), and for signatures that must be refused.
 */
export async function signedEvent(
  type: string,
  intent: Pick<Stripe.PaymentIntent, "id" | "amount"> & { metadata?: Record<string, string> },
  opts: { secret?: string; timestamp?: number; id?: string } = {},
): Promise<SignedEvent> {
  const id = opts.id ?? `evt_test_${crypto.randomUUID().replaceAll("-", "")}`;
  const payload = JSON.stringify({
    id,
    object: "event",
    api_version: "2025-01-01",
    created: Math.floor(Date.now() / 1000),
    type,
    livemode: false,
    data: { object: { id: intent.id, object: "payment_intent", amount: intent.amount, currency: "usd", metadata: intent.metadata ?? {} } },
  });
  const signature = await Stripe.webhooks.generateTestHeaderStringAsync({
    payload,
    secret: opts.secret ?? env.STRIPE_WEBHOOK_SECRET,
    timestamp: opts.timestamp ?? Math.floor(Date.now() / 1000),
    cryptoProvider: Stripe.createSubtleCryptoProvider(),
  });
  return { id, type, payload, signature };
}

/** Moves a pending order's deadline into the past, as if 15 minutes had gone by. */
export async function expireNow(orderId: number): Promise<void> {
  await db
    .update(orders)
    .set({ expiresAt: new Date(Date.now() - 1000) })
    .where(eq(orders.id, orderId));
}

/** The order's row as stored (not as read: reads show a pending order past its deadline as expired). */
export async function storedOrder(orderId: number) {
  const [row] = await db.select().from(orders).where(eq(orders.id, orderId));
  return row!;
}
