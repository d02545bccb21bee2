import { describe, expect, it } from "vitest";
import { GREETING_NAME_MAX_CHARS, GREETING_NAME_MAX_WORDS, greetingName } from "../../src/queue/greeting-name";

// Which full names an order e-mail may greet with. Anyone can register anyone's address under any
// name, so the name must never carry a link, an address, a number or a line of instructions into a
// genuine e-mail from the shop: what does not look like a name is left out, never cleaned up.

describe("the name an order e-mail greets with", () => {
  it.each([
    "Ann Buyer",
    "José María O'Neil-Smith",
    "J. R. R. Tolkien",
    "Martin Luther King Jr.",
    "D\u2019Artagnan",
    "Anne\u2010Marie Dubois",
    "Zoë Saldaña",
    // A decomposed ë: a letter and its combining mark.
    "Zoe\u0308 Saldan\u0303a",
    "Nguyễn Văn An",
    "李小龙",
    "محمد عبد الله",
    "अमित कुमार",
    "María de los Ángeles García López",
  ])("greets %j by name", (name) => {
    expect(greetingName(name)).toBe(name);
  });

  it("trims the name it greets with", () => {
    expect(greetingName("  Ann Buyer  ")).toBe("Ann Buyer");
  });

  it.each([
    ["a link and an instruction", "Click https://evil.example to get a refund"],
    ["a bare domain", "evil.example"],
    ["a domain with www", "www.evil.example"],
    ["a domain after a real name", "Ann evil.example"],
    ["an address", "support@evil.example"],
    ["a path", "evil/refund"],
    ["a colon", "Refund: call us"],
    ["a phone number", "Ann call 0800 123 456"],
    ["a digit", "Ann2"],
    ["a newline", "Ann\nClick here for your refund"],
    ["a carriage return and a header", "Ann\r\nBcc: victim"],
    ["a tab", "Ann\tBuyer"],
    ["a NUL", "Ann\u0000Buyer"],
    ["a C1 control character", "Ann\u0085Buyer"],
    ["a right-to-left override", "Ann\u202eBuyer"],
    ["a zero-width space", "Ann\u200bBuyer"],
    ["HTML", "<a href=x>Ann</a>"],
    ["an ideographic full stop (a dot to IDNA)", "evil\u3002example"],
    ["fullwidth letters and full stop", "ｅｖｉｌ．ｅｘａｍｐｌｅ"],
    ["two periods", "Ann..Buyer"],
    ["a period inside a word", "Dr.Who"],
    ["two spaces", "Ann  Buyer"],
    ["a leading hyphen", "-Ann"],
    ["a trailing hyphen", "Ann-"],
    ["only a period", "."],
    ["only spaces", "   "],
    ["an empty string", ""],
  ])("greets without a name that holds %s", (_, name) => {
    expect(greetingName(name)).toBeNull();
  });

  it("greets without a name it does not have", () => {
    expect(greetingName(null)).toBeNull();
    expect(greetingName(undefined)).toBeNull();
  });

  it(`greets without a name longer than ${GREETING_NAME_MAX_CHARS} characters or of more than ${GREETING_NAME_MAX_WORDS} words`, () => {
    const longest = `${"A".repeat(24)} ${"B".repeat(GREETING_NAME_MAX_CHARS - 25)}`;
    expect([...longest]).toHaveLength(GREETING_NAME_MAX_CHARS);
    expect(greetingName(longest)).toBe(longest);
    expect(greetingName(`${longest}b`)).toBeNull();
    // Characters, not UTF-16 units: 50 letters outside the BMP are still a name's length.
    const astral = "\u{20000}".repeat(GREETING_NAME_MAX_CHARS);
    expect(greetingName(astral)).toBe(astral);

    const words = (n: number) => Array.from({ length: n }, () => "Abc").join(" ");
    expect(greetingName(words(GREETING_NAME_MAX_WORDS))).toBe(words(GREETING_NAME_MAX_WORDS));
    expect(greetingName(words(GREETING_NAME_MAX_WORDS + 1))).toBeNull();
    // The longest name registration accepts, made of letters and spaces only: a sentence, not a name.
    const sentence = "Your account has been locked please reply to this message with your password ".repeat(3).slice(0, 200).trim();
    expect(greetingName(sentence)).toBeNull();
  });
});
