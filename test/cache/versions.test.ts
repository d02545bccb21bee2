import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createRedis } from "../../src/cache/redis";
import { LayerGuard } from "../../src/cache/resilience";
import { PostgresVersionSource, RedisVersionSource, VersionCache, type VersionSource } from "../../src/cache/versions";
import { CALL_TIMEOUT_MS, MAX_AGE_MS, VERSION_TTL_MS } from "../../src/cache/policy";
import { db } from "../support/db";
import { newNamespace, sleep } from "./helpers";

describe.each([
  ["Postgres (cache_versions)", (name: string): VersionSource => new PostgresVersionSource(db, name)],
  [
    "Redis (INCR)",
    (name: string): VersionSource => new RedisVersionSource(createRedis(env, { automaticDeserialization: false }), `${name}:version`),
  ],
])("the version in %s", (_, sourceFor) => {
  it("starts at 0 and goes up by one per bump, for every reader", async () => {
    const name = newNamespace("versions");
    const source = sourceFor(name);
    expect(await source.read()).toBe(0);
    expect(await source.bump()).toBe(1);
    expect(await source.bump()).toBe(2);
    expect(await sourceFor(name).read()).toBe(2);
    expect(await sourceFor(newNamespace("versions")).read()).toBe(0);
  });
});

/** A version store under the test's control. */
class FakeSource implements VersionSource {
  readonly layer = "versions-redis";
  value = 0;
  reads = 0;
  failing = false;
  gate: Promise<void> = Promise.resolve();
  async read(): Promise<number> {
    this.reads += 1;
    const value = this.value;
    await this.gate;
    if (this.failing) throw new Error("version store down");
    return value;
  }
  async bump(): Promise<number> {
    return ++this.value;
  }
}

describe("an isolate's view of the version", () => {
  it("asks the store at most once per VERSION_TTL_MS, once for any number of concurrent readers", async () => {
    const source = new FakeSource();
    const cache = new VersionCache();
    const guard = new LayerGuard("versions-test");
    const versions = await Promise.all(Array.from({ length: 10 }, () => cache.current(source, guard)));
    expect(versions).toEqual(Array(10).fill(0));
    expect(source.reads).toBe(1);
    source.value = 4; // bumped by another isolate
    expect(await cache.current(source, guard)).toBe(0);
    await sleep(VERSION_TTL_MS + 50);
    expect(await cache.current(source, guard)).toBe(4);
    expect(source.reads).toBe(2);
  });

  it("uses its own bump at once, and a read that was under way meanwhile cannot bring back the old number", async () => {
    const source = new FakeSource();
    const cache = new VersionCache();
    const guard = new LayerGuard("versions-test");
    let open!: () => void;
    source.gate = new Promise((resolve) => (open = resolve));
    const slowRead = cache.current(source, guard); // reads 0, lands after the bump
    await sleep(5);
    expect(await cache.bump(source, guard)).toBe(1);
    open();
    await slowRead;
    expect(await cache.current(source, guard)).toBe(1);
  });

  it("says it does not know while the store fails, so reads bypass the cache", async () => {
    const cache = new VersionCache();
    const guard = new LayerGuard("versions-test");
    const failing: VersionSource = {
      layer: "versions-redis",
      read: () => Promise.reject(new Error("down")),
      bump: () => Promise.reject(new Error("down")),
    };
    expect(await cache.current(failing, guard)).toBeUndefined();
    await expect(cache.bump(failing, guard)).rejects.toThrow("down");
    expect(await cache.current(new FakeSource(), guard)).toBeUndefined(); // skipped for a while after failing
  });
});

describe("an isolate's view of the version while the store does not answer", () => {
  const realNow = Date.now.bind(Date);
  /** From now on this isolate's clock runs `ms` ahead (guards and the version cache read Date.now). */
  const advanceClock = (ms: number) => vi.spyOn(Date, "now").mockImplementation(() => realNow() + ms);
  const quiet = () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.spyOn(console, "log").mockImplementation(() => {});
  };
  afterEach(() => vi.restoreAllMocks());

  it("keeps the version it confirmed for up to MAX_AGE_MS, asking the store again at most once per VERSION_TTL_MS", async () => {
    quiet();
    const source = new FakeSource();
    source.value = 3;
    const cache = new VersionCache();
    const guard = new LayerGuard("versions-test");
    expect(await cache.current(source, guard)).toBe(3); // confirmed now

    source.failing = true;
    advanceClock(VERSION_TTL_MS + 10);
    expect(await cache.current(source, guard)).toBe(3); // the read failed: the confirmed version
    expect(source.reads).toBe(2);
    // Meanwhile nobody waits for the store, nor asks it again within VERSION_TTL_MS.
    expect(await Promise.all(Array.from({ length: 5 }, () => cache.current(source, guard)))).toEqual(Array(5).fill(3));
    expect(source.reads).toBe(2);

    advanceClock(2 * VERSION_TTL_MS + 20);
    expect(await cache.current(source, guard)).toBe(3); // at once; one read goes out in the background
    expect(await cache.current(source, guard)).toBe(3); // ...and only one
    await vi.waitFor(() => expect(source.reads).toBe(3));

    advanceClock(MAX_AGE_MS + 10);
    expect(await cache.current(source, guard)).toBeUndefined(); // confirmed more than MAX_AGE_MS ago: bypass
  });

  it("is confirmed again by a background read once the store answers, and then uses the new version", async () => {
    quiet();
    const source = new FakeSource();
    const cache = new VersionCache();
    const guard = new LayerGuard("versions-test");
    expect(await cache.current(source, guard)).toBe(0);
    source.failing = true;
    advanceClock(VERSION_TTL_MS + 10);
    expect(await cache.current(source, guard)).toBe(0);
    expect(guard.available).toBe(false); // skipped now: requests do not wait for it

    source.failing = false;
    source.value = 7; // bumped by another isolate meanwhile
    advanceClock(2 * VERSION_TTL_MS + 20);
    expect(await cache.current(source, guard)).toBe(0); // the background read is under way
    await vi.waitFor(() => expect(guard.available).toBe(true));
    expect(await cache.current(source, guard)).toBe(7);
    expect(source.reads).toBe(3);
  });

  it("uses the confirmed version when the store is slower than CALL_TIMEOUT_MS, instead of bypassing", async () => {
    quiet();
    const source = new FakeSource();
    const cache = new VersionCache();
    const guard = new LayerGuard("versions-test");
    expect(await cache.current(source, guard)).toBe(0);
    let answer!: () => void;
    source.gate = new Promise((resolve) => (answer = resolve));
    advanceClock(VERSION_TTL_MS + 10);
    const started = realNow();
    expect(await cache.current(source, guard)).toBe(0);
    expect(realNow() - started).toBeGreaterThanOrEqual(CALL_TIMEOUT_MS - 5); // it did wait for the store, once
    answer();
  });
});
