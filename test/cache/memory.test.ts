import { describe, expect, it } from "vitest";
import { MemoryCache } from "../../src/cache/memory";
import { MAX_AGE_MS, STALE_IF_ERROR_MS } from "../../src/cache/policy";

describe("L0 memory", () => {
  const entryAt = (storedAt: number, size = 10) => ({ body: "x".repeat(size), etag: '"e"', storedAt });

  it("holds at most maxEntries, dropping the least recently used", () => {
    const memory = new MemoryCache(2, 1e9);
    const now = Date.now();
    memory.set("a", entryAt(now));
    memory.set("b", entryAt(now));
    memory.get("a");
    memory.set("c", entryAt(now));
    expect(memory.get("a")).toBeDefined();
    expect(memory.get("b")).toBeUndefined();
    expect(memory.get("c")).toBeDefined();
    expect(memory.size).toBe(2);
  });

  it("holds at most maxBytes of bodies", () => {
    const memory = new MemoryCache(100, 1000);
    const now = Date.now();
    for (const key of ["a", "b", "c"]) memory.set(key, entryAt(now, 200));
    expect(memory.size).toBe(2);
    memory.set("huge", entryAt(now, 10_000));
    expect(memory.get("huge")).toBeUndefined();
  });

  it("never returns an entry whose data is MAX_AGE_MS old, and keeps the newer of two", () => {
    const memory = new MemoryCache(10, 1e9);
    const now = Date.now();
    memory.set("old", entryAt(now - MAX_AGE_MS));
    expect(memory.get("old", now)).toBeUndefined();
    memory.set("k", entryAt(now));
    memory.set("k", entryAt(now - 1000));
    expect(memory.get("k", now)?.storedAt).toBe(now);
  });

  it("keeps an expired entry for stale-if-error only (getIfError), until STALE_IF_ERROR_MS", () => {
    const memory = new MemoryCache(10, 1e9);
    const now = Date.now();
    memory.set("k", entryAt(now - MAX_AGE_MS - 1));
    expect(memory.get("k", now)).toBeUndefined();
    expect(memory.getIfError("k", now)?.storedAt).toBe(now - MAX_AGE_MS - 1);
    expect(memory.getIfError("k", now + STALE_IF_ERROR_MS)).toBeUndefined();
    expect(memory.size).toBe(0);
  });
});
