/**
 * Specification of scripts/stripe-standin.ts, the local Stripe, driven from inside workerd the way the
 * Worker reaches it: the official SDK through `stripeClient(env)` (src/lib/stripe.ts). The stand-in is
 * shared with parallel test files: every test makes PaymentIntents of its own (metadata.order_id of
 * its own) and scopes its faults to them.
 */
import { env } from "cloudflare:test";
import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { stripeClient, verifyStripeEvent } from "../../src/lib/stripe";

const stripe = await stripeClient(env);
const base = env.STRIPE_API_BASE;

/** A metadata.order_id nobody else uses. */
const newOrderId = (): string => `standin-${crypto.randomUUID()}`;

function createIntent(orderId = newOrderId(), extra: Partial<Stripe.PaymentIntentCreateParams> = {}, options?: Stripe.RequestOptions) {
  return stripe.paymentIntents.create(
    { amount: 1999, currency: "usd", metadata: { order_id: orderId }, automatic_payment_methods: { enabled: true }, ...extra },
    options,
  );
}

async function paidIntent(amount = 1999): Promise<Stripe.PaymentIntent> {
  const pi = await createIntent(newOrderId(), { amount });
  return stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_visa" });
}

/** The PaymentIntents the stand-in holds for an order (test hook). */
async function intentsOf(orderId: string): Promise<Stripe.PaymentIntent[]> {
  const res = await fetch(`${base}/__payment_intents?order_id=${encodeURIComponent(orderId)}`);
  return ((await res.json()) as { payment_intents: Stripe.PaymentIntent[] }).payment_intents;
}

type SignedEvent = { id: string; type: string; payload: string; signature: string; deliveries: unknown[] };

/** The signed events about one PaymentIntent (test hook), oldest first. */
async function eventsOf(paymentIntentId: string): Promise<SignedEvent[]> {
  const res = await fetch(`${base}/__events?payment_intent=${paymentIntentId}`);
  return ((await res.json()) as { events: SignedEvent[] }).events;
}

async function addFault(fault: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${base}/__faults`, { method: "POST", body: JSON.stringify(fault) });
  expect(res.status).toBe(200);
}

/** The error a Stripe call rejects with, checked to be of `type`. */
async function rejection<T extends Stripe.errors.StripeError>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => T,
): Promise<T> {
  const err = await promise.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(type);
  return err as T;
}

/**
 * A header of the answer a Stripe call returned. With the fetch HTTP client `lastResponse` is the
 * fetch Response itself, so its headers are a Headers object (the SDK's type says a plain object).
 */
function responseHeader(result: { lastResponse: { headers: unknown } }, name: string): string | null {
  const headers = result.lastResponse.headers;
  return headers instanceof Headers ? headers.get(name) : ((headers as Record<string, string>)[name.toLowerCase()] ?? null);
}

/** A Stripe-Signature for `payload` made at `t`, as Stripe makes it, with `secret`. */
async function signAt(payload: string, t: number, secret: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${t}.${payload}`));
  const hex = [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `t=${t},v1=${hex}`;
}

describe("creating a PaymentIntent", () => {
  it("answers a PaymentIntent as Stripe does, with a Request-Id", async () => {
    const orderId = newOrderId();
    const before = Math.floor(Date.now() / 1000);
    const pi = await createIntent(orderId, { description: "Tenpo order" });
    expect(pi).toMatchObject({
      object: "payment_intent",
      amount: 1999,
      amount_received: 0,
      currency: "usd",
      status: "requires_payment_method",
      metadata: { order_id: orderId },
      description: "Tenpo order",
      livemode: false,
      last_payment_error: null,
      latest_charge: null,
      payment_method: null,
      canceled_at: null,
      automatic_payment_methods: { enabled: true },
    });
    expect(pi.id).toMatch(/^pi_\w{24}$/);
    expect(pi.client_secret).toMatch(new RegExp(`^${pi.id}_secret_\\w+$`));
    expect(pi.created).toBeGreaterThanOrEqual(before - 1);
    expect(pi.lastResponse.requestId).toMatch(/^req_\w+$/);
    expect(responseHeader(pi, "Idempotent-Replayed")).toBeNull();
    expect((await intentsOf(orderId)).map((p) => p.id)).toEqual([pi.id]);
    expect((await stripe.paymentIntents.retrieve(pi.id)).metadata).toEqual({ order_id: orderId });
  });

  it("answers a repeat of an Idempotency-Key with the first answer and creates nothing more", async () => {
    const orderId = newOrderId();
    const idempotencyKey = `checkout-${orderId}`;
    const first = await createIntent(orderId, {}, { idempotencyKey });
    const again = await createIntent(orderId, {}, { idempotencyKey });
    expect(again.id).toBe(first.id);
    expect(again.client_secret).toBe(first.client_secret);
    expect(responseHeader(again, "Idempotent-Replayed")).toBe("true");
    expect(await intentsOf(orderId)).toHaveLength(1);
    expect((await eventsOf(first.id)).map((e) => e.type)).toEqual(["payment_intent.created"]);
  });

  it("creates one PaymentIntent for racing requests with one Idempotency-Key", async () => {
    const orderId = newOrderId();
    const idempotencyKey = `checkout-${orderId}`;
    const all = await Promise.all(Array.from({ length: 6 }, () => createIntent(orderId, {}, { idempotencyKey })));
    expect(new Set(all.map((pi) => pi.id)).size).toBe(1);
    expect(await intentsOf(orderId)).toHaveLength(1);
  });

  it("refuses an Idempotency-Key reused with other parameters (StripeIdempotencyError) and creates nothing", async () => {
    const orderId = newOrderId();
    const idempotencyKey = `checkout-${orderId}`;
    await createIntent(orderId, {}, { idempotencyKey });
    const err = await rejection(createIntent(orderId, { amount: 2500 }, { idempotencyKey }), Stripe.errors.StripeIdempotencyError);
    expect(err.statusCode).toBe(400);
    expect(err.message).toMatch(/same parameters/);
    expect(await intentsOf(orderId)).toHaveLength(1);
  });

  it.each<[string, Record<string, unknown>, string, string]>([
    ["no amount", { amount: undefined }, "parameter_missing", "amount"],
    ["a fractional amount", { amount: "12.5" }, "parameter_invalid_integer", "amount"],
    ["a word for an amount", { amount: "ten" }, "parameter_invalid_integer", "amount"],
    ["a zero amount", { amount: 0 }, "parameter_invalid_integer", "amount"],
    ["less than Stripe's minimum charge", { amount: 49 }, "amount_too_small", "amount"],
    ["no currency", { currency: undefined }, "parameter_missing", "currency"],
    ["an unknown parameter", { colour: "red" }, "parameter_unknown", "colour"],
    ["a metadata value over 500 characters", { metadata: { order_id: "x".repeat(501) } }, "", "metadata[order_id]"],
  ])("refuses %s (400, naming the param) and creates nothing", async (_, override, code, param) => {
    const orderId = newOrderId();
    const params = { amount: 1999, currency: "usd", metadata: { order_id: orderId }, ...override } as Stripe.PaymentIntentCreateParams;
    const err = await rejection(stripe.paymentIntents.create(params), Stripe.errors.StripeInvalidRequestError);
    expect(err.statusCode).toBe(400);
    expect(err.param).toBe(param);
    if (code) expect(err.code).toBe(code);
    expect(await intentsOf(orderId)).toEqual([]);
  });

  it("runs a request again after a refused one with the same Idempotency-Key (a validation failure is not kept)", async () => {
    const orderId = newOrderId();
    const idempotencyKey = `checkout-${orderId}`;
    await rejection(createIntent(orderId, { amount: 10 }, { idempotencyKey }), Stripe.errors.StripeInvalidRequestError);
    const pi = await createIntent(orderId, {}, { idempotencyKey });
    expect(pi.amount).toBe(1999);
  });
});

describe("retrieving", () => {
  it("answers an unknown PaymentIntent 404 resource_missing", async () => {
    const err = await rejection(stripe.paymentIntents.retrieve("pi_doesnotexist"), Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({ statusCode: 404, code: "resource_missing", message: "No such payment_intent: 'pi_doesnotexist'" });
  });

  it("answers an unknown route 404 invalid_request_error, with a Request-Id", async () => {
    const res = await fetch(`${base}/v1/customers`, { headers: { Authorization: `Bearer ${env.STRIPE_SECRET_KEY}` } });
    expect(res.status).toBe(404);
    expect(res.headers.get("Request-Id")).toMatch(/^req_/);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.message).toMatch(/^Unrecognized request URL \(GET: \/v1\/customers\)/);
    await rejection(stripe.customers.retrieve("cus_nobody"), Stripe.errors.StripeInvalidRequestError);
  });

  it("refuses a JSON body: Stripe takes form-encoded parameters", async () => {
    const orderId = newOrderId();
    const res = await fetch(`${base}/v1/payment_intents`, {
      method: "POST",
      headers: { Authorization: `Bearer ${env.STRIPE_SECRET_KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify({ amount: 1999, currency: "usd", metadata: { order_id: orderId } }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { type: string; message: string } }).error).toMatchObject({
      type: "invalid_request_error",
      message: expect.stringMatching(/form-encoded/),
    });
    expect(await intentsOf(orderId)).toEqual([]);
  });

  it("refuses a wrong API key with StripeAuthenticationError (401)", async () => {
    const pi = await createIntent();
    const wrong = await stripeClient({ ...env, STRIPE_SECRET_KEY: "sk_test_not-this-run-s-key" });
    const err = await rejection(wrong.paymentIntents.retrieve(pi.id), Stripe.errors.StripeAuthenticationError);
    expect(err.statusCode).toBe(401);
    expect(err.message).toMatch(/^Invalid API Key provided: sk_test_\*+/);
    expect(err.message).not.toContain("not-this-run");
    const res = await fetch(`${base}/v1/payment_intents/${pi.id}`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/^You did not provide an API key/);
  });
});

describe("confirming", () => {
  it("succeeds with pm_card_visa: amount_received, a succeeded charge, the PaymentMethod", async () => {
    const pi = await createIntent();
    const paid = await stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_visa", expand: ["latest_charge"] });
    expect(paid).toMatchObject({ id: pi.id, status: "succeeded", amount_received: 1999, last_payment_error: null });
    expect(paid.payment_method).toMatch(/^pm_/);
    const charge = paid.latest_charge as Stripe.Charge;
    expect(charge).toMatchObject({
      object: "charge",
      amount: 1999,
      status: "succeeded",
      paid: true,
      payment_intent: pi.id,
      refunded: false,
    });
    expect(charge.id).toMatch(/^ch_/);
    expect((await stripe.paymentIntents.retrieve(pi.id)).latest_charge).toBe(charge.id);
  });

  it("declines pm_card_chargeDeclined with StripeCardError (402, decline_code), and the PaymentIntent waits for another card", async () => {
    const pi = await createIntent();
    const err = await rejection(
      stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_chargeDeclined" }),
      Stripe.errors.StripeCardError,
    );
    expect(err).toMatchObject({
      statusCode: 402,
      code: "card_declined",
      decline_code: "generic_decline",
      message: "Your card was declined.",
    });
    expect(err.payment_intent).toMatchObject({ id: pi.id, status: "requires_payment_method" });
    const failed = await stripe.paymentIntents.retrieve(pi.id);
    expect(failed).toMatchObject({ status: "requires_payment_method", amount_received: 0, payment_method: null });
    expect(failed.last_payment_error).toMatchObject({ type: "card_error", code: "card_declined", decline_code: "generic_decline" });
    expect(failed.latest_charge).toMatch(/^ch_/);
    const paid = await stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_visa" });
    expect(paid).toMatchObject({ status: "succeeded", last_payment_error: null, amount_received: 1999 });
  });

  it("answers a repeated decline with the same Idempotency-Key with the first decline, charging nothing more", async () => {
    const pi = await createIntent();
    const idempotencyKey = `confirm-${pi.id}`;
    const first = await rejection(
      stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_chargeDeclined" }, { idempotencyKey }),
      Stripe.errors.StripeCardError,
    );
    const again = await rejection(
      stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_chargeDeclined" }, { idempotencyKey }),
      Stripe.errors.StripeCardError,
    );
    expect(again.headers?.["idempotent-replayed"]).toBe("true");
    expect(again.raw).toMatchObject({ charge: (first.raw as { charge: string }).charge });
    expect((await eventsOf(pi.id)).map((e) => e.type)).toEqual(["payment_intent.created", "payment_intent.payment_failed"]);
  });

  it("refuses a PaymentIntent that has succeeded or was canceled (payment_intent_unexpected_state), and an unknown card", async () => {
    const paid = await paidIntent();
    const twice = await rejection(
      stripe.paymentIntents.confirm(paid.id, { payment_method: "pm_card_visa" }),
      Stripe.errors.StripeInvalidRequestError,
    );
    expect(twice).toMatchObject({ statusCode: 400, code: "payment_intent_unexpected_state" });
    expect(twice.payment_intent).toMatchObject({ id: paid.id, status: "succeeded" });

    const canceled = await stripe.paymentIntents.cancel((await createIntent()).id);
    const late = await rejection(
      stripe.paymentIntents.confirm(canceled.id, { payment_method: "pm_card_visa" }),
      Stripe.errors.StripeInvalidRequestError,
    );
    expect(late.code).toBe("payment_intent_unexpected_state");

    const pi = await createIntent();
    const unknown = await rejection(
      stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_unheard_of" }),
      Stripe.errors.StripeInvalidRequestError,
    );
    expect(unknown).toMatchObject({ statusCode: 400, code: "resource_missing", param: "payment_method" });
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe("requires_payment_method");
  });
});

describe("canceling", () => {
  it("cancels a PaymentIntent that has not been paid; a succeeded one cannot be canceled", async () => {
    const pi = await createIntent();
    const canceled = await stripe.paymentIntents.cancel(pi.id, { cancellation_reason: "abandoned" });
    expect(canceled).toMatchObject({ status: "canceled", cancellation_reason: "abandoned" });
    expect(canceled.canceled_at).toBeGreaterThan(0);

    const paid = await paidIntent();
    const err = await rejection(stripe.paymentIntents.cancel(paid.id), Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({ statusCode: 400, code: "payment_intent_unexpected_state" });
    expect((await stripe.paymentIntents.retrieve(paid.id)).status).toBe("succeeded");
  });
});

describe("refunding", () => {
  it("refunds in full by default, then refuses a second refund (charge_already_refunded)", async () => {
    const paid = await paidIntent(4200);
    const refund = await stripe.refunds.create({ payment_intent: paid.id, reason: "requested_by_customer", metadata: { order_id: "7" } });
    expect(refund).toMatchObject({
      object: "refund",
      amount: 4200,
      currency: "usd",
      payment_intent: paid.id,
      charge: paid.latest_charge,
      status: "succeeded",
      reason: "requested_by_customer",
      metadata: { order_id: "7" },
    });
    expect(refund.id).toMatch(/^re_/);
    const err = await rejection(stripe.refunds.create({ payment_intent: paid.id }), Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({ statusCode: 400, code: "charge_already_refunded" });
    const charge = await stripe.charges.retrieve(paid.latest_charge as string);
    expect(charge).toMatchObject({ amount_refunded: 4200, refunded: true });
  });

  it("refunds in parts up to what was paid, and refuses more (amount_too_large)", async () => {
    const paid = await paidIntent(3000);
    await stripe.refunds.create({ payment_intent: paid.id, amount: 1000 });
    const err = await rejection(stripe.refunds.create({ payment_intent: paid.id, amount: 2001 }), Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({ code: "amount_too_large", param: "amount" });
    // By its charge, as Stripe also takes it: what is left.
    const rest = await stripe.refunds.create({ charge: paid.latest_charge as string });
    expect(rest).toMatchObject({ amount: 2000, payment_intent: paid.id });
  });

  it("refuses to refund a PaymentIntent that has not succeeded (charge_not_refundable), or one that does not exist", async () => {
    const pi = await createIntent();
    const err = await rejection(stripe.refunds.create({ payment_intent: pi.id }), Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({ statusCode: 400, code: "charge_not_refundable" });
    const missing = await rejection(stripe.refunds.create({ payment_intent: "pi_nobodys" }), Stripe.errors.StripeInvalidRequestError);
    expect(missing).toMatchObject({ code: "resource_missing", param: "payment_intent" });
  });

  it("lists a PaymentIntent's refunds, newest first, as a Stripe list", async () => {
    const paid = await paidIntent(3000);
    const first = await stripe.refunds.create({ payment_intent: paid.id, amount: 500 });
    const second = await stripe.refunds.create({ payment_intent: paid.id, amount: 700 });
    const list = await stripe.refunds.list({ payment_intent: paid.id });
    expect(list).toMatchObject({ object: "list", has_more: false, url: "/v1/refunds" });
    expect(list.data.map((r) => r.id)).toEqual([second.id, first.id]);
    expect(await stripe.refunds.retrieve(first.id)).toMatchObject({ id: first.id, amount: 500, payment_intent: paid.id });
    const page = await stripe.refunds.list({ payment_intent: paid.id, limit: 1 });
    expect(page.data.map((r) => r.id)).toEqual([second.id]);
    expect(page.has_more).toBe(true);
    expect((await stripe.refunds.list({ payment_intent: (await createIntent()).id })).data).toEqual([]);
  });
});

describe("events", () => {
  it("keeps every state change as an event whose signature verifyStripeEvent accepts", async () => {
    const pi = await createIntent(newOrderId(), {}, { idempotencyKey: `create-${crypto.randomUUID()}` });
    await stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_visa" });
    await stripe.refunds.create({ payment_intent: pi.id, amount: 999 });
    const events = await eventsOf(pi.id);
    expect(events.map((e) => e.type)).toEqual(["payment_intent.created", "payment_intent.succeeded", "charge.refunded"]);
    const verified = await Promise.all(events.map((e) => verifyStripeEvent(env, e.payload, e.signature)));
    expect(verified.map((e) => e?.id)).toEqual(events.map((e) => e.id));
    const [created, succeeded, refunded] = verified as [
      Stripe.PaymentIntentCreatedEvent,
      Stripe.PaymentIntentSucceededEvent,
      Stripe.ChargeRefundedEvent,
    ];
    expect(created).toMatchObject({ object: "event", livemode: false, pending_webhooks: 0, api_version: Stripe.API_VERSION });
    expect(created.request).toEqual({ id: pi.lastResponse.requestId, idempotency_key: pi.lastResponse.idempotencyKey });
    expect(created.data.object).toMatchObject({ id: pi.id, status: "requires_payment_method" });
    expect(succeeded.data.object).toMatchObject({ id: pi.id, status: "succeeded", amount_received: 1999 });
    expect(refunded.data.object).toMatchObject({ object: "charge", payment_intent: pi.id, amount_refunded: 999, refunded: false });
  });

  it("refuses a tampered body, another secret's signature and a signature older than 300 s", async () => {
    const pi = await createIntent();
    const [event] = await eventsOf(pi.id);
    const { payload, signature } = event!;
    expect(await verifyStripeEvent(env, payload, signature)).not.toBeNull();
    expect(await verifyStripeEvent(env, payload.replace('"amount": 1999', '"amount": 1'), signature)).toBeNull();
    expect(await verifyStripeEvent(env, JSON.stringify(JSON.parse(payload)), signature)).toBeNull();
    expect(await verifyStripeEvent({ STRIPE_WEBHOOK_SECRET: "whsec_someone-else-s" }, payload, signature)).toBeNull();
    const now = Math.floor(Date.now() / 1000);
    expect(await verifyStripeEvent(env, payload, await signAt(payload, now - 301, env.STRIPE_WEBHOOK_SECRET))).toBeNull();
    expect(await verifyStripeEvent(env, payload, await signAt(payload, now - 290, env.STRIPE_WEBHOOK_SECRET))).not.toBeNull();
  });
});

describe("faults", () => {
  it("answers a fault on one PaymentIntent's refunds with StripeAPIError, the given number of times, and nothing is refunded", async () => {
    const paid = await paidIntent();
    const other = await paidIntent();
    await addFault({ status: 500, path: "/v1/refunds", payment_intent: paid.id, times: 1 });
    const err = await rejection(stripe.refunds.create({ payment_intent: paid.id }, { maxNetworkRetries: 0 }), Stripe.errors.StripeAPIError);
    expect(err.statusCode).toBe(500);
    expect(err.rawType).toBe("api_error");
    expect((await stripe.refunds.list({ payment_intent: paid.id })).data).toEqual([]);
    // Another PaymentIntent's refund was never affected, and the fault is used up.
    expect((await stripe.refunds.create({ payment_intent: other.id })).status).toBe("succeeded");
    expect((await stripe.refunds.create({ payment_intent: paid.id })).amount).toBe(1999);
  });

  it("lets the SDK's retry with the same Idempotency-Key through a single 503", async () => {
    const paid = await paidIntent();
    await addFault({ status: 503, path: "/v1/refunds", payment_intent: paid.id, times: 1 });
    const refund = await stripe.refunds.create({ payment_intent: paid.id });
    expect(refund.amount).toBe(1999);
    expect((await stripe.refunds.list({ payment_intent: paid.id })).data).toHaveLength(1);
  });

  it("holds back an answer (done, but late): the retry after a timeout gets the first refund, not a second", async () => {
    const paid = await paidIntent();
    await addFault({ delayMs: 1500, path: "/v1/refunds", payment_intent: paid.id, times: 1 });
    const refund = await stripe.refunds.create({ payment_intent: paid.id }, { timeout: 300, maxNetworkRetries: 1 });
    expect(responseHeader(refund, "Idempotent-Replayed")).toBe("true");
    expect((await stripe.refunds.list({ payment_intent: paid.id })).data.map((r) => r.id)).toEqual([refund.id]);
  });

  it("clears the faults of one scope and leaves the others", async () => {
    const paid = await paidIntent();
    const other = await paidIntent();
    await addFault({ status: 500, path: "/v1/refunds", payment_intent: paid.id });
    await addFault({ status: 500, path: "/v1/refunds", payment_intent: other.id });
    const cleared = await fetch(`${base}/__faults?path=/v1/refunds&payment_intent=${paid.id}`, { method: "DELETE" });
    const { faults } = (await cleared.json()) as { faults: Array<{ payment_intent?: string }> };
    expect(faults.some((f) => f.payment_intent === paid.id)).toBe(false);
    expect(faults.some((f) => f.payment_intent === other.id)).toBe(true);
    expect((await stripe.refunds.create({ payment_intent: paid.id })).status).toBe("succeeded");
    await rejection(stripe.refunds.create({ payment_intent: other.id }, { maxNetworkRetries: 0 }), Stripe.errors.StripeAPIError);
    await fetch(`${base}/__faults?payment_intent=${other.id}`, { method: "DELETE" });
    expect((await stripe.refunds.create({ payment_intent: other.id })).status).toBe("succeeded");
  });

  it("refuses a malformed fault", async () => {
    for (const fault of [
      {},
      { status: 200 },
      { delayMs: -1 },
      { status: 500, path: "v1" },
      { status: 500, times: 0 },
      { status: 500, payment_intent: "x" },
    ]) {
      expect((await fetch(`${base}/__faults`, { method: "POST", body: JSON.stringify(fault) })).status, JSON.stringify(fault)).toBe(400);
    }
  });
});
