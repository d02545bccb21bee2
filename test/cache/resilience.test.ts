import { afterEach, describe, expect, it, vi } from "vitest";
import { RETRY_AFTER_MS } from "../../src/cache/policy";
import { LayerGuard, LayerUnavailableError, TimeoutError, withTimeout } from "../../src/cache/resilience";

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
});
