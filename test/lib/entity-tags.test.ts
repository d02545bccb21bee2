import { describe, expect, it } from "vitest";
import { parseIfMatch, strongOpaqueValues } from "../../src/lib/entity-tags";

// If-Match as RFC 9110 writes it: "*" / #entity-tag, entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE.

describe("parseIfMatch", () => {
  it.each([
    ["*", "*"],
    [" * ", "*"],
    ['"3"', [{ weak: false, opaque: "3" }]],
    ['W/"3"', [{ weak: true, opaque: "3" }]],
    [
      '"a", W/"b" ,"c"',
      [
        { weak: false, opaque: "a" },
        { weak: true, opaque: "b" },
        { weak: false, opaque: "c" },
      ],
    ],
    ['"a,b"', [{ weak: false, opaque: "a,b" }]],
    ['""', [{ weak: false, opaque: "" }]],
    [
      '\t"1"\t,\t"2"',
      [
        { weak: false, opaque: "1" },
        { weak: false, opaque: "2" },
      ],
    ],
    // Empty list elements are allowed (RFC 9110 5.6.1), and so is an empty list: it matches nothing.
    [', ,"1",', [{ weak: false, opaque: "1" }]],
    ["", []],
  ])("reads %j", (value, expected) => {
    expect(parseIfMatch(value)).toEqual(expected);
  });

  it.each([
    ["an unquoted tag", "3"],
    ["a lower-case weak prefix", 'w/"3"'],
    ["* inside a list", '*, "3"'],
    ["two tags without a comma", '"1" "2"'],
    ["an unterminated tag", '"1'],
    ["a space inside the quotes", '" 1"'],
    ["a quote inside the quotes", '"a"b"'],
    ["a control character", '"\u0001"'],
    ["text after a tag", '"1"x'],
  ])("refuses %s", (_what, value) => {
    expect(parseIfMatch(value)).toBeNull();
  });
});

describe("strongOpaqueValues", () => {
  it("keeps the strong tags only: If-Match never matches a weak one", () => {
    expect(
      strongOpaqueValues([
        { weak: false, opaque: "1" },
        { weak: true, opaque: "2" },
        { weak: false, opaque: "x" },
      ]),
    ).toEqual(["1", "x"]);
  });
});
