import { describe, expect, it } from "vitest";
import { requestFingerprint } from "../../src/routes/order-fingerprint";
import { mergeLines } from "../../src/schemas/orders";

describe("requestFingerprint", () => {
  it("is the same for the same merged lines in any order, and differs for another order", async () => {
    const one = await requestFingerprint(
      mergeLines([
        { product_id: 1, quantity: 2 },
        { product_id: 2, quantity: 1 },
      ]),
    );
    const same = await requestFingerprint(
      mergeLines([
        { product_id: 2, quantity: 1 },
        { product_id: 1, quantity: 1 },
        { product_id: 1, quantity: 1 },
      ]),
    );
    const other = await requestFingerprint([
      { product_id: 1, quantity: 3 },
      { product_id: 2, quantity: 1 },
    ]);
    expect(one).toMatch(/^[0-9a-f]{64}$/);
    expect(same).toBe(one);
    expect(other).not.toBe(one);
  });
});
