import { env } from "cloudflare:test";
import { neonConfig } from "@neondatabase/serverless";
import { vi } from "vitest";
import { createRedis, usesRedis } from "../../src/cache/redis";

/** Shared by the catalog cache tests. Each file runs in its own isolate, so the counters below only see this file. */

/** A namespace of its own: nothing else in the run reads or writes these cache keys (and faults can target them). */
export const newNamespace = (label = "t") => `test:${label}:${crypto.randomUUID()}`;

/**
 * The SQL-over-HTTP requests the driver sends while `run` runs, as their bodies: every database
 * round trip of this isolate (the driver's fetch is a global of the isolate, and every request of
 * this file goes through it). `catalogQueries` leaves out the version reads of KV mode.
 */
export async function countDatabaseRequests<T>(
  run: () => Promise<T>,
): Promise<{ result: T; all: number; catalogQueries: number; bodies: string[] }> {
  const original = neonConfig.fetchFunction as (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  const bodies: string[] = [];
  neonConfig.fetchFunction = (input: RequestInfo | URL, init?: RequestInit) => {
    bodies.push(typeof init?.body === "string" ? init.body : "");
    return original(input, init);
  };
  try {
    const result = await run();
    return { result, all: bodies.length, catalogQueries: bodies.filter((b) => !b.includes("cache_versions")).length, bodies };
  } finally {
    neonConfig.fetchFunction = original;
  }
}

/**
 * The entry keys the global store (KV, or Redis with CACHE_BACKEND=upstash) holds under a namespace,
 * read from the store itself; the Redis version key is left out.
 */
export async function globalStoreKeys(backend: Pick<Env, "CACHE_BACKEND">, namespace: string): Promise<string[]> {
  const keys = usesRedis(backend)
    ? (await createRedis(env).keys(`${namespace}:*`)).filter((key) => key !== `${namespace}:version`)
    : (await env.CATALOG_KV.list({ prefix: `${namespace}:` })).keys.map((key) => key.name);
  return keys.sort();
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The real clock, also while a test has stopped Date.now. */
export const realNow = Date.now.bind(Date);

/**
 * Stops this isolate's Date.now: it moves only by `advance` (restored by vi.restoreAllMocks). Entries
 * and the stock view then age exactly as the test says, whatever the machine's speed.
 */
export function stopClock(): { readonly now: number; advance: (ms: number) => void } {
  let now = realNow();
  vi.spyOn(Date, "now").mockImplementation(() => now);
  return {
    get now() {
      return now;
    },
    advance: (ms: number) => void (now += ms),
  };
}
