import { sha256Hex } from "../lib/sha256-hex";
import type { OrderLine } from "../schemas/orders";

/**
 * What makes two POST /api/v1/orders requests "the same request" for their Idempotency-Key: the
 * method, the path and the merged lines sorted by product, so the same order written in another line
 * order or with split lines is the same request. The order service only compares the fingerprints
 * (src/services/order-idempotency.ts); what a request is stays here, beside the route.
 */

/**
 * SHA-256 (hex) of the canonical request. Stored with every key: changing what goes into it would make
 * every key stored within its 24 hours answer 409 to its own retry.
 */
export async function requestFingerprint(lines: readonly OrderLine[]): Promise<string> {
  const canonical = JSON.stringify({
    method: "POST",
    path: "/api/v1/orders",
    items: [...lines].sort((a, b) => a.product_id - b.product_id).map((l) => [l.product_id, l.quantity]),
  });
  return sha256Hex(canonical);
}

/**
 * The same for POST /api/v1/carts/{id}/checkout: the cart is the request (it has no body), so one
 * Idempotency-Key used for two carts, or for an order and a checkout, is a conflict.
 */
export async function checkoutFingerprint(cartId: string): Promise<string> {
  return sha256Hex(JSON.stringify({ method: "POST", path: `/api/v1/carts/${cartId}/checkout` }));
}
