import { encodeBody, type CacheEntry } from "./entry";
import { MAX_AGE_MS, MEMORY_MAX_LIFETIME_MS, STALE_IF_ERROR_MS } from "./policy";

/**
 * What keeps an L0 entry current after its load:
 *   - "age":     nothing: it is served by the age of its data (storedAt), like the layers below;
 *   - "stock":   the stock view (stock-view.ts) re-checks the stock of the products it shows; its data
 *                age runs from the later of storedAt and the last stock check covering it (checkedAt);
 *   - "version": it shows nothing that changes without an admin write (categories): current until
 *                the catalog version changes, which empties L0.
 * Whatever keeps it, an entry is never served MEMORY_MAX_LIFETIME_MS after its load.
 */
export type Keeping = "age" | "stock" | "version";

/**
 * One L0 entry and what is known about it. `entry` and `bytes` are replaced together by a re-render
 * and never changed in place: a request may still be sending the previous ones.
 */
export type MemoryRecord<T> = {
  readonly key: string;
  /** What is served: body, strong ETag, storedAt (for a re-render: the stock check it shows). */
  entry: CacheEntry;
  /** entry.body as UTF-8, encoded once with it. */
  bytes: Uint8Array<ArrayBuffer>;
  readonly keeping: Keeping;
  /** For "stock": what the stock view needs to check and re-render it. */
  stock: T | undefined;
  /** Epoch ms the data is known current as of: storedAt, or the send time of a later stock check. */
  checkedAt: number;
  /** Epoch ms of the load (storedAt of the first entry under this record): bounds its lifetime. */
  readonly loadedAt: number;
  /** Epoch ms it was last served from L0 (the stock view refreshes only what is read). */
  readAt: number;
  weight: number;
};

export type SetOptions<T> = {
  keeping?: Keeping;
  stock?: T;
  /** entry.body encoded, when the caller has it already. */
  bytes?: Uint8Array<ArrayBuffer>;
  /** When it is being read (it is, when a read filled it). */
  now?: number;
};

/** How old an entry's data is by the rules of its keeping; a "version" entry is current until L0 is emptied. */
export function dataAgeOf(record: MemoryRecord<unknown>, now = Date.now()): number {
  return record.keeping === "version" ? 0 : Math.max(0, now - record.checkedAt);
}

/**
 * L0: entries in this isolate's memory, bounded by count and by body size, least recently used out
 * first. `lookup`/`get` never return an entry of MAX_AGE_MS data age or more (the 5 s bound; data
 * age as dataAgeOf measures it) nor one loaded MEMORY_MAX_LIFETIME_MS ago; an entry past MAX_AGE_MS
 * is kept, for `getIfError` only (stale-if-error while the database fails), until STALE_IF_ERROR_MS.
 */
export class MemoryCache<T = never> {
  private readonly entries = new Map<string, MemoryRecord<T>>();
  private bytes = 0;
  /** Keys whose entries stored before a time are known outdated (see supersede), with that time. */
  private readonly superseded = new Map<string, number>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The record to serve for `key`, most recently used from now on; it is not marked as read (the caller does). */
  lookup(key: string, now = Date.now()): MemoryRecord<T> | undefined {
    return this.read(key, MAX_AGE_MS, now);
  }

  get(key: string, now = Date.now()): CacheEntry | undefined {
    return this.lookup(key, now)?.entry;
  }

  /** An entry that may be served while the database fails: data younger than STALE_IF_ERROR_MS. */
  getIfError(key: string, now = Date.now()): CacheEntry | undefined {
    return this.read(key, STALE_IF_ERROR_MS, now)?.entry;
  }

  private read(key: string, maxAgeMs: number, now: number): MemoryRecord<T> | undefined {
    const record = this.entries.get(key);
    if (record === undefined) return undefined;
    const age = dataAgeOf(record, now);
    if (age >= STALE_IF_ERROR_MS || now - record.loadedAt >= MEMORY_MAX_LIFETIME_MS) {
      this.remove(record);
      return undefined;
    }
    if (age >= maxAgeMs) return undefined;
    // Most recently used last. Only when it is not last already: a hot key then costs no Map rewrite.
    if (this.last !== record) {
      this.entries.delete(key);
      this.entries.set(key, record);
      this.last = record;
    }
    return record;
  }

  /** The record most recently (re)inserted: the end of the Map's order. */
  private last: MemoryRecord<T> | undefined;

  /**
   * Holds `entry` under `key`, unless the record held is more current (checkedAt after the entry's
   * storedAt). Returns the record that now holds the entry, or undefined when it was not taken.
   */
  set(key: string, entry: CacheEntry, options: SetOptions<T> = {}): MemoryRecord<T> | undefined {
    if (entry.storedAt < this.notBefore(key, options.now)) return undefined;
    const held = this.entries.get(key);
    if (held) {
      if (held.checkedAt > entry.storedAt) return undefined;
      this.remove(held);
    }
    const weight = weightOf(entry);
    if (weight > this.maxBytes) return undefined;
    const record: MemoryRecord<T> = {
      key,
      entry,
      bytes: options.bytes ?? encodeBody(entry.body),
      keeping: options.keeping ?? "age",
      stock: options.stock,
      checkedAt: entry.storedAt,
      loadedAt: entry.storedAt,
      readAt: options.now ?? Date.now(),
      weight,
    };
    this.entries.set(key, record);
    this.last = record;
    this.bytes += weight;
    this.evict();
    return record;
  }

  /** Whether `record` is still the one held under its key (not replaced, evicted or cleared). */
  holds(record: MemoryRecord<T>): boolean {
    return this.entries.get(record.key) === record;
  }

  /** The data of `record` was found current as of `checkedAt` (a stock check that changed nothing in it). */
  checked(record: MemoryRecord<T>, checkedAt: number): void {
    if (checkedAt > record.checkedAt) record.checkedAt = checkedAt;
  }

  /** A re-render: `record` now serves `entry`, current as of `checkedAt`. False when it is no longer held. */
  replace(record: MemoryRecord<T>, entry: CacheEntry, bytes: Uint8Array<ArrayBuffer>, stock: T, checkedAt: number): boolean {
    if (!this.holds(record)) return false;
    const weight = weightOf(entry);
    this.bytes += weight - record.weight;
    Object.assign(record, { entry, bytes, stock, weight, checkedAt: Math.max(checkedAt, record.checkedAt) });
    this.evict();
    return true;
  }

  /** Every record held, least recently used first. */
  records(): IterableIterator<MemoryRecord<T>> {
    return this.entries.values();
  }

  delete(key: string): void {
    const held = this.entries.get(key);
    if (held) this.remove(held);
  }

  /** Drops `record` if it is still the one held under its key. */
  drop(record: MemoryRecord<T>): void {
    if (this.holds(record)) this.remove(record);
  }

  /**
   * Drops `record` (if still held) and remembers that no entry stored before `at` is current for its
   * key: a stock check sent at `at` found a product it shows gone. The layers below may hold such a
   * copy for MAX_AGE_MS more; without this it would come straight back.
   */
  supersede(record: MemoryRecord<T>, at: number): void {
    if (!this.holds(record)) return;
    this.remove(record);
    this.superseded.delete(record.key);
    this.superseded.set(record.key, at);
    // Bounded like the entries; the oldest go first (after MAX_AGE_MS they mean nothing anyway).
    for (const oldest of this.superseded.keys()) {
      if (this.superseded.size <= this.maxEntries) break;
      this.superseded.delete(oldest);
    }
  }

  /** Entries of `key` stored before this are outdated (0: none known). Past MAX_AGE_MS no layer serves them anyway. */
  notBefore(key: string, now = Date.now()): number {
    if (this.superseded.size === 0) return 0;
    const at = this.superseded.get(key);
    if (at === undefined) return 0;
    if (now - at < MAX_AGE_MS) return at;
    this.superseded.delete(key);
    return 0;
  }

  clear(): void {
    this.superseded.clear();
    this.entries.clear();
    this.bytes = 0;
    this.last = undefined;
  }

  private remove(record: MemoryRecord<T>): void {
    this.entries.delete(record.key);
    this.bytes -= record.weight;
    if (this.last === record) this.last = undefined;
  }

  private evict(): void {
    for (const oldest of this.entries.values()) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.remove(oldest);
    }
  }
}

/**
 * Two bytes per character, as if every body were a UTF-16 string: V8 keeps ASCII JSON in one byte
 * per character, which leaves room for what is kept beside the string (its encoded bytes, one byte
 * per character, and the few numbers per product the stock view compares).
 */
function weightOf(entry: CacheEntry): number {
  return 2 * (entry.body.length + entry.etag.length) + 64;
}
