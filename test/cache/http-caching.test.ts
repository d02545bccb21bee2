import { describe, expect, it } from "vitest";
import { ifNoneMatch } from "../../src/cache/http-caching";

describe("If-None-Match", () => {
  it("matches by weak comparison, in lists, and *", () => {
    const tag = '"abc"';
    expect(ifNoneMatch('"abc"', tag)).toBe(true);
    expect(ifNoneMatch('W/"abc"', tag)).toBe(true);
    expect(ifNoneMatch('"x", "abc"', tag)).toBe(true);
    expect(ifNoneMatch("*", tag)).toBe(true);
    expect(ifNoneMatch('"abcd"', tag)).toBe(false);
    expect(ifNoneMatch("abc", tag)).toBe(false);
    expect(ifNoneMatch(undefined, tag)).toBe(false);
  });
});
