import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createRedis } from "../../src/cache/redis";
import { LayerGuard } from "../../src/cache/resilience";
import { PostgresVersionSource, RedisVersionSource, VersionCache, type VersionSource } from "../../src/cache/versions";
import { VERSION_TTL_MS } from "../../src/cache/policy";
import { db, newNamespace, sleep } from "./helpers";

describe.each([
  ["Postgres (cache_versions)", (name: string): VersionSource => new PostgresVersionSource(db, name)],
  ["Redis (INCR)", (name: string): VersionSource => new RedisVersionSource(createRedis(env, { automaticDeserialization: false }), `${name}:version`)],
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
  gate: Promise<void> = Promise.resolve();
  async read(): Promise<number> {
    this.reads += 1;
    const value = this.value;
    await this.gate;
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
    const failing: VersionSource = { layer: "versions-redis", read: () => Promise.reject(new Error("down")), bump: () => Promise.reject(new Error("down")) };
    expect(await cache.current(failing, guard)).toBeUndefined();
    await expect(cache.bump(failing, guard)).rejects.toThrow("down");
    expect(await cache.current(new FakeSource(), guard)).toBeUndefined(); // skipped for a while after failing
  });
});
