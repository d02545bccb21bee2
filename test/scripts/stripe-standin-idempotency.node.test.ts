/**
 * Specification of the stand-in's Idempotency-Key store (scripts/stripe-standin/idempotency.ts) over
 * time, with a clock of the test's own: the requests through the SDK (test/scripts/stripe-standin.test.ts)
 * cannot wait 24 hours.
 */
import { describe, expect, it } from "vitest";
import { StripeFailure } from "../../scripts/stripe-standin/errors";
import { IDEMPOTENCY_TTL_MS, IdempotencyKeys } from "../../scripts/stripe-standin/idempotency";

const answer = { status: 200, body: '{"id":"pi_1"}', requestId: "req_1" };

function store(): { keys: IdempotencyKeys; advance: (ms: number) => void } {
  let now = 1_000_000;
  return { keys: new IdempotencyKeys(() => now), advance: (ms) => (now += ms) };
}

describe("Idempotency-Key store", () => {
  it("replays a key's answer for 24 hours, then forgets it", () => {
    const { keys, advance } = store();
    keys.save("sk_test_a", "k", "POST /v1/payment_intents", "{}", answer);
    advance(IDEMPOTENCY_TTL_MS - 1);
    expect(keys.replay("sk_test_a", "k", "POST /v1/payment_intents", "{}")).toMatchObject(answer);
    advance(1);
    expect(keys.replay("sk_test_a", "k", "POST /v1/payment_intents", "{}")).toBeUndefined();
  });

  it("keeps keys per API key", () => {
    const { keys } = store();
    keys.save("sk_test_a", "k", "POST /v1/payment_intents", "{}", answer);
    expect(keys.replay("sk_test_b", "k", "POST /v1/payment_intents", "{}")).toBeUndefined();
  });

  it("refuses a key reused on another endpoint or with other parameters (400 idempotency_error)", () => {
    const { keys } = store();
    keys.save("sk_test_a", "k", "POST /v1/payment_intents", '{"amount":"1"}', answer);
    for (const [endpoint, params] of [
      ["POST /v1/refunds", '{"amount":"1"}'],
      ["POST /v1/payment_intents", '{"amount":"2"}'],
    ] as const) {
      let thrown: unknown;
      try {
        keys.replay("sk_test_a", "k", endpoint, params);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(StripeFailure);
      expect(thrown).toMatchObject({ status: 400, body: { type: "idempotency_error" } });
    }
  });

  it("refuses a key longer than 255 characters", () => {
    const { keys } = store();
    expect(() => keys.replay("sk_test_a", "k".repeat(256), "POST /v1/refunds", "{}")).toThrow(/at most 255/);
  });
});
