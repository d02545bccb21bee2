import type { Database } from "../db/client";
import { errorFields, log } from "../observability/logging";
import { CatalogLayers, scopeFor } from "./catalog-scope";
import { BUMP_TIMEOUT_MS } from "./policy";

/**
 * Making cached catalog reads stale: the catalog version every cached key carries is bumped, so no
 * entry of the previous version is served again, and this isolate's L0 is emptied at once.
 */

/**
 * Makes every cached catalog read stale at once: bumps the catalog version (Redis INCR, or the
 * cache_versions row in Postgres with KV alone) and empties this isolate's L0. Admin product writes
 * call it after their change is committed and before they answer, so the next read through this
 * isolate is exact and every other isolate's within VERSION_TTL_MS (1 s).
 *
 * Anyone else who changes what catalog reads show, other than stock, and needs it visible before
 * MEMORY_MAX_LIFETIME_MS can call it too, e.g. `await invalidateCatalog({ env: c.env, db: c.get("db") })`.
 * It costs every location one refill per key, so it is not meant for every order: stock changes are
 * covered by the stock view and the 5 s bound without any call.
 *
 * Never throws: when the version store fails, the write stands, this isolate's L0 is emptied, and
 * other isolates may serve the previous catalog: a list or detail showing the product written until
 * their next stock check sees its updated_at move (about a second; if the write changed its stock
 * too, the check takes that and the rest waits), anything else (a new product in a list, a category
 * count) until MEMORY_MAX_LIFETIME_MS. Returns the new version, or undefined when the bump failed.
 */
export async function invalidateCatalog(target: { env: Env; db: Database }): Promise<number | undefined> {
  const scope = scopeFor(target.env);
  scope.forget(undefined);
  const layers = new CatalogLayers(scope, { env: target.env, db: target.db, timeoutMs: BUMP_TIMEOUT_MS });
  try {
    return await scope.version.bump(layers.versions, scope.versionGuard);
  } catch (err) {
    log("error", "catalog version bump failed: other isolates may serve the previous catalog until their entries are checked or reloaded", {
      layer: scope.versionGuard.layer,
      ...errorFields(err),
    });
    return undefined;
  } finally {
    // Again: a load that was under way during the bump must not come back (L0 takes the next version read only).
    scope.forget(undefined);
  }
}

/** Empties this isolate's L0 (and its stock view) for the deployment's scope (tests use it to reach the layers below). */
export function clearCatalogMemory(env: Env): void {
  const scope = scopeFor(env);
  scope.forget(scope.memoryVersion);
}
