import { sql } from "drizzle-orm";
import type { Redis } from "@upstash/redis/cloudflare";
import type { Database } from "../db/client";
import { cacheVersions } from "../db/schema";
import { BUMP_TIMEOUT_MS, REDIS_VERSION_TTL_SECONDS, VERSION_TTL_MS } from "./policy";
import { recordDegraded } from "../middleware/request-stats";
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
 */
export class VersionCache {
  private value: number | undefined;
  private readAt = 0;
  private generation = 0;
  private reading: Promise<number> | undefined;

  /**
   * The version, or undefined when the store cannot say (failing or skipped): the read must then
   * bypass the cache. `source` may be a function, so a request that needs no read makes no client.
   */
  async current(source: VersionSource | (() => VersionSource), guard: LayerGuard): Promise<number | undefined> {
    if (this.value !== undefined && Date.now() - this.readAt < VERSION_TTL_MS) return this.value;
    if (!guard.available) {
      recordDegraded(guard.dependency);
      return undefined;
    }
    const generation = this.generation;
    const startedAt = Date.now();
    const reading = (this.reading ??= (typeof source === "function" ? source() : source).read().finally(() => {
      if (this.reading === reading) this.reading = undefined;
    }));
    let version: number;
    try {
      version = await guard.run("version read", () => reading);
    } catch {
      return undefined;
    }
    if (this.generation !== generation) return this.value;
    this.value = version;
    this.readAt = startedAt;
    return version;
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
