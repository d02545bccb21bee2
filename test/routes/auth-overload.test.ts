/**
 * Logins under overload (src/services/password-gate.ts): one isolate serves everything, a PBKDF2 hash
 * holds its thread, and a burst of logins must neither starve other requests nor queue without bound.
 * Every request goes through the Worker entry (a request context of its own each, as deployed); the
 * gate they queue in is this isolate's, the one imported here. Assertions are about order of
 * completion and status codes, never about wall-clock durations.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { ACCOUNT_FAILURES_PER_WINDOW } from "../../src/services/throttle-policy";
import { PASSWORD_GATE_LIMITS, passwordGate } from "../../src/services/password-gate";
import { HASH_BUSY_RETRY_AFTER_SECONDS } from "../../src/services/password-policy";
import { postJson, registerUser, type RegisteredUser } from "../support/accounts";
import { api, type ErrorBody } from "../support/api";
import { makeProducts } from "../support/catalog";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// postJson sends each request from a client address of its own, so no client throttle is shared with other tests.
const login = (username: string, password: string) => postJson("/api/v1/auth/login", { username, password });

const newAccount = (): Promise<RegisteredUser> => registerUser({ tag: "overload" });

/** Holds the isolate's password gate (its one turn) until released, as a long hash would. */
function occupyGate(): () => Promise<void> {
  let release!: () => void;
  const running = passwordGate.run(() => new Promise<void>((resolve) => (release = resolve)));
  return async () => {
    release();
    await running;
  };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(1);
}

afterEach(() => {
  passwordGate.limits = PASSWORD_GATE_LIMITS;
  vi.restoreAllMocks();
});

describe("a burst of logins", () => {
  it("serves a catalog read between queued password hashes", async () => {
    const { email, password } = await newAccount();
    const [id] = (await makeProducts([{ stock: 5 }])) as [number];
    expect((await api(`/api/v1/products/${id}`)).status).toBe(200); // cached now: the read below needs no hash and no query

    const hashes = vi.spyOn(crypto.subtle, "deriveBits");
    const finished: string[] = [];
    const logins = Array.from({ length: 20 }, () => login(email, password).then((res) => void finished.push(`login ${res.status}`)));
    // The read arrives (a request of its own) once the hashes have begun, as in the load test.
    await until(() => hashes.mock.calls.length >= 2);
    const read = api(`/api/v1/products/${id}`).then((res) => void finished.push(`read ${res.status}`));
    await Promise.all([...logins, read]);

    expect(finished.filter((f) => f === "login 200")).toHaveLength(20);
    // Without the gate the read waited for (nearly) every hash; with it, for one or two.
    const loginsAfterRead = finished.length - 1 - finished.indexOf("read 200");
    expect(loginsAfterRead, finished.join(", ")).toBeGreaterThanOrEqual(10);
  });

  it("answers 503 with Retry-After when too many hashes are waiting, and lets the waiting ones through", async () => {
    passwordGate.limits = { ...PASSWORD_GATE_LIMITS, maxWaiting: 2, holdMs: 60_000 };
    const { email, password } = await newAccount();
    const release = occupyGate();
    const statuses: number[] = [];
    const responses = Array.from({ length: 5 }, () =>
      login(email, password).then((res) => {
        statuses.push(res.status);
        return res;
      }),
    );
    // Two wait for the gate; the three beyond the bound are answered at once, while the gate is still held.
    await until(() => statuses.length === 3);
    expect(statuses).toEqual([503, 503, 503]);
    expect(passwordGate.waiting).toBe(2);
    await release();
    const all = await Promise.all(responses);
    expect(statuses.sort()).toEqual([200, 200, 503, 503, 503]);

    const refused = all.find((res) => res.status === 503)!;
    expect(refused.headers.get("Retry-After")).toBe(String(HASH_BUSY_RETRY_AFTER_SECONDS));
    const body = (await refused.json()) as ErrorBody;
    expect(body.error.code).toBe("service_unavailable");
    expect(Object.keys(body.error).sort()).toEqual(["code", "message"]);
  });

  it("refuses an unknown account, a known one and a registration alike while the queue is full (nothing to tell them apart)", async () => {
    const { email, password } = await newAccount();
    passwordGate.limits = { ...PASSWORD_GATE_LIMITS, maxWaiting: 0, holdMs: 60_000 };
    const release = occupyGate();
    const answers = await Promise.all([
      login(email, password),
      login(email, "wrong password"),
      login(`nobody-${crypto.randomUUID()}@example.com`, password),
      postJson("/api/v1/auth/register", { email: `overload-${crypto.randomUUID()}@example.com`, password: "correct horse" }),
    ]);
    const seen = await Promise.all(
      answers.map(async (res) => JSON.stringify([res.status, res.headers.get("Retry-After"), await res.text()])),
    );
    expect(new Set(seen).size).toBe(1);
    expect(answers[0]!.status).toBe(503);

    // A refused attempt is not a failed one: as many wrong passwords as the account may fail, all refused...
    const refused = await Promise.all(Array.from({ length: ACCOUNT_FAILURES_PER_WINDOW }, () => login(email, "wrong password")));
    expect(refused.map((res) => res.status)).toEqual(Array(ACCOUNT_FAILURES_PER_WINDOW).fill(503));
    await release();
    // ...and the account is not throttled for them.
    expect((await login(email, password)).status).toBe(200);
  });
});
