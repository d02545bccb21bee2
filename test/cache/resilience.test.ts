import { afterEach, describe, expect, it, vi } from "vitest";
import { EVENT_LOOP_LAG_MS, RETRY_AFTER_MS } from "../../src/cache/policy";
import { LayerGuard, LayerUnavailableError } from "../../src/cache/resilience";
import { TimeoutError, withTimeout } from "../../src/lib/with-timeout";

describe("resilience", () => {
  afterEach(() => vi.restoreAllMocks());

  it("bounds a call in time", async () => {
    const started = Date.now();
    await expect(withTimeout(new Promise(() => {}), 50, "hang")).rejects.toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await withTimeout(Promise.resolve(3), 50, "quick")).toBe(3);
  });

  it("skips a layer without waiting after it failed, and logs once per interval", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const guard = new LayerGuard("test-layer");
    await expect(guard.run("get", () => Promise.reject(new Error("down")))).rejects.toThrow("down");
    expect(guard.available).toBe(false);
    let called = false;
    await expect(
      guard.run("get", async () => {
        called = true;
      }),
    ).rejects.toBeInstanceOf(LayerUnavailableError);
    expect(called).toBe(false);
    guard.failed("put", new Error("down again"));
    expect(warn).toHaveBeenCalledTimes(1);
    expect(JSON.parse(warn.mock.calls[0]![0] as string)).toMatchObject({ level: "warn", layer: "test-layer", error: "down" });
    // A version bump is tried even while the layer is skipped.
    expect(await guard.run("bump", async () => 5, { evenIfSkipped: true })).toBe(5);
    expect(RETRY_AFTER_MS).toBeLessThanOrEqual(10_000);
  });

  describe("a timeout noticed late, because this isolate was busy", () => {
    /** Holds the isolate's thread, as a PBKDF2 hash or a burst of requests does: no timer can fire meanwhile. */
    const holdThread = (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        // busy
      }
    };
    const hang = () => new Promise<never>(() => {});

    it("fails the call but does not make a layer that answered lately skipped", async () => {
      const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
      const guard = new LayerGuard("test-layer");
      expect(await guard.run("get", async () => 1)).toBe(1);
      const call = guard.run("get", hang, { timeoutMs: 20 });
      holdThread(20 + EVENT_LOOP_LAG_MS + 50);
      await expect(call).rejects.toBeInstanceOf(TimeoutError);
      expect(guard.available).toBe(true);
      expect(JSON.parse(String(warn.mock.calls[0]![0]))).toMatchObject({
        layer: "test-layer",
        msg: expect.stringContaining("isolate was busy"),
      });
    });

    it("counts like any failure when the layer has not answered within RETRY_AFTER_MS", async () => {
      vi.spyOn(console, "warn").mockImplementation(() => {});
      const guard = new LayerGuard("test-layer");
      const call = guard.run("get", hang, { timeoutMs: 20 });
      holdThread(20 + EVENT_LOOP_LAG_MS + 50);
      await expect(call).rejects.toBeInstanceOf(TimeoutError);
      expect(guard.available).toBe(false);
    });

    it("is told apart from a timeout noticed on time, which makes the layer skipped", async () => {
      vi.spyOn(console, "warn").mockImplementation(() => {});
      const guard = new LayerGuard("test-layer");
      expect(await guard.run("get", async () => 1)).toBe(1);
      await expect(guard.run("get", hang, { timeoutMs: 20 })).rejects.toBeInstanceOf(TimeoutError);
      expect(guard.available).toBe(false);
    });
  });

  it("uses a layer again as soon as a call made while it was skipped answers", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.spyOn(console, "log").mockImplementation(() => {});
    const guard = new LayerGuard("test-layer");
    await expect(guard.run("get", () => Promise.reject(new Error("down")))).rejects.toThrow("down");
    expect(guard.available).toBe(false);
    expect(await guard.run("get", async () => 2, { evenIfSkipped: true })).toBe(2);
    expect(guard.available).toBe(true);
  });
});
