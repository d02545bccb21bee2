import type { Database } from "../db/client";
import { renderEntry } from "./entry";
import type { MemoryCache, MemoryRecord } from "./memory";
import { STOCK_MAX_IDS, STOCK_READ_WINDOW_MS, STOCK_REFRESH_MS } from "./policy";

/**
 * The stock view: what keeps L0 entries of product lists and details current without reloading
 * them. Per isolate and cache scope, at most once per STOCK_REFRESH_MS and one at a time, ONE
 * statement reads stock, updated_at and deleted_at of every product shown by an L0 entry that was
 * served within STOCK_READ_WINDOW_MS. When it lands:
 *   - an entry whose products did not change is current as of the moment the statement was sent;
 *   - an entry whose products' stock or updated_at changed is re-rendered once (body, bytes, ETag),
 *     then current as of that moment too;
 *   - an entry showing a product that was deleted or is gone is dropped (a list would lose an item,
 *     a detail would be 404: both need a real load), and so is one whose product's updated_at moved
 *     while its stock did not: that was no order, so something else may have changed.
 * Orders and cancellations change exactly stock and updated_at (src/services/order-placement-sql.ts,
 * order-cancel.ts), and no list filters or sorts by either, so a patched body is what a load would return. Anything else changed
 * behind the API's back waits for MEMORY_MAX_LIFETIME_MS; admin writes bump the version.
 */

/** One product as a cached body shows it: what a stock check compares. */
export type ShownStock = { readonly id: number; readonly stock: number; readonly updated_at: string };

/** A product's stock as the database has it (src/services/products.ts `productStocks`). */
export type CurrentStock = { id: number; stock: number; updated_at: string; deleted: boolean };

/** Reads the current stock of these products, in one statement; products that do not exist are left out. */
export type StockReader = (db: Database, ids: readonly number[]) => Promise<CurrentStock[]>;

/** How a read's body shows products: where the view finds them, and how it reads their stock. */
export type StockShape = {
  /** The product objects of a parsed body (patched in place by a re-render), or undefined when it has another shape. */
  readonly productsIn: (data: unknown) => unknown[] | undefined;
  readonly read: StockReader;
};

/** What an L0 record kept by the view carries. */
export type StockTracking = { readonly shape: StockShape; readonly shown: readonly ShownStock[] };

/** What one refresh did, for tests and logs. */
export type StockRefresh = { ids: number; checked: number; rerendered: number; dropped: number };

/** The products a body shows, or undefined when it is not the shape expected (it is then kept by age). */
export function trackStock(body: string, shape: StockShape): StockTracking | undefined {
  let products: unknown[] | undefined;
  try {
    products = shape.productsIn(JSON.parse(body));
  } catch {
    return undefined;
  }
  if (!products) return undefined;
  const shown: ShownStock[] = [];
  for (const product of products) {
    if (!isShownStock(product)) return undefined;
    shown.push({ id: product.id, stock: product.stock, updated_at: product.updated_at });
  }
  return { shape, shown };
}

function isShownStock(value: unknown): value is ShownStock {
  if (typeof value !== "object" || value === null) return false;
  const { id, stock, updated_at } = value as Record<string, unknown>;
  return Number.isSafeInteger(id) && Number.isSafeInteger(stock) && typeof updated_at === "string";
}

/** The body with the stock and updated_at of `current` (which holds every product shown), and what it now shows. */
function rerender(
  body: string,
  tracking: StockTracking,
  current: ReadonlyMap<number, CurrentStock>,
): { body: string; tracking: StockTracking } {
  const data: unknown = JSON.parse(body);
  const shown: ShownStock[] = [];
  for (const product of tracking.shape.productsIn(data) ?? []) {
    const target = product as { id: number; stock: number; updated_at: string };
    const now = current.get(target.id)!;
    target.stock = now.stock;
    target.updated_at = now.updated_at;
    shown.push({ id: now.id, stock: now.stock, updated_at: now.updated_at });
  }
  return { body: JSON.stringify(data), tracking: { shape: tracking.shape, shown } };
}

type Group = { ids: Set<number>; records: Array<MemoryRecord<StockTracking>> };

export class StockView {
  /** When the last refresh was sent (started even if it failed: at most one statement per STOCK_REFRESH_MS). */
  private sentAt = Number.NEGATIVE_INFINITY;
  private running: Promise<StockRefresh> | undefined;
  /** Bumped by clear(): a refresh sent before lands on nothing. */
  private generation = 0;

  constructor(private readonly memory: MemoryCache<StockTracking>) {}

  /** Whether a refresh is under way. */
  get inFlight(): boolean {
    return this.running !== undefined;
  }

  /**
   * Starts a refresh when a read of `record` needs one: its data is STOCK_REFRESH_MS old or more, none
   * is running, and the last was sent STOCK_REFRESH_MS ago or more. Returns it (for waitUntil; it
   * rejects when the statement failed), or undefined when nothing was started.
   */
  refreshFor(record: MemoryRecord<StockTracking>, db: Database | (() => Database), now = Date.now()): Promise<StockRefresh> | undefined {
    if (this.running || now - record.checkedAt < STOCK_REFRESH_MS || now - this.sentAt < STOCK_REFRESH_MS) return undefined;
    this.sentAt = now;
    // A function is only called when a refresh is due: a hit that starts none makes no client.
    const run = this.refresh(typeof db === "function" ? db() : db, now, this.generation).finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }

  /** Forgets every refresh (the catalog version changed, or L0 was emptied): one sent before lands on nothing. */
  clear(): void {
    this.generation++;
    this.running = undefined;
    this.sentAt = Number.NEGATIVE_INFINITY;
  }

  private async refresh(db: Database, sentAt: number, generation: number): Promise<StockRefresh> {
    const groups = this.recentlyRead(sentAt);
    const result: StockRefresh = { ids: 0, checked: 0, rerendered: 0, dropped: 0 };
    const answers = await Promise.all(
      [...groups].map(async ([read, group]) => {
        result.ids += group.ids.size;
        // Nothing shown (empty pages): nothing to read, and nothing that could have changed.
        const rows = group.ids.size === 0 ? [] : await read(db, [...group.ids]);
        return { group, current: new Map(rows.map((row) => [row.id, row])) };
      }),
    );
    if (generation !== this.generation) return result;
    const changed: Array<{ record: MemoryRecord<StockTracking>; current: ReadonlyMap<number, CurrentStock> }> = [];
    for (const { group, current } of answers) {
      for (const record of group.records) {
        if (!this.memory.holds(record)) continue;
        const verdict = compare(record.stock!, current);
        if (verdict === "gone") {
          this.memory.supersede(record, sentAt);
          result.dropped++;
        } else if (verdict === "changed") {
          changed.push({ record, current });
        } else {
          this.memory.checked(record, sentAt);
          result.checked++;
        }
      }
    }
    // Each changed entry is rendered once here, never per request: its bytes and ETag are then served as they are.
    await Promise.all(
      changed.map(async ({ record, current }) => {
        const next = rerender(record.entry.body, record.stock!, current);
        const rendered = await renderEntry(next.body, sentAt);
        if (generation === this.generation && this.memory.replace(record, rendered.entry, rendered.bytes, next.tracking, sentAt))
          result.rerendered++;
      }),
    );
    return result;
  }

  /**
   * The records kept by the view that were served within STOCK_READ_WINDOW_MS, most recently read
   * first, with their product ids per reader (one statement each; in practice there is one reader),
   * at most STOCK_MAX_IDS ids in all: the records that would not fit age by the rules.
   */
  private recentlyRead(now: number): Map<StockReader, Group> {
    const recent: Array<MemoryRecord<StockTracking>> = [];
    for (const record of this.memory.records()) {
      if (record.stock && now - record.readAt < STOCK_READ_WINDOW_MS) recent.push(record);
    }
    recent.sort((a, b) => b.readAt - a.readAt);
    const groups = new Map<StockReader, Group>();
    let total = 0;
    for (const record of recent) {
      const tracking = record.stock!;
      let group = groups.get(tracking.shape.read);
      if (!group) groups.set(tracking.shape.read, (group = { ids: new Set(), records: [] }));
      const fresh = tracking.shown.filter((shown) => !group.ids.has(shown.id));
      if (total + fresh.length > STOCK_MAX_IDS) continue;
      for (const shown of fresh) group.ids.add(shown.id);
      total += fresh.length;
      group.records.push(record);
    }
    return groups;
  }
}

/**
 * "changed": stock moved (an order or cancellation, which bump updated_at with it): patch both.
 * "gone": a product deleted or vanished, or updated_at moved while stock did not, which no order does
 * (an admin write whose version bump failed, or an edit in SQL): only a load can say what changed.
 */
function compare(tracking: StockTracking, current: ReadonlyMap<number, CurrentStock>): "same" | "changed" | "gone" {
  let verdict: "same" | "changed" = "same";
  for (const shown of tracking.shown) {
    const now = current.get(shown.id);
    if (!now || now.deleted) return "gone";
    if (now.stock !== shown.stock) verdict = "changed";
    else if (now.updated_at !== shown.updated_at) return "gone";
  }
  return verdict;
}
