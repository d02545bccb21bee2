import { describe, expect, it } from "vitest";
import { createEntry, decodeEntry, encodeEntry, etagOf, freshnessOf, remainingSeconds } from "../../src/cache/entry";
import { FRESH_MS, MAX_AGE_MS } from "../../src/cache/policy";

describe("entries", () => {
  it("are fresh, then stale, then expired by the age of their data", async () => {
    const now = Date.now();
    const at = async (age: number) => freshnessOf(await createEntry("{}", now - age), now);
    expect(await at(0)).toBe("fresh");
    expect(await at(FRESH_MS - 1)).toBe("fresh");
    expect(await at(FRESH_MS)).toBe("stale");
    expect(await at(MAX_AGE_MS - 1)).toBe("stale");
    expect(await at(MAX_AGE_MS)).toBe("expired");
    expect(freshnessOf(await createEntry("{}", now + 500), now)).toBe("fresh"); // another clock a little ahead
    expect(remainingSeconds(await createEntry("{}", now - 1200), now)).toBe(3);
    expect(remainingSeconds(await createEntry("{}", now - 9000), now)).toBe(0);
  });

  it("carry a strong ETag of the body", async () => {
    const tag = await etagOf('{"a":1}');
    expect(tag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    expect(await etagOf('{"a":1}')).toBe(tag);
    expect(await etagOf('{"a":2}')).not.toBe(tag);
  });

  it("survive encoding, body untouched, and anything else decodes to nothing", async () => {
    const entry = await createEntry('{"name":"line\\nbreak","x":"\\u2028"}', 1_700_000_000_123);
    expect(decodeEntry(encodeEntry(entry))).toEqual(entry);
    for (const junk of [null, "", "garbage", "1\n2", 'x\n"e"\n{}', "1\nnot-quoted\n{}"]) expect(decodeEntry(junk)).toBeUndefined();
  });
});
