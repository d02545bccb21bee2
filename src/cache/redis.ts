import { Redis } from "@upstash/redis/cloudflare";

/**
 * Upstash Redis over REST: the Worker's only way to Redis. Locally UPSTASH_REDIS_REST_URL points at
 * scripts/upstash-rest-server.ts in front of a real Redis.
 */
export function createRedis(env: Pick<Env, "UPSTASH_REDIS_REST_URL" | "UPSTASH_REDIS_REST_TOKEN">): Redis {
  return new Redis({
    url: env.UPSTASH_REDIS_REST_URL,
    token: env.UPSTASH_REDIS_REST_TOKEN,
    enableAutoPipelining: true,
    // One quick retry: a cache that is down must not hold a request through the client's default 5 backoffs.
    retry: { retries: 1, backoff: () => 50 },
  });
}

/** Whether the deployment's global cache store is Redis; otherwise KV alone (the embedded default). */
export function usesRedis(env: Pick<Env, "CACHE_BACKEND">): boolean {
  return env.CACHE_BACKEND === "upstash";
}
