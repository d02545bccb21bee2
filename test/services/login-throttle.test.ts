/**
 * Specification of src/services/login-throttle.ts beyond what the login route shows: which client a
 * failure is counted against, and that a Redis that never answers cannot hold a login up.
 */
import { env } from "cloudflare:test";
import type { Redis } from "@upstash/redis/cloudflare";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createRedis } from "../../src/cache/redis";
import {
  ACCOUNT_FAILURES_PER_WINDOW,
  CLIENT_FAILURES_PER_WINDOW,
  LoginThrottle,
  THROTTLE_KEY_PREFIX,
  clientKeyFor,
} from "../../src/services/login-throttle";

afterEach(() => {
  vi.restoreAllMocks();
});

const uniqueEmail = () => `throttle-${crypto.randomUUID()}@example.com`;
// Other test files share Redis: every test counts against clients of its own.
const uniqueClient = () => `test-client-${crypto.randomUUID()}`;

describe("limits", () => {
  it("stay within the contract: 5..20 failures per account, at least 100 per client, per 15 minutes", () => {
    expect(ACCOUNT_FAILURES_PER_WINDOW).toBeGreaterThanOrEqual(5);
    expect(ACCOUNT_FAILURES_PER_WINDOW).toBeLessThanOrEqual(20);
    expect(CLIENT_FAILURES_PER_WINDOW).toBeGreaterThanOrEqual(100);
  });
});

describe("clientKeyFor", () => {
  it.each([
    ["203.0.113.7", "203.0.113.7"],
    [" 203.0.113.7 ", "203.0.113.7"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:DB8:0001:0002::9", "2001:db8:1:2::/64"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["::ffff:203.0.113.7", "::ffff:203.0.113.7"],
  ])("counts %j as %j", (header, key) => {
    expect(clientKeyFor(header)).toBe(key);
  });

  it("counts the addresses of one IPv6 /64 as one client", () => {
    expect(clientKeyFor("2001:db8:aa:bb:1::1")).toBe(clientKeyFor("2001:db8:aa:bb:ffff:ffff:ffff:ffff"));
    expect(clientKeyFor("2001:db8:aa:bb::1")).not.toBe(clientKeyFor("2001:db8:aa:bc::1"));
  });

  it.each([[undefined], [""], ["not an ip"], ["1.2.3"], ["1:2:3"], ["x".repeat(1000)], ["1::2::3"], ["1:2:3:4:5:6:7:8:9"], ["::1:2:3:4:5:6:7:8"], ["12345::1"]])(
    "counts a missing or unusable header (%j) as unknown",
    (header) => {
      expect(clientKeyFor(header)).toBe("unknown");
    },
  );
});

describe("LoginThrottle against Redis", () => {
  it("refuses only once the account has used up its failures, and says for how long", async () => {
    const throttle = new LoginThrottle(createRedis(env));
    const attempt = { email: uniqueEmail(), client: uniqueClient() };
    for (let i = 0; i < ACCOUNT_FAILURES_PER_WINDOW; i++) {
      expect(await throttle.retryAfterSeconds(attempt)).toBeNull();
      await throttle.recordFailure(attempt);
    }
    const wait = await throttle.retryAfterSeconds(attempt);
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(15 * 60);
  });

  it("counts an account by its email in any case", async () => {
    const throttle = new LoginThrottle(createRedis(env));
    const email = uniqueEmail();
    for (let i = 0; i < ACCOUNT_FAILURES_PER_WINDOW; i++) await throttle.recordFailure({ email, client: uniqueClient() });
    expect(await throttle.retryAfterSeconds({ email: email.toUpperCase(), client: uniqueClient() })).not.toBeNull();
  });

  it("keeps email addresses out of Redis keys", async () => {
    const redis = createRedis(env);
    const email = uniqueEmail();
    await new LoginThrottle(redis).recordFailure({ email, client: uniqueClient() });
    expect(await redis.keys(`${THROTTLE_KEY_PREFIX}*${email}*`)).toEqual([]);
  });
});

describe("LoginThrottle when Redis does not answer", () => {
  /** A Redis whose script commands (all the limiter sends) do what `answer` says. */
  const redisAnswering = (answer: () => Promise<unknown>) =>
    ({ evalsha: answer, eval: answer }) as unknown as Redis;

  it("lets the attempt through after its timeout instead of hanging", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const throttle = new LoginThrottle(redisAnswering(() => new Promise(() => {})), 50);
    const started = Date.now();
    expect(await throttle.retryAfterSeconds({ email: uniqueEmail(), client: uniqueClient() })).toBeNull();
    await throttle.recordFailure({ email: uniqueEmail(), client: uniqueClient() });
    expect(Date.now() - started).toBeLessThan(1000);
    // One line per isolate and minute, however many calls failed.
    expect(warn).toHaveBeenCalledTimes(1);
    expect(JSON.parse(String(warn.mock.calls[0]![0]))).toMatchObject({
      level: "warn",
      msg: "login throttle unavailable; letting the login proceed",
      operation: "check",
    });
  });

  it("lets the attempt through when Redis answers with errors", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const throttle = new LoginThrottle(redisAnswering(() => Promise.reject(new Error("ERR boom"))), 50);
    expect(await throttle.retryAfterSeconds({ email: uniqueEmail(), client: uniqueClient() })).toBeNull();
    await expect(throttle.recordFailure({ email: uniqueEmail(), client: uniqueClient() })).resolves.toBeUndefined();
  });
});
