import { eq, sql } from "drizzle-orm";
import { cartItems, carts } from "../../src/db/schema";
import type { CartBody } from "../../src/schemas/carts";
import { api } from "./api";
import { db } from "./db";
import { jsonRequest } from "./orders";

/**
 * Carts for tests, through the API (POST /api/v1/carts and its lines), and a few direct reads and
 * writes of the carts table for what the API cannot do on demand (let a cart expire). Every cart a
 * test makes is its own: a guest cart's id is random, a customer's belongs to the test's own user.
 */

export type { CartBody };

/** Who sends a cart request: a token, or nobody (a guest). */
export type As = { token?: string | null; ifMatch?: string };

const headersOf = ({ ifMatch }: As): Record<string, string> => (ifMatch === undefined ? {} : { "If-Match": ifMatch });

/** POST /api/v1/carts as `token` (none: a guest). */
export const postCart = (token: string | null = null): Promise<Response> => api("/api/v1/carts", jsonRequest("POST", token));

/** GET /api/v1/carts/{id}. */
export const getCart = (id: string, as: As = {}): Promise<Response> => api(`/api/v1/carts/${id}`, jsonRequest("GET", as.token ?? null));

/** PUT /api/v1/carts/{id}/items/{productId} `{quantity}` (`body` replaces it, for bad bodies). */
export const putItem = (id: string, productId: number | string, quantity: unknown, as: As = {}, body?: unknown): Promise<Response> =>
  api(`/api/v1/carts/${id}/items/${productId}`, jsonRequest("PUT", as.token ?? null, body ?? { quantity }, headersOf(as)));

/** DELETE /api/v1/carts/{id}/items/{productId}. */
export const deleteItem = (id: string, productId: number | string, as: As = {}): Promise<Response> =>
  api(`/api/v1/carts/${id}/items/${productId}`, jsonRequest("DELETE", as.token ?? null, undefined, headersOf(as)));

/** POST /api/v1/carts/{id}/claim as `token`. */
export const claimCart = (id: string, token: string | null): Promise<Response> =>
  api(`/api/v1/carts/${id}/claim`, jsonRequest("POST", token));

/** The cart of a response that must be 200 or 201 (else throws with what it was), and its ETag. */
export async function cartOf(res: Response, status?: number): Promise<CartBody & { etag: string }> {
  if (status === undefined ? res.status !== 200 && res.status !== 201 : res.status !== status) {
    throw new Error(`expected ${status ?? "200 or 201"}, got ${res.status}: ${await res.text()}`);
  }
  return { ...((await res.json()) as CartBody), etag: res.headers.get("ETag")! };
}

/** A cart that must be opened: a new guest cart without a token, else the user's open cart (new or not). */
export async function createCart(token: string | null = null): Promise<CartBody & { etag: string }> {
  return cartOf(await postCart(token));
}

/** Sets a line that must be set; the cart afterwards. */
export async function putItemOk(id: string, productId: number, quantity: number, as: As = {}): Promise<CartBody & { etag: string }> {
  return cartOf(await putItem(id, productId, quantity, as), 200);
}

/** A cart with these lines (`[productId, quantity]`, set in this order), opened as `token` (none: a guest). */
export async function cartWith(lines: Array<[number, number]>, token: string | null = null): Promise<CartBody & { etag: string }> {
  let cart = await createCart(token);
  for (const [productId, quantity] of lines) cart = await putItemOk(cart.id, productId, quantity, { token });
  return cart;
}

/** The carts row as stored (status, version, user, times). */
export async function cartRow(id: string): Promise<typeof carts.$inferSelect | undefined> {
  return (await db.select().from(carts).where(eq(carts.id, id)))[0];
}

/** Moves a cart's expires_at `secondsAgo` into the past (its status stays what it was). */
export async function expireCart(id: string, secondsAgo = 1): Promise<void> {
  await db.execute(sql`update carts set expires_at = now() - make_interval(secs => ${secondsAgo}::int) where id = ${id}`);
}

/** Sets a cart's status directly (e.g. `checked_out`, which only the checkout writes). */
export async function setCartStatus(id: string, status: (typeof carts.$inferSelect)["status"]): Promise<void> {
  await db.update(carts).set({ status }).where(eq(carts.id, id));
}

/**
 * Lines of quantity 1 straight into cart_items, in the order given (for tests that need a full cart,
 * not the PUT that fills it); the cart's version does not move.
 */
export async function insertLines(cartId: string, productIds: number[]): Promise<void> {
  const start = Date.now();
  await db.insert(cartItems).values(productIds.map((productId, i) => ({ cartId, productId, quantity: 1, addedAt: new Date(start + i) })));
}
