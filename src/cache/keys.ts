import type { ProductListQuery } from "../schemas/products";
import { sha256Hex } from "../lib/sha256-hex";
import { MAX_PLAIN_KEY_LENGTH } from "./policy";

/**
 * Cache keys. A key is `<namespace>:<version>:<resource>`, the same string in every layer:
 *   - namespace: CACHE_NAMESPACE when set, else `tenpo:catalog:<format>:<hash of the database's host
 *     and name>`, so two databases sharing a Redis or KV (staging and production, test runs) never
 *     see each other's entries, and a change of the stored format starts afresh;
 *   - version: the catalog version and where it lives (`vr7`: Redis, `vp7`: Postgres), so the two
 *     counters never meet in the Cache API, which every backend shares;
 *   - resource: the canonical form of the read, e.g. `list?page=1&page_size=20&sort=id`.
 */

/** Bump when the body or entry format changes: old entries are then never read. */
const FORMAT = 1;

export type CatalogResource = string;

/**
 * A list read in canonical form: the validated query (defaults filled, money normalised to two
 * decimals, unknown parameters dropped), parameters sorted by name. `?`, `?page=1` and
 * `?sort=id&page=1&page_size=20` are one resource; `min_price=10` and `min_price=10.00` too.
 */
export function listResource(query: ProductListQuery): CatalogResource {
  const params = Object.entries(query)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => [name, String(value)] as [string, string])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `list?${new URLSearchParams(params).toString()}`;
}

export function productResource(id: number): CatalogResource {
  return `product/${id}`;
}

export const CATEGORIES_RESOURCE: CatalogResource = "categories";

export function cacheNamespace(env: Pick<Env, "DATABASE_URL"> & { CACHE_NAMESPACE?: string }): string {
  if (env.CACHE_NAMESPACE) return env.CACHE_NAMESPACE;
  return `tenpo:catalog:${FORMAT}:${databaseIdentity(env.DATABASE_URL)}`;
}

/** The full key for a resource at a catalog version (`vr7`, `vp7`); long ones are hashed (KV keys stop at 512 bytes). */
export async function entryKey(namespace: string, version: string, resource: CatalogResource): Promise<string> {
  const plain = plainEntryKey(namespace, version, resource);
  if (plain !== undefined) return plain;
  return `${namespace}:${version}:sha256/${await sha256Hex(resource)}`;
}

/** The key when it needs no hashing (the common case, and the only one the hot path serves); else undefined. */
export function plainEntryKey(namespace: string, version: string, resource: CatalogResource): string | undefined {
  const plain = `${namespace}:${version}:${resource}`;
  return plain.length <= MAX_PLAIN_KEY_LENGTH ? plain : undefined;
}

const identities = new Map<string, string>();

/** A short hash of host, port and database name: the credentials are left out, so rotating them keeps the cache. */
function databaseIdentity(databaseUrl: string): string {
  let identity = identities.get(databaseUrl);
  if (identity === undefined) {
    let subject = databaseUrl;
    try {
      const url = new URL(databaseUrl);
      subject = `${url.hostname}:${url.port}${url.pathname}`;
    } catch {
      // not a URL: hash it as it is
    }
    identity = cyrb53(subject).toString(36);
    if (identities.size > 100) identities.clear();
    identities.set(databaseUrl, identity);
  }
  return identity;
}

/** A fast 53-bit string hash (cyrb53, public domain): identity, not security. */
function cyrb53(text: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
