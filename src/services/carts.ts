import type { Database } from "../db/client";
import { ApiError } from "../errors";
import type { AuthenticatedUser } from "../lib/access-token";
import { strongOpaqueValues, type IfMatch } from "../lib/entity-tags";
import { randomUrlSafeId } from "../lib/random-id";
import { CART_ID_BYTES, MAX_CART_LINES, type CartBody, type CartKey } from "../schemas/carts";
import {
  claimStatement,
  createGuestCartStatement,
  lockAccountStatement,
  lockCartStatement,
  lockClaimedCartsStatement,
  openCartStatement,
  readCartStatement,
  readOwnCartStatement,
  removeItemStatement,
  setItemStatement,
  type CartCaller,
  type CartRow,
  type CartWriteRow,
} from "./cart-sql";
import { TOKEN_ACCOUNT_GONE, tokenRefused } from "./tokens";

/**
 * Carts (docs/api.md "Carts"): each operation is ONE database round trip, a statement or a neon-http
 * batch (one transaction), that decides and writes inside Postgres (cart-sql.ts says how and why).
 * The caller's token, when there is one, is checked in the same round trip: its account must exist
 * at the token's version, else 401 and nothing is read or written.
 */

export type { CartCaller };

/** A cart as a response carries it: its body and its ETag. */
export type CartView = { etag: string; body: CartBody };

/** The cart's ETag: its version, a strong tag (`"7"`). It changes with every change of the cart. */
export const cartEtag = (version: number): string => `"${version}"`;

const CART_NOT_FOUND = "Cart not found";
const MAX_VERSION = 2_147_483_647;
/** The opaque part of an ETag this API writes: a version in decimal, no leading zero (strong comparison is by character). */
const VERSION_TEXT = /^(0|[1-9][0-9]{0,9})$/;

/**
 * The versions an If-Match accepts: undefined for none or `*` (any cart that exists for the caller:
 * one that does not is 404 anyway), else those of its strong tags that are versions (possibly none).
 */
function acceptedVersions(ifMatch: IfMatch | undefined): number[] | undefined {
  if (ifMatch === undefined || ifMatch === "*") return undefined;
  return strongOpaqueValues(ifMatch)
    .filter((value) => VERSION_TEXT.test(value))
    .map(Number)
    .filter((version) => version <= MAX_VERSION);
}

/** The cart a read found: 401 for a token that is not current, 404 for no cart the caller may use. */
function viewOf(row: CartRow | undefined): CartView {
  if (!row?.authorized) throw tokenRefused(TOKEN_ACCOUNT_GONE);
  if (row.body === null || row.version === null) throw ApiError.notFound(CART_NOT_FOUND);
  return { etag: cartEtag(row.version), body: row.body };
}

/** A write's refusal as the API's error, or nothing for `ok` (and a claim's `own`, `move`, `merge`). */
function refusalOf(row: CartWriteRow | undefined, productId?: number, quantity?: number): ApiError | undefined {
  if (!row) throw new Error("a cart statement returned no row");
  switch (row.outcome) {
    case "unauthorized":
      return tokenRefused(TOKEN_ACCOUNT_GONE);
    case "cart_not_found":
    case "not_found":
      return ApiError.notFound(CART_NOT_FOUND);
    case "precondition_failed":
      return new ApiError(
        412,
        "precondition_failed",
        `The cart has changed: its ETag is ${cartEtag(row.version ?? 0)}, which If-Match does not name; read it again`,
      );
    case "product_not_found":
      return ApiError.notFound(`Product ${productId} not found`);
    case "line_not_found":
      return ApiError.notFound(`The cart has no line for product ${productId}`);
    case "insufficient_stock":
      return new ApiError(409, "insufficient_stock", `Not enough stock for product ${productId}`, [
        { product_id: productId, requested: quantity, available: row.available },
      ]);
    case "cart_full":
      return productId === undefined
        ? new ApiError(409, "cart_full", `Merging the carts would make ${row.lines} lines; a cart holds at most ${MAX_CART_LINES}`)
        : new ApiError(409, "cart_full", `A cart holds at most ${MAX_CART_LINES} lines; remove one before adding another`);
    default:
      return undefined;
  }
}

/**
 * POST /carts. A guest (no caller) gets a new guest cart. A customer gets their open cart, or a new
 * one when they have none (`created`); racing calls for one customer make one cart, and all answer it.
 */
export async function createCart(db: Database, caller: CartCaller): Promise<{ created: boolean; cart: CartView }> {
  const id = randomUrlSafeId(CART_ID_BYTES);
  let row: (CartRow & { created: boolean }) | undefined;
  if (caller) {
    const [, result] = await db.batch([
      db.execute(lockAccountStatement(caller)),
      db.execute<CartRow & { created: boolean }>(openCartStatement(caller, id)),
    ]);
    row = result.rows[0];
    if (row?.authorized && row.body === null) throw new Error("the caller has no open cart after opening one");
  } else {
    row = (await db.execute<CartRow & { created: boolean }>(createGuestCartStatement(id))).rows[0];
  }
  return { created: row?.created === true, cart: viewOf(row) };
}

/** GET /carts/{id}: one statement. */
export async function getCart(db: Database, caller: CartCaller, id: CartKey): Promise<CartView> {
  return viewOf((await db.execute<CartRow>(readCartStatement(id, caller))).rows[0]);
}

/** A line's new quantity, and the If-Match of the request. */
export type SetCartItem = { id: CartKey; productId: number; quantity: number; ifMatch?: IfMatch };

/** PUT /carts/{id}/items/{product_id}: sets the line's quantity (adding the line when absent); the cart as it then is. */
export async function setCartItem(db: Database, caller: CartCaller, item: SetCartItem): Promise<CartView> {
  const { id, productId, quantity } = item;
  const set = setItemStatement({ id, caller, productId, quantity, versions: acceptedVersions(item.ifMatch) });
  const [, written, read] = await db.batch([
    db.execute(lockCartStatement(id, caller)),
    db.execute<CartWriteRow>(set),
    db.execute<CartRow>(readCartStatement(id, caller)),
  ]);
  const refusal = refusalOf(written.rows[0], productId, quantity);
  if (refusal) throw refusal;
  return viewOf(read.rows[0]);
}

/** The line to remove, and the If-Match of the request. */
export type RemoveCartItem = { id: CartKey; productId: number; ifMatch?: IfMatch };

/** DELETE /carts/{id}/items/{product_id}: removes the line (404 when the cart has none); the cart as it then is. */
export async function removeCartItem(db: Database, caller: CartCaller, item: RemoveCartItem): Promise<CartView> {
  const { id, productId } = item;
  const remove = removeItemStatement({ id, caller, productId, versions: acceptedVersions(item.ifMatch) });
  const [, removed, read] = await db.batch([
    db.execute(lockCartStatement(id, caller)),
    db.execute<CartWriteRow>(remove),
    db.execute<CartRow>(readCartStatement(id, caller)),
  ]);
  const refusal = refusalOf(removed.rows[0], productId);
  if (refusal) throw refusal;
  return viewOf(read.rows[0]);
}

/**
 * POST /carts/{id}/claim: a guest cart becomes the caller's, or merges into the caller's open cart
 * (cart-sql.ts, claimStatement); the answer is the caller's cart. One batch of four statements: the
 * account locked, both carts locked in id order, the claim, the caller's cart read.
 */
export async function claimCart(db: Database, caller: AuthenticatedUser, id: CartKey): Promise<CartView> {
  const [, , claimed, read] = await db.batch([
    db.execute(lockAccountStatement(caller)),
    db.execute(lockClaimedCartsStatement(id, caller)),
    db.execute<CartWriteRow>(claimStatement(id, caller)),
    db.execute<CartRow>(readOwnCartStatement(caller)),
  ]);
  const refusal = refusalOf(claimed.rows[0]);
  if (refusal) throw refusal;
  return viewOf(read.rows[0]);
}
