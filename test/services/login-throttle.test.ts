/**
 * Specification of src/services/login-throttle.ts beyond what the login route shows (test/routes/auth.test.ts):
 * what it keeps in its Redis, against the real throttle Redis of this run. Each test has a THROTTLE_NAMESPACE
 * of its own, so it can list its keys.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createRedis } from "../../src/cache/redis";
import { createLoginThrottle, type LoginAttempt } from "../../src/services/login-throttle";
import { accountKeyFor } from "../../src/services/throttle-keys";
import { FAMILIAR_TTL_SECONDS, PAIR_FAILURES_PER_WINDOW } from "../../src/services/throttle-policy";
import type { ApiError } from "../../src/errors";

const throttleRedis = createRedis({
  UPSTASH_REDIS_REST_URL: env.THROTTLE_REDIS_REST_URL,
  UPSTASH_REDIS_REST_TOKEN: env.THROTTLE_REDIS_REST_TOKEN,
});

function newThrottle() {
  const namespace = `${env.THROTTLE_NAMESPACE}svc-${crypto.randomUUID()}:`;
  return { namespace, throttle: createLoginThrottle({ ...env, THROTTLE_NAMESPACE: namespace }) };
}

const attempt = (): LoginAttempt => ({
  email: `throttle-${crypto.randomUUID()}@example.com`,
  client: `203.0.113.${Math.floor(Math.random() * 250)}`,
});

async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await throttleRedis.scan(cursor, { match: `${prefix}*`, count: 1000 });
    keys.push(...batch);
    cursor = String(next);
  } while (cursor !== "0");
  return keys;
}

/** The status a throttle step answered with: the 429 it threw, or "allowed". */
async function outcome(step: Promise<unknown>): Promise<number | "allowed"> {
  try {
    await step;
    return "allowed";
  } catch (err) {
    return (err as ApiError).status;
  }
}

describe("LoginThrottle's keys in its Redis", () => {
  it("name accounts by a digest, never by their email, all under the throttle's namespace", async () => {
    const { namespace, throttle } = newThrottle();
    const who = attempt();
    const digest = await accountKeyFor(who.email);
    await (await throttle.begin(who)).failed();
    const keys = await keysUnder(namespace);
    expect(keys.length).toBe(3); // the pair, the account, the client
    expect(keys.filter((key) => key.includes(digest))).toHaveLength(2);
    for (const key of keys) expect(key).not.toContain(who.email.split("@")[0]!);
  });

  it("remember a client after a successful login for 30 days, and write that once however many logins follow", async () => {
    const { namespace, throttle } = newThrottle();
    const who = attempt();
    await (await throttle.begin(who)).succeeded();
    const [familiar] = (await keysUnder(`${namespace}login:familiar:`)) as [string];
    expect(familiar).toBeDefined();
    const ttl = await throttleRedis.ttl(familiar);
    expect(ttl).toBeGreaterThan(FAMILIAR_TTL_SECONDS - 60);
    expect(ttl).toBeLessThanOrEqual(FAMILIAR_TTL_SECONDS);
    const written = await throttleRedis.get(familiar);
    for (let i = 0; i < 3; i++) await (await throttle.begin(who)).succeeded();
    expect(await throttleRedis.get(familiar)).toBe(written);
  });

  it("count nothing for a right password: the pair's budget is whole after any number of successes", async () => {
    const { throttle } = newThrottle();
    const who = attempt();
    for (let i = 0; i < 20; i++) await (await throttle.begin(who)).succeeded();
    const outcomes: Array<number | "allowed"> = [];
    for (let i = 0; i <= PAIR_FAILURES_PER_WINDOW; i++) outcomes.push(await outcome(throttle.begin(who).then((check) => check.failed())));
    expect(outcomes).toEqual([...Array(PAIR_FAILURES_PER_WINDOW).fill("allowed"), 429]);
  });
});
