import { decodeEntry, type CacheEntry } from "./entry";
import { STALE_IF_ERROR_MS } from "./policy";

/** Where entries live in the zone's cache: a path no route serves, on the Worker's own hostname. */
const KEY_PATH = "/__catalog-cache/";
const STORED_AT = "X-Catalog-Stored-At";

/**
 * L1: the Cache API (`caches.default`), one cache per Cloudflare location, shared by every isolate
 * there. A version bump elsewhere cannot purge it; it does not need to, because keys carry the
 * version and entries stop being served at MAX_AGE_MS. The Cache API ignores stale-while-revalidate,
 * so entries are stored with max-age = what is left of STALE_IF_ERROR_MS (they are kept for
 * stale-if-error; the caller's age rules decide what is served) and SWR is done by the caller.
 * On *.workers.dev the Cache API does nothing (match always misses): it needs a custom domain.
 */
export class EdgeCache {
  readonly layer = "cache-api";

  constructor(private readonly origin: string) {}

  static available(): boolean {
    return typeof caches !== "undefined" && "default" in caches;
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    const res = await caches.default.match(this.request(key));
    if (!res) return undefined;
    const body = await res.text();
    const storedAt = res.headers.get(STORED_AT);
    const etag = res.headers.get("ETag");
    if (!storedAt || !etag) return undefined;
    return decodeEntry(`${storedAt}\n${etag}\n${body}`);
  }

  async put(key: string, entry: CacheEntry): Promise<void> {
    const ttlSeconds = Math.ceil((entry.storedAt + STALE_IF_ERROR_MS - Date.now()) / 1000);
    if (ttlSeconds <= 0) return;
    const response = new Response(entry.body, {
      headers: {
        "Content-Type": "application/json",
        "Cache-Control": `public, max-age=${ttlSeconds}`,
        ETag: entry.etag,
        [STORED_AT]: String(entry.storedAt),
      },
    });
    await caches.default.put(this.request(key), response);
  }

  private request(key: string): Request {
    return new Request(this.origin + KEY_PATH + encodeURIComponent(key), { method: "GET" });
  }
}
