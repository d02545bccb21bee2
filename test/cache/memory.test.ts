import { describe, expect, it } from "vitest";
import { MemoryCache } from "../../src/cache/memory";
import { MAX_AGE_MS, MEMORY_MAX_LIFETIME_MS, STALE_IF_ERROR_MS } from "../../src/cache/policy";

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

  it("measures an entry the stock view keeps from its last check, and serves none MEMORY_MAX_LIFETIME_MS after its load", () => {
    const memory = new MemoryCache<string>(10, 1e9);
    const loaded = Date.now();
    const record = memory.set("k", entryAt(loaded), { keeping: "stock", stock: "products" })!;
    expect(memory.get("k", loaded + MAX_AGE_MS)).toBeUndefined();
    memory.checked(record, loaded + MAX_AGE_MS);
    expect(memory.get("k", loaded + 2 * MAX_AGE_MS - 1)).toBeDefined();
    expect(memory.get("k", loaded + 2 * MAX_AGE_MS)).toBeUndefined();
    expect(memory.getIfError("k", loaded + 2 * MAX_AGE_MS)).toBeDefined();

    memory.checked(record, loaded + MEMORY_MAX_LIFETIME_MS - 1);
    expect(memory.get("k", loaded + MEMORY_MAX_LIFETIME_MS - 1)).toBeDefined();
    expect(memory.get("k", loaded + MEMORY_MAX_LIFETIME_MS)).toBeUndefined();
    expect(memory.size).toBe(0);
  });

  it("serves an entry kept by the version at any age until MEMORY_MAX_LIFETIME_MS", () => {
    const memory = new MemoryCache(10, 1e9);
    const loaded = Date.now();
    memory.set("categories", entryAt(loaded), { keeping: "version" });
    expect(memory.get("categories", loaded + STALE_IF_ERROR_MS * 2)).toBeDefined();
    expect(memory.get("categories", loaded + MEMORY_MAX_LIFETIME_MS)).toBeUndefined();
  });

  it("re-renders only the record it still holds, and keeps its load time", () => {
    const memory = new MemoryCache<string>(10, 1e9);
    const now = Date.now();
    const record = memory.set("k", entryAt(now - 1000), { keeping: "stock", stock: "a" })!;
    const next = { body: "y", etag: '"n"', storedAt: now };
    expect(memory.replace(record, next, new Uint8Array([121]), "b", now)).toBe(true);
    expect(memory.lookup("k", now)).toMatchObject({ entry: next, stock: "b", checkedAt: now, loadedAt: now - 1000 });

    memory.set("k", entryAt(now + 1));
    expect(memory.replace(record, next, new Uint8Array([121]), "c", now + 2)).toBe(false);
    expect(memory.get("k", now + 2)?.storedAt).toBe(now + 1);
  });

  it("takes no copy stored before a stock check found the key's product gone, for MAX_AGE_MS", () => {
    const memory = new MemoryCache<string>(10, 1e9);
    const now = Date.now();
    const record = memory.set("k", entryAt(now - 1000), { keeping: "stock", stock: "a" })!;
    memory.supersede(record, now);
    expect(memory.get("k", now)).toBeUndefined();
    expect(memory.set("k", entryAt(now - 500), { now })).toBeUndefined(); // e.g. the Cache API's copy
    expect(memory.set("k", entryAt(now), { now })).toBeDefined(); // loaded after the check
    expect(memory.notBefore("k", now + MAX_AGE_MS)).toBe(0);
  });
});
