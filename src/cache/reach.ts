import type { ProductListQuery } from "../schemas/products";
import { SHARED_LIST_ROWS } from "./policy";

/**
 * Which layers a catalog read may use (policy.ts, SHARED_LIST_ROWS):
 *   - "shared":    read by many clients, from a small set of keys: every layer, the global store too;
 *   - "long-tail": one of endless possible reads (a search, a filter, a deep page): L0 and the Cache
 *                  API only, never the global store.
 */
export type Reach = "shared" | "long-tail";

/** The parameters of an unfiltered list: every other one (q, category, prices, any added later) filters. */
const UNFILTERED = new Set<string>(["page", "page_size", "sort"]);

/** A list read is shared when nothing filters it and its page starts within the first SHARED_LIST_ROWS rows. */
export function listReach(query: ProductListQuery): Reach {
  const filtered = Object.entries(query).some(([name, value]) => value !== undefined && !UNFILTERED.has(name));
  const offset = (query.page - 1) * query.page_size;
  return filtered || offset >= SHARED_LIST_ROWS ? "long-tail" : "shared";
}
