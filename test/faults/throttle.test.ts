import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BLOB_FIELDS } from "../../src/observability/data-point";
import {
  FALLBACK_RETRY_AFTER_SECONDS,
  LOGIN_FALLBACK_ATTEMPTS_PER_MINUTE,
  PAIR_FAILURES_PER_WINDOW,
  REGISTER_FALLBACK_ATTEMPTS_PER_MINUTE,
  THROTTLE_TIMEOUT_MS,
} from "../../src/services/throttle-policy";
import type { ErrorBody } from "../support/api";
import { registerUser, uniqueIp, type RegisteredUser } from "../support/accounts";
import { withinOneWindow } from "../support/windows";
import { CLOSED } from "../support/network";
import {
  capturingMetrics,
  clearFaults,
  clearThrottleRedisFault,
  expectServiceUnavailable,
  quietLogs,
  setThrottleRedisFault,
  timed,
} from "./support";

// The login and registration throttles when their own Redis fails (README "Failure modes"): they do not
// become unlimited. Each attempt is counted before the password is checked on the Workers Rate Limiting
// binding (per account for logins, per client for registrations), 429 past it; without the binding too,
// 503. Faults are real: the throttles' Upstash REST server, scoped to a THROTTLE_NAMESPACE of the test's
// own, or a port nothing listens on, or no URL at all.

afterEach(async () => {
  vi.restoreAllMocks();
  await clearFaults();
});

const json = (body: unknown, ip = uniqueIp()): RequestInit => ({
  method: "POST",
  headers: { "Content-Type": "application/json", "CF-Connecting-IP": ip },
  body: JSON.stringify(body),
});

/** A fresh account, registered while nothing fails. */
const newAccount = (): Promise<RegisteredUser> => registerUser({ tag: "throttle-fault" });

type Inject = (namespace: string) => Promise<Partial<Env>>;

/** Requests of this test's own: its throttle namespace (what faults are scoped to), its fault, its metrics. */
async function throttled(inject: Inject = async () => ({})) {
  const namespace = `${env.THROTTLE_NAMESPACE}fault-${crypto.randomUUID()}:`;
  const overrides = await inject(namespace);
  const metrics = capturingMetrics();
  const send = async (path: string, init: RequestInit) => {
    const { res, ms } = await timed({ THROTTLE_NAMESPACE: namespace, METRICS: metrics.binding, ...overrides }, path, init);
    return { res, ms, degraded: metrics.points.at(-1)?.blobs?.[BLOB_FIELDS.indexOf("degraded")] };
  };
  return {
    login: (username: string, password: string, ip?: string) => send("/api/v1/auth/login", json({ username, password }, ip)),
    register: (email: string, ip?: string) => send("/api/v1/auth/register", json({ email, password: "correct horse" }, ip)),
  };
}

const faults: Array<[string, Inject]> = [
  [
    "failing (503)",
    async (namespace) => {
      await setThrottleRedisFault(namespace, { failStatus: 503 });
      return {};
    },
  ],
  [
    "slow (3 s per call)",
    async (namespace) => {
      await setThrottleRedisFault(namespace, { delayMs: 3_000 });
      return {};
    },
  ],
  ["unreachable", async () => ({ THROTTLE_REDIS_REST_URL: CLOSED })],
  ["not configured", async () => ({ THROTTLE_REDIS_REST_URL: "" })],
];

describe.each(faults)("the throttle's Redis %s", (_, inject) => {
  it(`counts every login attempt on the binding, ${LOGIN_FALLBACK_ATTEMPTS_PER_MINUTE} per account a minute, right passwords too, then 429; quickly; logged once`, {
    timeout: 40_000,
  }, async () => {
    const warn = quietLogs();
    const { email, password } = await newAccount();
    const t = await throttled(inject);
    // The binding counts in fixed minutes: the whole sequence within one.
    await withinOneWindow(60_000, 25_000);
    const statuses: number[] = [];
    for (const guess of ["wrong", "wrong", password, "wrong", password]) {
      const { res, ms, degraded } = await t.login(email, guess);
      statuses.push(res.status);
      expect(ms).toBeLessThan(THROTTLE_TIMEOUT_MS + 2_000);
      expect(degraded).toContain("throttle-redis");
    }
    expect(statuses).toEqual([401, 401, 200, 401, 200]);
    // Past the binding's limit, from any client: 429, whether the password is right or not.
    for (const guess of [password, "wrong"]) {
      const { res } = await t.login(email, guess, uniqueIp());
      expect(res.status).toBe(429);
      expect(res.headers.get("Retry-After")).toBe(String(FALLBACK_RETRY_AFTER_SECONDS));
      expect(((await res.json()) as ErrorBody).error.code).toBe("rate_limited");
    }
    const lines = warn.mock.calls.filter(([line]) => String(line).includes("throttle store unavailable"));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(String(lines[0]![0]))).toMatchObject({ level: "warn", operation: "check", failures: 1 });
  });

  it("lets a registration through on its binding and creates the account", { timeout: 20_000 }, async () => {
    quietLogs();
    const t = await throttled(inject);
    const { res, degraded } = await t.register(`throttle-fault-${crypto.randomUUID()}@example.com`);
    expect(res.status).toBe(201);
    expect(degraded).toContain("throttle-redis");
  });
});

describe("the throttle's Redis failing", () => {
  const failing: Inject = async (namespace) => {
    await setThrottleRedisFault(namespace, { failStatus: 503 });
    return {};
  };

  it(`refuses registrations past their binding's ${REGISTER_FALLBACK_ATTEMPTS_PER_MINUTE} a minute per client with 429 and Retry-After`, {
    timeout: 120_000,
  }, async () => {
    quietLogs();
    const t = await throttled(failing);
    const ip = uniqueIp();
    // Counted before the hashes, as the requests arrive: within one of the binding's minutes.
    await withinOneWindow(60_000, 15_000);
    const results = await Promise.all(
      Array.from({ length: REGISTER_FALLBACK_ATTEMPTS_PER_MINUTE + 1 }, () =>
        t.register(`throttle-fault-${crypto.randomUUID()}@example.com`, ip),
      ),
    );
    expect(results.map(({ res }) => res.status).sort()).toEqual([...Array(REGISTER_FALLBACK_ATTEMPTS_PER_MINUTE).fill(201), 429]);
    const refused = results.find(({ res }) => res.status === 429)!.res;
    expect(refused.headers.get("Retry-After")).toBe(String(FALLBACK_RETRY_AFTER_SECONDS));
    // Another client has a count of its own.
    expect((await t.register(`throttle-fault-${crypto.randomUUID()}@example.com`)).res.status).toBe(201);
  });

  it("is logged again when Redis answers again, with the failed calls not logged yet", async () => {
    const warn = quietLogs();
    // Registered first: that request's answer ends any outage an earlier test left.
    const { email, password } = await newAccount();
    const info = vi.spyOn(console, "log").mockImplementation(() => {});
    const namespace = `${env.THROTTLE_NAMESPACE}fault-${crypto.randomUUID()}:`;
    await setThrottleRedisFault(namespace, { failStatus: 503 });
    const send = () => timed({ THROTTLE_NAMESPACE: namespace }, "/api/v1/auth/login", json({ username: email, password }));
    for (let i = 0; i < 3; i++) expect((await send()).res.status).toBe(200);
    expect(warn.mock.calls.filter(([line]) => String(line).includes("throttle store unavailable"))).toHaveLength(1);
    await clearThrottleRedisFault(namespace);
    expect((await send()).res.status).toBe(200);
    const back = info.mock.calls.map(([line]) => String(line)).filter((line) => line.includes("throttle store answers again"));
    expect(back).toHaveLength(1);
    expect(JSON.parse(back[0]!)).toMatchObject({ level: "info", failures: 2 });
  });

  it("fails closed without the binding too: 503 service_unavailable with Retry-After, for logins and registrations", async () => {
    quietLogs();
    const { email, password } = await newAccount();
    const t = await throttled(async (namespace) => ({
      ...(await failing(namespace)),
      LOGIN_FALLBACK_LIMITER: undefined,
      REGISTER_FALLBACK_LIMITER: undefined,
    }));
    for (const { res, degraded } of [
      await t.login(email, password),
      await t.login(email, "wrong"),
      await t.register(`throttle-fault-${crypto.randomUUID()}@example.com`),
    ]) {
      await expectServiceUnavailable(res);
      expect(degraded).toContain("throttle-binding");
    }
  });
});

describe("the catalog cache's Redis down", () => {
  it("leaves the throttles on their own Redis: the full limits, not the fallback's", async () => {
    const { email } = await newAccount();
    const t = await throttled(async () => ({ UPSTASH_REDIS_REST_URL: CLOSED, CACHE_BACKEND: "upstash" }));
    const ip = uniqueIp();
    const statuses: number[] = [];
    for (let i = 0; i <= PAIR_FAILURES_PER_WINDOW; i++) {
      const { res, degraded } = await t.login(email, "wrong", ip);
      statuses.push(res.status);
      expect(degraded ?? "").not.toContain("throttle");
    }
    expect(statuses).toEqual([...Array(PAIR_FAILURES_PER_WINDOW).fill(401), 429]);
  });
});
