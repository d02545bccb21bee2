import { describe, expect, it } from "vitest";
import { randomUrlSafeId } from "../../src/lib/random-id";

describe("randomUrlSafeId", () => {
  it("writes 18 random bytes as 24 base64url characters, no padding", () => {
    for (let i = 0; i < 200; i++) expect(randomUrlSafeId(18)).toMatch(/^[A-Za-z0-9_-]{24}$/);
  });

  it("writes 4 characters for every 3 bytes, and leaves the padding off otherwise", () => {
    expect(randomUrlSafeId(3)).toHaveLength(4);
    expect(randomUrlSafeId(16)).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it("uses the whole alphabet, the URL-safe characters included, and never repeats", () => {
    const ids = Array.from({ length: 2000 }, () => randomUrlSafeId(18));
    expect(new Set(ids).size).toBe(ids.length);
    const characters = new Set(ids.join(""));
    expect(characters.size).toBe(64);
    expect(characters.has("-") && characters.has("_")).toBe(true);
  });
});
