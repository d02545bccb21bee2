import { sql } from "drizzle-orm";
import type { Redis } from "@upstash/redis/cloudflare";
import type { Database } from "../db/client";
import { cacheVersions } from "../db/schema";
import { runAfterResponse } from "../lib/run-after-response";
import { BUMP_TIMEOUT_MS, CALL_TIMEOUT_MS, MAX_AGE_MS, REDIS_VERSION_TTL_SECONDS, VERSION_TTL_MS } from "./policy";
import { recordDegraded } from "../observability/request-stats";
import { withTimeout } from "../lib/with-timeout";
import type { LayerGuard } from "./resilience";

/**
 * The catalog version: one counter per cache namespace, part of every key, bumped by every admin
 * product write. A bump makes every entry written before it unreachable in every layer at once,
 * with no scan and no purge: readers simply look under the new key.
 *
 * It must live where a write is visible to the next read everywhere, which KV is not (eventually
 * consistent, ~60 s across locations). So it lives in Redis (INCR) with CACHE_BACKEND=upstash and in
 * Postgres (the cache_versions row) with KV alone.
 *
 * Reading it on every request would cost a round trip per hit; an isolate trusts the value it read
 * for VERSION_TTL_MS instead. Hence the bound: the isolate that made the write sees it at once,
 * every other isolate within VERSION_TTL_MS.
 *
 * A version that goes back (the Redis key expired or was evicted, restarting at 1) is safe: entries
 * written under that number the previous time are far older than MAX_AGE_MS and are never served.
 */
export interface VersionSource {
  readonly layer: "versions-redis" | "versions-postgres";
  read(): Promise<number>;
  bump(): Promise<number>;
}

export class RedisVersionSource implements VersionSource {
  readonly layer = "versions-redis";

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}

  async read(): Promise<number> {
    return toVersion(await this.redis.get<string | number>(this.key));
  }

  async bump(): Promise<number> {
    const [version] = await this.redis.pipeline().incr(this.key).expire(this.key, REDIS_VERSION_TTL_SECONDS).exec<[number, number]>();
    return toVersion(version);
  }
}

/** `cache_versions(name, version)`: one row per namespace, a missing row is version 0. */
export class PostgresVersionSource implements VersionSource {
  readonly layer = "versions-postgres";

  constructor(
    private readonly db: Database,
    private readonly name: string,
  ) {}

  async read(): Promise<number> {
    const [row] = await this.db
      .select({ version: cacheVersions.version })
      .from(cacheVersions)
      .where(sql`${cacheVersions.name} = ${this.name}`);
    return toVersion(row?.version);
  }

  async bump(): Promise<number> {
    const [row] = await this.db
      .insert(cacheVersions)
      .values({ name: this.name, version: 1 })
      .onConflictDoUpdate({
        target: cacheVersions.name,
        set: { version: sql`${cacheVersions.version} + 1`, updatedAt: sql`now()` },
      })
      .returning({ version: cacheVersions.version });
    return toVersion(row?.version);
  }
}

function toVersion(value: unknown): number {
  const n = Number(value ?? 0);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/**
 * This isolate's view of one namespace's version: read at most once per VERSION_TTL_MS (one read
 * shared by all requests that need it meanwhile), replaced at once by this isolate's own bumps.
 * A read that was under way during a bump is discarded when it lands, so it cannot put back the
 * number the bump replaced.
 *
 * When the store does not answer (failing, slow, skipped after a failure, or this isolate too busy
 * to hear it in time), the version this isolate confirmed less than MAX_AGE_MS ago is still used:
 * no entry is served past its own 5 s data-age rule anyway, and an admin write whose bump is not seen
 * is bounded by those same 5 s (what a failed bump already relies on). Meanwhile one read per
 * VERSION_TTL_MS keeps asking the store in the background, skipped or not, so the version is
 * confirmed again as soon as the store answers. Only when nothing was confirmed within MAX_AGE_MS do
 * reads bypass the cache.
 */
export class VersionCache {
  private value: number | undefined;
  /** When `value` was confirmed: the start of the read that returned it, or the bump that set it. */
  private readAt = 0;
  /** When the last read was started, answered or not: reads are started at most once per VERSION_TTL_MS. */
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private generation = 0;
  private reading: Promise<void> | undefined;

  /**
   * The version, or undefined when the store cannot say and no version was confirmed within
   * MAX_AGE_MS: the read must then bypass the cache. `source` may be a function, so a request that
   * needs no read makes no client.
   */
  async current(source: VersionSource | (() => VersionSource), guard: LayerGuard): Promise<number | undefined> {
    const now = Date.now();
    if (this.value !== undefined && now - this.readAt < VERSION_TTL_MS) return this.value;
    // Wait for the store only when it may answer: it is not skipped, and did not fail within VERSION_TTL_MS.
    if (guard.available && (this.reading !== undefined || now - this.attemptedAt >= VERSION_TTL_MS)) {
      try {
        // Our own timer: the read belongs to the request that started it (see withTimeout).
        await withTimeout(this.read(source, guard), CALL_TIMEOUT_MS, `${guard.layer} version read`);
      } catch {
        recordDegraded(guard.dependency);
      }
      return this.confirmedWithin(MAX_AGE_MS);
    }
    recordDegraded(guard.dependency);
    if (this.reading === undefined && now - this.attemptedAt >= VERSION_TTL_MS) void this.read(source, guard).catch(() => {});
    return this.confirmedWithin(MAX_AGE_MS);
  }

  /** The version if it was confirmed less than `ms` ago. */
  private confirmedWithin(ms: number): number | undefined {
    return this.value !== undefined && Date.now() - this.readAt < ms ? this.value : undefined;
  }

  /**
   * The one read in flight, started if there is none. It is made even while the guard skips the store
   * (nobody waits for it then), and kept alive past the request that started it (waitUntil), so an
   * answer that comes after every waiter gave up still confirms the version.
   */
  private read(source: VersionSource | (() => VersionSource), guard: LayerGuard): Promise<void> {
    if (this.reading) return this.reading;
    const generation = this.generation;
    const startedAt = Date.now();
    this.attemptedAt = startedAt;
    const reading: Promise<void> = guard
      .run("version read", () => (typeof source === "function" ? source() : source).read(), { evenIfSkipped: true })
      .then((version) => {
        if (this.generation !== generation) return; // a bump of ours came in between: it knows better
        this.value = version;
        this.readAt = startedAt;
      })
      .finally(() => {
        if (this.reading === reading) this.reading = undefined;
      });
    this.reading = reading;
    // Settled here: a failed read is its caller's to handle, not the invocation's.
    runAfterResponse(reading.catch(() => {}));
    return reading;
  }

  /** The version when this isolate read or bumped it less than VERSION_TTL_MS ago (no read due), else undefined. */
  get fresh(): number | undefined {
    return this.value !== undefined && Date.now() - this.readAt < VERSION_TTL_MS ? this.value : undefined;
  }

  /**
   * The version this isolate read or bumped last, however long ago (undefined after a failed bump).
   * Only for stale-if-error when the version store and Postgres both fail: no admin write can bump
   * the version without the database, so it still names the entries worth serving.
   */
  get lastKnown(): number | undefined {
    return this.value;
  }

  /** Bumps the version in the store; afterwards this isolate uses the new one. Throws when the store failed. */
  async bump(source: VersionSource, guard: LayerGuard): Promise<number> {
    this.generation++;
    this.reading = undefined;
    try {
      const version = await guard.run("version bump", () => source.bump(), { evenIfSkipped: true, timeoutMs: BUMP_TIMEOUT_MS });
      this.value = version;
      this.readAt = Date.now();
      return version;
    } catch (err) {
      // Unknown now: the next read asks the store again (and bypasses the cache while it fails).
      this.value = undefined;
      throw err;
    } finally {
      this.generation++;
    }
  }
}
