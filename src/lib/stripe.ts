import type Stripe from "stripe";

/**
 * How the Worker reaches Stripe: the official SDK, configured for Workers (fetch for HTTP, Web Crypto
 * for webhook signatures). Deployed, STRIPE_API_BASE is empty and the SDK talks to api.stripe.com;
 * locally it points at scripts/stripe-standin.ts, which speaks the same protocol.
 *
 * Nothing of the SDK runs at the Worker's start: its module (a quarter of the bundle, ~240 KB
 * minified, whose top level defines some 300 resource classes) is imported on first use, which the
 * bundler keeps lazy, so a cold start that serves a catalog read does not evaluate it
 * (`npm run startup` measures the start). The first `stripeClient` or `verifyStripeEvent` of an
 * isolate loads it; a client (which builds its 75 resource objects) is then kept for the isolate.
 * Only this file may import the SDK as a value: a static import anywhere else would evaluate it at
 * start again (type imports are erased and cost nothing).
 */

/**
 * How long one attempt may take. Stripe answers a PaymentIntent or a refund in well under a second
 * (a few seconds at its slowest); the SDK's default of 80 s would hold a checkout, and the customer
 * waiting on it, for longer than anyone waits. 8 s is several times Stripe's slow case, and with one
 * retry (below) the worst case stays under 20 s.
 */
const TIMEOUT_MS = 8_000;

/**
 * Retries after a network failure, a 409 or a 5xx. Safe: the SDK resends a POST with the same
 * Idempotency-Key (its own, or the one a caller passes), so Stripe runs it at most once and answers a
 * retry with the first answer. One is enough to ride over a dropped connection or one bad node; beyond
 * that Stripe is having an incident, and the caller (who can retry with its own key) learns it sooner.
 */
const MAX_NETWORK_RETRIES = 1;

/** How old a webhook's signature may be (Stripe's own default, and docs/api.md's "at most 300 s old"). */
const SIGNATURE_TOLERANCE_S = 300;

/** A deployment has one key and one base; tests point single requests at a few others. */
const MAX_CLIENTS = 8;
const clients = new Map<string, Stripe>();
let cryptoProvider: Stripe.CryptoProvider | undefined;
let sdk: Promise<typeof Stripe> | undefined;

/** The SDK's module, imported once per isolate on first use (see above). */
function loadSdk(): Promise<typeof Stripe> {
  sdk ??= import("stripe").then((module) => module.default);
  return sdk;
}

/**
 * The Stripe client for this env's key and base (STRIPE_API_BASE empty: api.stripe.com), one per
 * (key, base) per isolate. Pass an `idempotencyKey` of your own on every POST (e.g. derived from the
 * order), so a retry of yours is deduplicated by Stripe the way the SDK's own retries are.
 */
export async function stripeClient(env: Pick<Env, "STRIPE_SECRET_KEY" | "STRIPE_API_BASE">): Promise<Stripe> {
  if (!env.STRIPE_SECRET_KEY) throw new Error("STRIPE_SECRET_KEY is not configured");
  const base = env.STRIPE_API_BASE ?? "";
  const key = `${env.STRIPE_SECRET_KEY}\u0000${base}`;
  let client = clients.get(key);
  if (!client) {
    const Stripe = await loadSdk();
    // Another request of the isolate may have made it while the module loaded.
    client = clients.get(key);
    if (client) return client;
    if (clients.size >= MAX_CLIENTS) clients.clear();
    client = new Stripe(env.STRIPE_SECRET_KEY, {
      // Pinned to the version this SDK release is written for: its types describe exactly those
      // objects, whatever default version the Stripe account has. Webhook endpoints must be created
      // with the same version, so that events arrive in the shape the types (and our code) expect.
      apiVersion: Stripe.API_VERSION,
      httpClient: Stripe.createFetchHttpClient(),
      timeout: TIMEOUT_MS,
      maxNetworkRetries: MAX_NETWORK_RETRIES,
      ...apiBase(base),
    });
    clients.set(key, client);
  }
  return client;
}

/** The SDK's host, port and protocol for a non-empty STRIPE_API_BASE (an origin such as http://127.0.0.1:12111). */
function apiBase(base: string): { host?: string; port?: string; protocol?: "http" | "https" } {
  if (base === "") return {};
  const url = new URL(base);
  if ((url.protocol !== "http:" && url.protocol !== "https:") || (url.pathname !== "/" && url.pathname !== "") || url.search) {
    throw new Error(`STRIPE_API_BASE must be an http(s) origin such as http://127.0.0.1:12111, not ${base}`);
  }
  const protocol = url.protocol === "http:" ? "http" : "https";
  return { host: url.hostname, port: url.port || (protocol === "http" ? "80" : "443"), protocol };
}

/**
 * The event in a webhook request, when its `Stripe-Signature` header is Stripe's signature of exactly
 * `rawBody` with STRIPE_WEBHOOK_SECRET, made at most 300 s ago; null (never a throw) when the header
 * is missing or malformed, the signature does not match, it is older than that, no secret is
 * configured, or the body is not an event. Pass the body as received, before any JSON parsing.
 */
export async function verifyStripeEvent(
  env: Pick<Env, "STRIPE_WEBHOOK_SECRET">,
  rawBody: string,
  signature: string | undefined,
): Promise<Stripe.Event | null> {
  if (!signature || !env.STRIPE_WEBHOOK_SECRET) return null;
  const Stripe = await loadSdk();
  cryptoProvider ??= Stripe.createSubtleCryptoProvider();
  let event: unknown;
  try {
    event = await Stripe.webhooks.constructEventAsync(rawBody, signature, env.STRIPE_WEBHOOK_SECRET, SIGNATURE_TOLERANCE_S, cryptoProvider);
  } catch {
    // A wrong, stale or malformed signature (StripeSignatureVerificationError), or a signed body that is not JSON.
    return null;
  }
  return isEvent(event) ? event : null;
}

/** The fields every Stripe event has and a handler reads: a body that lacks them is not an event. */
function isEvent(value: unknown): value is Stripe.Event {
  if (typeof value !== "object" || value === null) return false;
  const event = value as Record<string, unknown>;
  const data = event.data as Record<string, unknown> | null | undefined;
  return (
    event.object === "event" &&
    typeof event.id === "string" &&
    typeof event.type === "string" &&
    typeof data === "object" &&
    data !== null &&
    typeof data.object === "object" &&
    data.object !== null
  );
}
