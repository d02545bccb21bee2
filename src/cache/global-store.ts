import type { Redis } from "@upstash/redis/cloudflare";
import { decodeEntry, encodeEntry, type CacheEntry } from "./entry";
import { KV_TTL_SECONDS, REDIS_ENTRY_TTL_MS } from "./policy";

/**
 * L2: the global store behind the Cache API, shared by every location. Which one is configuration
 * (CACHE_BACKEND): Workers KV (the embedded default) or Upstash Redis. Both hold the same encoded
 * entries under the same keys; entries are served until MAX_AGE_MS and kept for stale-if-error
 * until STALE_IF_ERROR_MS, which the TTLs match.
 */
export interface GlobalStore {
  /** The layer's name in request stats: "kv" or "redis". */
  readonly layer: "kv" | "redis";
  get(key: string): Promise<CacheEntry | undefined>;
  put(key: string, entry: CacheEntry): Promise<void>;
}

/**
 * KV: eventually consistent (a write can take 60 s or more to show in other locations, and a read
 * may be answered from a location's copy for cacheTtl), so it never holds the version, only entries
 * whose age says whether they may be served. One write per key per second is KV's limit: a refused
 * write is only a missed fill.
 */
export class KvStore implements GlobalStore {
  readonly layer = "kv";

  constructor(private readonly kv: KVNamespace) {}

  async get(key: string): Promise<CacheEntry | undefined> {
    return decodeEntry(await this.kv.get(key, { type: "text" }));
  }

  async put(key: string, entry: CacheEntry): Promise<void> {
    await this.kv.put(key, encodeEntry(entry), { expirationTtl: KV_TTL_SECONDS });
  }
}

/** Upstash Redis over REST: strongly consistent per database; also where the version lives in this mode. */
export class RedisStore implements GlobalStore {
  readonly layer = "redis";

  constructor(private readonly redis: Redis) {}

  async get(key: string): Promise<CacheEntry | undefined> {
    return decodeEntry(await this.redis.get<string>(key));
  }

  async put(key: string, entry: CacheEntry): Promise<void> {
    await this.redis.set(key, encodeEntry(entry), { px: REDIS_ENTRY_TTL_MS });
  }
}
