/**
 * Specification of src/services/register-throttle.ts beyond what the register route shows
 * (test/routes/auth.test.ts): the hourly volume and the order in which the counters count, on throttles
 * with smaller limits than the app's (the counting is the same), against the real throttle Redis.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ApiError } from "../../src/errors";
import { RegisterThrottle, type RegisterLimits } from "../../src/services/register-throttle";
import { ThrottleStore } from "../../src/services/throttle-store";
import { withinOneWindow } from "../support/windows";

const client = () => `203.0.113.${Math.floor(Math.random() * 250)}`;

/** A throttle with these limits, on counters of its own, or on those of `namespace`. */
function throttleWith(limits: RegisterLimits, namespace = `${env.THROTTLE_NAMESPACE}reg-${crypto.randomUUID()}:`) {
  const throttle = new RegisterThrottle(
    new ThrottleStore({ ...env, THROTTLE_NAMESPACE: namespace }),
    env.REGISTER_FALLBACK_LIMITER,
    limits,
  );
  return Object.assign(throttle, { namespace });
}

/** "allowed", or the status and Retry-After of the error thrown. */
async function outcome(step: Promise<unknown>): Promise<string> {
  try {
    await step;
    return "allowed";
  } catch (err) {
    const error = err as ApiError;
    return `${error.status} ${error.code}`;
  }
}

describe("RegisterThrottle", () => {
  it("refuses a client past its hourly volume, with a Retry-After within the hour", async () => {
    const throttle = throttleWith({ perMinute: 100, perHour: 3, takenPerWindow: 20 });
    const who = client();
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) outcomes.push(await outcome(throttle.begin(who)));
    expect(outcomes).toEqual(["allowed", "allowed", "allowed", "429 rate_limited"]);
    const refused = await throttle.begin(who).catch((err: ApiError) => err);
    const retryAfter = Number((refused as ApiError).headers?.["Retry-After"]);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(3600);
  });

  it("counts the hour only for attempts the minute admitted: a refused burst does not use up the hour", async () => {
    const throttle = throttleWith({ perMinute: 2, perHour: 3, takenPerWindow: 20 });
    const who = client();
    await withinOneWindow(60_000, 5_000);
    const burst = await Promise.all(Array.from({ length: 10 }, () => outcome(throttle.begin(who))));
    expect(burst.sort()).toEqual([...Array(8).fill("429 rate_limited"), "allowed", "allowed"]);
    // The hour has counted 2, not 10: a larger minute now lets the one left through.
    const later = throttleWith({ perMinute: 100, perHour: 3, takenPerWindow: 20 }, throttle.namespace);
    expect(await outcome(later.begin(who))).toBe("allowed");
    expect(await outcome(later.begin(who))).toBe("429 rate_limited");
  });

  it("refuses a client that used up its taken answers before counting anything else", async () => {
    const throttle = throttleWith({ perMinute: 100, perHour: 100, takenPerWindow: 2 });
    const who = client();
    const answers: string[] = [];
    for (let i = 0; i < 3; i++) answers.push(await outcome(throttle.begin(who).then((check) => check.taken())));
    expect(answers).toEqual(["allowed", "allowed", "429 rate_limited"]);
    expect(await outcome(throttle.begin(who))).toBe("429 rate_limited");
    // Another client is not affected.
    expect(await outcome(throttle.begin(client()))).toBe("allowed");
  });
});
