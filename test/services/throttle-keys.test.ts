/** Specification of src/services/throttle-keys.ts: which client and which account an attempt is counted against. */
import { describe, expect, it } from "vitest";
import { accountKeyFor, clientKeyFor } from "../../src/services/throttle-keys";

describe("clientKeyFor", () => {
  it.each([
    ["203.0.113.7", "203.0.113.7"],
    [" 203.0.113.7 ", "203.0.113.7"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:DB8:0001:0002::9", "2001:db8:1:2::/64"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["::ffff:203.0.113.7", "::ffff:203.0.113.7"],
  ])("counts %j as %j", (header, key) => {
    expect(clientKeyFor(header)).toBe(key);
  });

  it("counts the addresses of one IPv6 /64 as one client", () => {
    expect(clientKeyFor("2001:db8:aa:bb:1::1")).toBe(clientKeyFor("2001:db8:aa:bb:ffff:ffff:ffff:ffff"));
    expect(clientKeyFor("2001:db8:aa:bb::1")).not.toBe(clientKeyFor("2001:db8:aa:bc::1"));
  });

  it.each([
    [undefined],
    [""],
    ["not an ip"],
    ["1.2.3"],
    ["1:2:3"],
    ["x".repeat(1000)],
    ["1::2::3"],
    ["1:2:3:4:5:6:7:8:9"],
    ["::1:2:3:4:5:6:7:8"],
    ["12345::1"],
  ])("counts a missing or unusable header (%j) as unknown", (header) => {
    expect(clientKeyFor(header)).toBe("unknown");
  });
});

describe("accountKeyFor", () => {
  it("keys an account by its email in any case and with surrounding spaces", async () => {
    const key = await accountKeyFor("Ada@Example.com");
    expect(await accountKeyFor(" ada@example.COM ")).toBe(key);
    expect(await accountKeyFor("bob@example.com")).not.toBe(key);
  });

  it("is a fixed-length digest that does not contain the address", async () => {
    const key = await accountKeyFor("ada@example.com");
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(key).not.toContain("ada");
  });
});
