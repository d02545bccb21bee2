import type { CatalogResource } from "./keys";

/**
 * Which request URL is which catalog read, as the app validated it: path-and-query (`/api/v1/products?page=1`)
 * → the canonical resource and the route pattern. Filled by the app's catalog reads (http-caching.ts), read
 * by the hot path (hot-reads.ts), so a URL is only ever served there after the app's own validation accepted
 * it. Per isolate; bounded by clearing when full (forgetting only costs the next read the app path).
 */
export type KnownRead = { resource: CatalogResource; route: string };

const knownReads = new Map<string, KnownRead>();
const MAX_KNOWN_READS = 2_000;

/** Remembers that the app answered `target` (path and query) as this read. */
export function rememberCatalogRead(target: string, read: KnownRead): void {
  if (knownReads.has(target)) return;
  if (knownReads.size >= MAX_KNOWN_READS) knownReads.clear();
  knownReads.set(target, read);
}

export function knownCatalogRead(target: string): KnownRead | undefined {
  return knownReads.get(target);
}

/** `/api/v1/products?page=1` of a request URL, without parsing it into a URL object; undefined if it has no path. */
export function pathAndQuery(url: string): string | undefined {
  const scheme = url.indexOf("://");
  if (scheme < 0) return undefined;
  const slash = url.indexOf("/", scheme + 3);
  if (slash < 0) return undefined;
  const hash = url.indexOf("#", slash);
  return hash < 0 ? url.slice(slash) : url.slice(slash, hash);
}
