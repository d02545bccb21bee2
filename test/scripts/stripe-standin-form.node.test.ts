/**
 * Specification of the stand-in's reading of Stripe's form encoding (scripts/stripe-standin/form.ts):
 * what the official SDK writes (`metadata[order_id]=12`, `expand[0]=…`) and what it never writes but a
 * hand-made request may.
 */
import { describe, expect, it } from "vitest";
import { StripeFailure } from "../../scripts/stripe-standin/errors";
import { canonicalParams, parseForm } from "../../scripts/stripe-standin/form";

describe("parseForm", () => {
  it("reads bracket notation into hashes and indexed or appended names into lists", () => {
    expect(
      parseForm(
        "amount=1999&currency=usd&metadata[order_id]=12&metadata[note]=a+b%26c&automatic_payment_methods[enabled]=true&expand[0]=latest_charge&expand[1]=payment_method",
      ),
    ).toEqual({
      amount: "1999",
      currency: "usd",
      metadata: { order_id: "12", note: "a b&c" },
      automatic_payment_methods: { enabled: "true" },
      expand: ["latest_charge", "payment_method"],
    });
    expect(parseForm("expand[]=a&expand[]=b")).toEqual({ expand: ["a", "b"] });
    expect(parseForm("a%5Bb%5D=1")).toEqual({ a: { b: "1" } });
    expect(parseForm("")).toEqual({});
  });

  it("keeps the last of a repeated name", () => {
    expect(parseForm("amount=1&amount=2")).toEqual({ amount: "2" });
  });

  it("refuses a name given both as a value and as a hash, and a malformed name (400)", () => {
    for (const text of ["metadata=x&metadata[a]=1", "metadata[a]=1&metadata=x", "a[b=1", "[a]=1"]) {
      expect(() => parseForm(text), text).toThrow(StripeFailure);
    }
  });

  it("takes __proto__ as an ordinary name", () => {
    const params = parseForm("metadata[__proto__]=x&__proto__[polluted]=1");
    expect(Object.getPrototypeOf(params)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(params)).toEqual(["metadata", "__proto__"]);
  });
});

describe("canonicalParams", () => {
  it("is the same text for the same parameters in another order, and another for other parameters", () => {
    const a = canonicalParams(parseForm("amount=1&metadata[a]=1&metadata[b]=2"));
    expect(canonicalParams(parseForm("metadata[b]=2&amount=1&metadata[a]=1"))).toBe(a);
    expect(canonicalParams(parseForm("amount=2&metadata[a]=1&metadata[b]=2"))).not.toBe(a);
    expect(canonicalParams(parseForm("expand[0]=a&expand[1]=b"))).not.toBe(canonicalParams(parseForm("expand[0]=b&expand[1]=a")));
  });
});
