/**
 * Specification of src/services/password-gate.ts (and of the workerd behaviour it is built on), inside workerd.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../src/errors";
import { PASSWORD_GATE_LIMITS, WorkGate, type GateLimits } from "../../src/services/password-gate";
import { HASH_BUSY_RETRY_AFTER_SECONDS, HASH_CONCURRENCY } from "../../src/services/password-policy";
import { PASSWORD_HASH_ITERATIONS } from "../../src/services/passwords";

afterEach(() => {
  vi.restoreAllMocks();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const gateWith = (limits: Partial<GateLimits> = {}) => new WorkGate({ ...PASSWORD_GATE_LIMITS, ...limits });

/** A work that runs until `release()`. */
function blocker(): { work: () => Promise<void>; release: () => void } {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { work: () => done, release };
}

describe("workerd's PBKDF2, what the gate is built on", () => {
  it("derives synchronously on the isolate's thread: a 0 ms timer set before the call fires only after it settled", async () => {
    // Had deriveBits moved to a thread pool, the timer would fire first and HASH_CONCURRENCY = 1 would be worth revisiting.
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("pw"), "PBKDF2", false, ["deriveBits"]);
    const events: string[] = [];
    setTimeout(() => events.push("timer"), 0);
    const params = { name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(16), iterations: PASSWORD_HASH_ITERATIONS };
    const derived = crypto.subtle.deriveBits(params, key, 256).then(() => events.push("derived"));
    events.push("call returned");
    await derived;
    await sleep(5);
    expect(events).toEqual(["call returned", "derived", "timer"]);
    expect(HASH_CONCURRENCY).toBe(1);
  });
});

describe("WorkGate", () => {
  it("runs one work at a time, in arrival order", async () => {
    const gate = gateWith();
    const log: string[] = [];
    let running = 0;
    const works = Array.from({ length: 5 }, (_, i) =>
      gate.run(async () => {
        running += 1;
        log.push(`start ${i} (${running} running)`);
        await sleep(2);
        running -= 1;
        return i;
      }),
    );
    expect(await Promise.all(works)).toEqual([0, 1, 2, 3, 4]);
    expect(log).toEqual([0, 1, 2, 3, 4].map((i) => `start ${i} (1 running)`));
  });

  it("starts a work that waited from a new macrotask: what was scheduled during the previous one runs first", async () => {
    const gate = gateWith();
    const events: string[] = [];
    const first = gate.run(async () => {
      events.push("first");
      setTimeout(() => events.push("timer set by first"), 0);
    });
    const second = gate.run(async () => void events.push("second"));
    await Promise.all([first, second]);
    expect(events).toEqual(["first", "timer set by first", "second"]);
  });

  it("refuses with 503 service_unavailable and Retry-After, at once, when maxWaiting callers wait already", async () => {
    const gate = gateWith({ maxWaiting: 2 });
    const { work, release } = blocker();
    const running = gate.run(work);
    const waiting = [gate.run(async () => "a"), gate.run(async () => "b")];
    expect(gate.waiting).toBe(2);
    const refused = await gate.run(async () => "c").catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({
      status: 503,
      code: "service_unavailable",
      headers: { "Retry-After": String(HASH_BUSY_RETRY_AFTER_SECONDS) },
    });
    release();
    await running;
    expect(await Promise.all(waiting)).toEqual(["a", "b"]);
    expect(gate.waiting).toBe(0);
  });

  it("lets the next one in when a work does not give its turn back within holdMs", async () => {
    const gate = gateWith({ holdMs: 50, checkMs: 10 });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const { work, release } = blocker();
    void gate.run(work);
    expect(await gate.run(async () => "next")).toBe("next");
    expect(JSON.parse(String(warn.mock.calls[0]![0]))).toMatchObject({ level: "warn", hold_ms: 50 });
    release();
  });

  it("keeps working after a work throws", async () => {
    const gate = gateWith();
    await expect(gate.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await gate.run(async () => 1)).toBe(1);
  });
});
