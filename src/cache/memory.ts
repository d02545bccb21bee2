import type { CacheEntry } from "./entry";
import { MAX_AGE_MS, STALE_IF_ERROR_MS } from "./policy";

/**
 * L0: entries in this isolate's memory, bounded by count and by body size, least recently used out
 * first. `get` never returns an entry of MAX_AGE_MS data age or more (the 5 s bound); such an entry
 * is kept, for `getIfError` only (stale-if-error while the database fails), until STALE_IF_ERROR_MS.
 */
export class MemoryCache {
  private readonly entries = new Map<string, CacheEntry>();
  private bytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string, now = Date.now()): CacheEntry | undefined {
    return this.read(key, MAX_AGE_MS, now);
  }

  /** An entry that may be served while the database fails: younger than STALE_IF_ERROR_MS. */
  getIfError(key: string, now = Date.now()): CacheEntry | undefined {
    return this.read(key, STALE_IF_ERROR_MS, now);
  }

  private read(key: string, maxAgeMs: number, now: number): CacheEntry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (now - entry.storedAt >= STALE_IF_ERROR_MS) {
      this.delete(key);
      return undefined;
    }
    if (now - entry.storedAt >= maxAgeMs) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry); // most recently used last
    return entry;
  }

  /** Keeps the more recent of the entry held and the one given. */
  set(key: string, entry: CacheEntry): void {
    const held = this.entries.get(key);
    if (held) {
      if (held.storedAt > entry.storedAt) return;
      this.delete(key);
    }
    const size = weight(entry);
    if (size > this.maxBytes) return;
    this.entries.set(key, entry);
    this.bytes += size;
    for (const [oldest, old] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= weight(old);
    }
  }

  delete(key: string): void {
    const held = this.entries.get(key);
    if (!held) return;
    this.entries.delete(key);
    this.bytes -= weight(held);
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}

/** UTF-16 code units: what the strings cost in V8, near enough. */
function weight(entry: CacheEntry): number {
  return 2 * (entry.body.length + entry.etag.length) + 64;
}
