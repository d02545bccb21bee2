/**
 * Specification of src/lib/stripe.ts: `verifyStripeEvent` accepts exactly what Stripe signs and answers
 * null (never a throw) for everything else; `stripeClient` keeps one client per key and base. The
 * signatures are made here, independently of the SDK and of the stand-in, the way Stripe documents them
 * (https://docs.stripe.com/webhooks#verify-manually).
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { stripeClient, verifyStripeEvent } from "../../src/lib/stripe";

const secret = "whsec_lib-test-secret";
const settings = { STRIPE_WEBHOOK_SECRET: secret };
const event = {
  id: "evt_lib_test",
  object: "event",
  api_version: "2026-10-28.endive",
  created: 1_700_000_000,
  data: { object: { id: "pi_lib_test", object: "payment_intent", status: "succeeded" } },
  livemode: false,
  pending_webhooks: 1,
  request: { id: "req_lib_test", idempotency_key: null },
  type: "payment_intent.succeeded",
};
const body = JSON.stringify(event, null, 2);

async function hmacHex(text: string, key = secret): Promise<string> {
  const k = await crypto.subtle.importKey("raw", new TextEncoder().encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(text));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const now = (): number => Math.floor(Date.now() / 1000);
const signed = async (payload: string, t = now()): Promise<string> => `t=${t},v1=${await hmacHex(`${t}.${payload}`)}`;

describe("verifyStripeEvent", () => {
  it("accepts a body signed now with the endpoint secret, and answers the event", async () => {
    expect(await verifyStripeEvent(settings, body, await signed(body))).toEqual(event);
  });

  it("accepts any one matching v1 among several (Stripe signs with each active secret while one is rolled)", async () => {
    const t = now();
    const header = `t=${t},v1=${"0".repeat(64)},v1=${await hmacHex(`${t}.${body}`)}`;
    expect(await verifyStripeEvent(settings, body, header)).not.toBeNull();
  });

  it.each<[string, string | undefined]>([
    ["no header", undefined],
    ["an empty header", ""],
    ["garbage", "garbage"],
    ["no timestamp", "v1=abcdef"],
    ["a timestamp but no signature", `t=${Math.floor(Date.now() / 1000)}`],
    ["a v1 that is not hex", `t=${Math.floor(Date.now() / 1000)},v1=not-hex`],
  ])("refuses %s", async (_, header) => {
    expect(await verifyStripeEvent(settings, body, header)).toBeNull();
  });

  it("refuses a header with only a v0 signature (the scheme Stripe no longer accepts)", async () => {
    const t = now();
    expect(await verifyStripeEvent(settings, body, `t=${t},v0=${await hmacHex(`${t}.${body}`)}`)).toBeNull();
  });

  it("refuses a signature older than 300 s, and a signature of another time", async () => {
    expect(await verifyStripeEvent(settings, body, await signed(body, now() - 301))).toBeNull();
    const t = now();
    expect(await verifyStripeEvent(settings, body, `t=${t - 1},v1=${await hmacHex(`${t}.${body}`)}`)).toBeNull();
  });

  it("refuses another secret's signature, and any secret when none is configured", async () => {
    const t = now();
    expect(await verifyStripeEvent(settings, body, `t=${t},v1=${await hmacHex(`${t}.${body}`, "whsec_other")}`)).toBeNull();
    expect(await verifyStripeEvent({ STRIPE_WEBHOOK_SECRET: "" }, body, await signed(body))).toBeNull();
  });

  it("refuses a body that is not the one signed (re-serialised JSON included)", async () => {
    const header = await signed(body);
    expect(await verifyStripeEvent(settings, JSON.stringify(event), header)).toBeNull();
    expect(await verifyStripeEvent(settings, `${body}\n`, header)).toBeNull();
  });

  it.each([
    ["not JSON", "not json at all"],
    ["JSON but not an object", "[1,2,3]"],
    ["an object that is not an event", JSON.stringify({ id: "pi_1", object: "payment_intent" })],
    ["an event without data.object", JSON.stringify({ ...event, data: {} })],
    ["an empty body", ""],
  ])("refuses a correctly signed body that is %s", async (_, payload) => {
    expect(await verifyStripeEvent(settings, payload, await signed(payload))).toBeNull();
  });
});

describe("stripeClient", () => {
  it("keeps one client per key and base", async () => {
    const client = await stripeClient(env);
    expect(await stripeClient({ STRIPE_SECRET_KEY: env.STRIPE_SECRET_KEY, STRIPE_API_BASE: env.STRIPE_API_BASE })).toBe(client);
    expect(await stripeClient({ ...env, STRIPE_SECRET_KEY: "sk_test_another" })).not.toBe(client);
    expect(await stripeClient({ ...env, STRIPE_API_BASE: "" })).not.toBe(client);
  });

  it("refuses a missing key and a base that is not an origin", async () => {
    await expect(stripeClient({ STRIPE_SECRET_KEY: "", STRIPE_API_BASE: "" })).rejects.toThrow(/STRIPE_SECRET_KEY/);
    await expect(stripeClient({ STRIPE_SECRET_KEY: "sk_test_x", STRIPE_API_BASE: "http://127.0.0.1:12111/v1" })).rejects.toThrow(/origin/);
    await expect(stripeClient({ STRIPE_SECRET_KEY: "sk_test_x", STRIPE_API_BASE: "ftp://127.0.0.1" })).rejects.toThrow(/origin/);
  });
});
