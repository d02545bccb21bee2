/**
 * The storefront user (docs/api.md, "Carts, checkout and payments (v1.1)"), for Node, on undici's Pool:
 * a shopper who logs in once as a demo account (user<N>@example.com, like the Locust user), then loops
 * through one purchase after another, without think time:
 *
 *   browse       GET  /api/v1/products?page=<1..10>
 *   product ×2   GET  /api/v1/products/<id>                 two distinct random demo products (1..10,000)
 *   cart_create  POST /api/v1/carts                         its one open cart (201 new, 200 the open one)
 *   cart_put ×2  PUT  /api/v1/carts/{id}/items/<id> {"quantity": 1}   the two products viewed
 *   cart_get     GET  /api/v1/carts/{id}
 *   checkout     POST /api/v1/carts/{id}/checkout          Idempotency-Key: a new one per purchase
 *   pay          POST {STRIPE_API_BASE}/v1/payment_intents/{pi}/confirm  payment_method=pm_card_visa
 *                (what Stripe.js does in the shopper's browser; the stand-in then sends the signed
 *                payment_intent.succeeded event to the API's webhook)
 *   paid_wait    GET  /api/v1/orders/{id} every 100 ms until `paid`; after 10 s it counts as `not_paid`
 *                (a wait, not a request: each of its reads is recorded as `order_poll`)
 *
 * Every step is recorded under its own name with its latency, status (with the API's error code) and
 * the database round trips the Worker counted (Server-Timing; paid_wait: summed over its polls). A 409
 * `insufficient_stock` at cart_put or checkout is an expected outcome, not an error: demo stock runs
 * out under load. Products are drawn from all 10,000 (1,000–5,000 in stock each), so it is rare; the
 * Locust user and the bench's order phase buy from the same stock, mostly products 1..100. When checkout
 * names lines without stock, the user removes them (`cart_remove`), so its next purchase starts clean.
 *
 * A purchase is *completed* when paid_wait saw `paid`; flows completed per second is the storefront's
 * throughput. Each user has its own account, and an account has one open cart: at most 1,000 users.
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { readDevVars } from "../scripts/lib/dev-vars";
import { NUMBERED_USERS, PRODUCT_COUNT, numberedUser, randomInt } from "./demo";
import { logIn } from "./login";
import { Recorder, percentile, round, type EndpointSummary, type TimelinePoint } from "./recorder";
import { apiHeaders, errorCode, RecordingClient, type Reply } from "./recording-client";
import { runVirtualUsers, type VirtualUsersOptions } from "./virtual-users";

export const STOREFRONT_STEPS = [
  "login",
  "browse",
  "product",
  "cart_create",
  "cart_put",
  "cart_get",
  "checkout",
  "pay",
  "paid_wait",
  "order_poll",
  "cart_remove",
] as const;
export type StorefrontStep = (typeof STOREFRONT_STEPS)[number];
export const STOREFRONT_STEP_LABELS: Record<StorefrontStep, string> = {
  login: "POST /api/v1/auth/login",
  browse: "GET /api/v1/products?page=1..10",
  product: "GET /api/v1/products/{id}",
  cart_create: "POST /api/v1/carts",
  cart_put: "PUT /api/v1/carts/{id}/items/{product_id}",
  cart_get: "GET /api/v1/carts/{id}",
  checkout: "POST /api/v1/carts/{id}/checkout",
  pay: "POST {stripe}/v1/payment_intents/{id}/confirm",
  paid_wait: "GET /api/v1/orders/{id} until paid",
  order_poll: "GET /api/v1/orders/{id}",
  cart_remove: "DELETE /api/v1/carts/{id}/items/{product_id}",
};

/** The error code that is an expected outcome at cart_put and checkout. */
export const INSUFFICIENT_STOCK = "insufficient_stock";
/** How often paid_wait asks, and when it gives up. */
export const PAID_POLL_MS = 100;
export const PAID_TIMEOUT_MS = 10_000;

/** Where the shopper's browser confirms payments: Stripe's API (locally the stand-in) and the key. */
export interface StripeEndpoint {
  apiBase: string;
  secretKey: string;
}

/** The stand-in's defaults (docs/api.md, "Locally"). */
export const DEFAULT_STRIPE_API_BASE = "http://127.0.0.1:12111";
export const DEFAULT_STRIPE_SECRET_KEY = "sk_test_tenpo_local";

/**
 * STRIPE_API_BASE and STRIPE_SECRET_KEY from the environment, else from `.dev.vars` at the repository's
 * root, else the local stand-in's defaults. Against a deployed staging Worker, Stripe's own test mode
 * works the same way: `STRIPE_API_BASE=https://api.stripe.com STRIPE_SECRET_KEY=sk_test_…`.
 */
export function stripeEndpoint(
  env: Record<string, string | undefined> = process.env,
  root: string = fileURLToPath(new URL("..", import.meta.url)),
): StripeEndpoint {
  const devVars = existsSync(join(root, ".dev.vars")) ? readDevVars(root) : {};
  const apiBase = env.STRIPE_API_BASE || devVars.STRIPE_API_BASE || DEFAULT_STRIPE_API_BASE;
  return {
    apiBase: apiBase.replace(/\/+$/, ""),
    secretKey: env.STRIPE_SECRET_KEY || devVars.STRIPE_SECRET_KEY || DEFAULT_STRIPE_SECRET_KEY,
  };
}

export interface StorefrontOptions extends VirtualUsersOptions {
  /** The API's base URL, e.g. http://127.0.0.1:8787 */
  target: string;
  stripe: StripeEndpoint;
}

/** What the purchases came to. */
export interface FlowSummary {
  /** Purchases begun (a browse sent). */
  started: number;
  /** Checkouts answered 201: orders waiting for their payment. */
  checked_out: number;
  /** Confirmations Stripe answered with a succeeded PaymentIntent. */
  payments_confirmed: number;
  /** paid_wait saw `paid`: browse → paid done. */
  completed: number;
  /** Completed per second over the run's window. */
  completed_per_s: number;
  /** paid_wait gave up after 10 s without seeing `paid`. */
  not_paid: number;
  /** Purchases that ended early at a step (an error, or no line could be added), by step. */
  ended_at: Record<string, number>;
  /** 409 insufficient_stock, where, and as a share of that step's responses. */
  insufficient_stock: { cart_put: number; checkout: number; cart_put_rate: number | null; checkout_rate: number | null };
  /** Browse → paid of the completed purchases, ms. */
  duration_ms: { p50: number; p95: number; p99: number } | null;
  /** Order reads paid_wait sent per payment it waited for. */
  polls_per_wait: number | null;
}

export interface StorefrontResult {
  scenario: "storefront";
  target: string;
  stripe_api_base: string;
  users: number;
  spawn_rate: number;
  duration_s: number;
  started_at: string;
  /** Seconds from the first user's start until the last request ended (the req/s denominator). */
  window_s: number;
  users_started: number;
  logins_failed: number;
  endpoints: EndpointSummary[];
  overall: EndpointSummary;
  catalog_hit_ratio: { ratio: number | null; counted: number; without_header: number };
  flows: FlowSummary;
  timeline: TimelinePoint[];
}

/** A purchase stopped at `step`: why the loop starts over. */
class FlowEnded extends Error {
  constructor(readonly step: string) {
    super(`purchase ended at ${step}`);
  }
}

/** The storefront's recorder: browse and product are catalog reads; paid_wait is a wait made of order_poll requests. */
export function storefrontRecorder(): Recorder {
  return new Recorder(new Set(["browse", "product"]), new Set(["paid_wait"]));
}

export async function runStorefront(opts: StorefrontOptions): Promise<StorefrontResult> {
  if (opts.users > NUMBERED_USERS) {
    throw new Error(`the storefront user needs an account of its own (one open cart each): at most ${NUMBERED_USERS} users`);
  }
  const recorder = storefrontRecorder();
  const stop = new AbortController();
  const api = new RecordingClient(opts.target, opts.users, recorder, stop.signal);
  const stripe = new RecordingClient(opts.stripe.apiBase, opts.users, recorder, stop.signal);
  let loginsFailed = 0;
  const flows = { started: 0, checkedOut: 0, confirmed: 0, completed: 0, notPaid: 0, polls: 0, waits: 0 };
  const endedAt: Record<string, number> = {};
  const shortOfStock = { cart_put: 0, checkout: 0 };
  const durations: number[] = [];

  /** 409 insufficient_stock is expected at these steps; every other error code is recorded as such. */
  const outcome =
    (expectStock: boolean) =>
    (reply: Reply): { code?: string; expected?: boolean } => {
      if (reply.status < 400) return {};
      const code = errorCode(reply);
      return { code, expected: expectStock && reply.status === 409 && code === INSUFFICIENT_STOCK };
    };
  const send = (step: StorefrontStep, method: "GET" | "POST" | "PUT" | "DELETE", path: string, token: string, body?: unknown) =>
    api.request(step, {
      method,
      path,
      headers: apiHeaders(token, body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
      read: true,
      details: outcome(step === "cart_put" || step === "checkout"),
    });
  /** The purchase goes on when the reply's status is one of `statuses`, and ends at `step` otherwise. */
  const expect = (reply: Reply | null, step: StorefrontStep, ...statuses: number[]): Reply => {
    if (!reply || !statuses.includes(reply.status)) throw new FlowEnded(step);
    return reply;
  };
  /** As `expect`, and the reply's JSON body (a body that is not JSON ends the purchase too). */
  const ok = <T>(reply: Reply | null, step: StorefrontStep, ...statuses: number[]): T => {
    const answered = expect(reply, step, ...statuses);
    try {
      return JSON.parse(answered.text) as T;
    } catch {
      throw new FlowEnded(step);
    }
  };

  async function purchase(token: string): Promise<void> {
    const begin = performance.now();
    flows.started += 1;
    expect(await send("browse", "GET", `/api/v1/products?page=${randomInt(1, 10)}`, token), "browse", 200);
    const products = twoProducts();
    for (const id of products) expect(await send("product", "GET", `/api/v1/products/${id}`, token), "product", 200);

    const cart = ok<{ id: string; item_count: number }>(await send("cart_create", "POST", "/api/v1/carts", token), "cart_create", 200, 201);
    let itemCount = cart.item_count;
    for (const id of products) {
      const reply = await send("cart_put", "PUT", `/api/v1/carts/${cart.id}/items/${id}`, token, { quantity: 1 });
      if (reply?.status === 409 && errorCode(reply) === INSUFFICIENT_STOCK) shortOfStock.cart_put += 1;
      else itemCount = ok<{ item_count: number }>(reply, "cart_put", 200).item_count;
    }
    if (itemCount === 0) throw new FlowEnded("cart_put");
    expect(await send("cart_get", "GET", `/api/v1/carts/${cart.id}`, token), "cart_get", 200);

    const checkoutReply = await api.request("checkout", {
      method: "POST",
      path: `/api/v1/carts/${cart.id}/checkout`,
      headers: { ...apiHeaders(token, false), "idempotency-key": `storefront-${randomUUID()}` },
      read: true,
      details: outcome(true),
    });
    if (checkoutReply?.status === 409 && errorCode(checkoutReply) === INSUFFICIENT_STOCK) {
      shortOfStock.checkout += 1;
      await removeShortLines(token, cart.id, checkoutReply);
      throw new FlowEnded("checkout");
    }
    const order = ok<{ id: number; payment?: { payment_intent_id?: string } | null }>(checkoutReply, "checkout", 201);
    flows.checkedOut += 1;
    const intent = order.payment?.payment_intent_id;
    if (!intent) throw new FlowEnded("checkout");

    const paid = await stripe.request("pay", {
      method: "POST",
      path: `/v1/payment_intents/${encodeURIComponent(intent)}/confirm`,
      headers: {
        authorization: `Bearer ${opts.stripe.secretKey}`,
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
      },
      body: new URLSearchParams({ payment_method: "pm_card_visa" }).toString(),
      read: true,
      details: (reply) => (reply.status < 400 ? {} : { code: stripeErrorCode(reply) }),
    });
    if (ok<{ status?: string }>(paid, "pay", 200).status !== "succeeded") throw new FlowEnded("pay");
    flows.confirmed += 1;

    if (await waitUntilPaid(token, order.id)) {
      flows.completed += 1;
      durations.push(performance.now() - begin);
    }
  }

  /** Polls the order until `paid`; records one paid_wait (or not_paid) with the polls' round trips summed. */
  async function waitUntilPaid(token: string, orderId: number): Promise<boolean> {
    const begin = performance.now();
    let rounds: number | null = 0;
    let polls = 0;
    while (!stop.signal.aborted) {
      const reply = await api.request("order_poll", {
        method: "GET",
        path: `/api/v1/orders/${orderId}`,
        headers: apiHeaders(token, false),
        read: true,
      });
      polls += 1;
      // One poll without a count makes the sum unknown.
      rounds = rounds === null || !reply || reply.dbRoundTrips === null ? null : rounds + reply.dbRoundTrips;
      const status = reply?.status === 200 ? orderStatus(reply) : undefined;
      const elapsed = performance.now() - begin;
      if (status === "paid" || elapsed >= PAID_TIMEOUT_MS) {
        const isPaid = status === "paid";
        if (!isPaid) flows.notPaid += 1;
        flows.polls += polls;
        flows.waits += 1;
        recorder.record("paid_wait", isPaid ? 200 : "not_paid", elapsed, undefined, { dbRoundTrips: rounds });
        return isPaid;
      }
      await sleep(PAID_POLL_MS, undefined, { signal: stop.signal }).catch(() => {});
    }
    // The run ended while waiting: neither paid nor given up on.
    return false;
  }

  /** Checkout named the lines without stock: take them out of the cart (best effort). */
  async function removeShortLines(token: string, cartId: string, reply: Reply): Promise<void> {
    let details: Array<{ product_id?: unknown }> = [];
    try {
      details = (JSON.parse(reply.text) as { error?: { details?: Array<{ product_id?: unknown }> } }).error?.details ?? [];
    } catch {
      // Not JSON: nothing to remove.
    }
    for (const line of details) {
      if (typeof line.product_id !== "number" || stop.signal.aborted) continue;
      await send("cart_remove", "DELETE", `/api/v1/carts/${cartId}/items/${line.product_id}`, token);
    }
  }

  async function user(index: number): Promise<void> {
    const token = await logIn(api, numberedUser(index));
    if (token === undefined) {
      // Nothing a shopper without an account can buy here: this user stops.
      loginsFailed += 1;
      return;
    }
    while (!stop.signal.aborted) {
      try {
        await purchase(token);
      } catch (err) {
        // A FlowEnded names its step; anything else is this tool's bug, counted rather than lost.
        const step = err instanceof FlowEnded ? err.step : `exception: ${err instanceof Error ? err.message : String(err)}`;
        if (!stop.signal.aborted) endedAt[step] = (endedAt[step] ?? 0) + 1;
      }
    }
  }

  const run = await runVirtualUsers(opts, {
    recorder,
    stop,
    user,
    destroy: async () => {
      await Promise.all([api.destroy(), stripe.destroy()]);
    },
    close: async () => {
      await Promise.all([api.close(), stripe.close()]);
    },
    progressNote: () => `${flows.completed} purchases paid`,
  });
  const endpoints = recorder.summary(run.windowS, STOREFRONT_STEPS);
  const responses = (step: StorefrontStep): number => endpoints.find((e) => e.endpoint === step)?.requests ?? 0;
  const rate = (n: number, of: number): number | null => (of > 0 ? round(n / of, 4) : null);
  const sorted = Float64Array.from(durations).sort();
  return {
    scenario: "storefront",
    target: opts.target,
    stripe_api_base: opts.stripe.apiBase,
    users: opts.users,
    spawn_rate: opts.spawnRate,
    duration_s: opts.durationS,
    started_at: run.startedAt.toISOString(),
    window_s: run.windowS,
    users_started: run.usersStarted,
    logins_failed: loginsFailed,
    endpoints,
    overall: recorder.overall(run.windowS),
    catalog_hit_ratio: recorder.catalogHitRatio(),
    flows: {
      started: flows.started,
      checked_out: flows.checkedOut,
      payments_confirmed: flows.confirmed,
      completed: flows.completed,
      completed_per_s: run.windowS > 0 ? round(flows.completed / run.windowS, 2) : 0,
      not_paid: flows.notPaid,
      ended_at: endedAt,
      insufficient_stock: {
        cart_put: shortOfStock.cart_put,
        checkout: shortOfStock.checkout,
        cart_put_rate: rate(shortOfStock.cart_put, responses("cart_put")),
        checkout_rate: rate(shortOfStock.checkout, responses("checkout")),
      },
      duration_ms: sorted.length
        ? { p50: round(percentile(sorted, 50)), p95: round(percentile(sorted, 95)), p99: round(percentile(sorted, 99)) }
        : null,
      polls_per_wait: flows.waits > 0 ? round(flows.polls / flows.waits, 2) : null,
    },
    timeline: recorder.timeline(),
  };
}

/** Two distinct demo products at random among all of them: stock of any one runs out rarely. */
function twoProducts(): [number, number] {
  const a = randomInt(1, PRODUCT_COUNT);
  let b = randomInt(1, PRODUCT_COUNT - 1);
  if (b >= a) b += 1;
  return [a, b];
}

/** An order body's `status`, or undefined when the body is not an order. */
function orderStatus(reply: Reply): string | undefined {
  try {
    const status = (JSON.parse(reply.text) as { status?: unknown }).status;
    return typeof status === "string" ? status : undefined;
  } catch {
    return undefined;
  }
}

/** Stripe's error shape: `{"error": {"type", "code"?, "decline_code"?, "message"}}`. */
function stripeErrorCode(reply: Reply): string | undefined {
  try {
    const error = (JSON.parse(reply.text) as { error?: { code?: unknown; type?: unknown } }).error;
    const code = error?.code ?? error?.type;
    return typeof code === "string" ? code : undefined;
  } catch {
    return undefined;
  }
}
