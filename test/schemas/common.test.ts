/**
 * Specification of text() and textProblem (src/schemas/common.ts): which characters text may hold.
 * The routes' side of it (every field of every route uses it) is test/routes/text-input.test.ts.
 */
import { describe, expect, it } from "vitest";
import {
  CONTROL_CHARACTER_MESSAGE,
  LONE_SURROGATE_MESSAGE,
  MULTILINE_CONTROL_CHARACTER_MESSAGE,
  MoneyInputSchema,
  text,
  textProblem,
} from "../../src/schemas/common";

// Unicode's control characters (category Cc): C0, DEL and C1.
const CONTROLS = [...Array.from({ length: 0x20 }, (_, i) => i), ...Array.from({ length: 0x21 }, (_, i) => 0x7f + i)];
const LINE_AND_TAB = [0x09, 0x0a, 0x0d];
const hex = (code: number) => `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;

describe("textProblem", () => {
  it("takes ordinary text of any script, and characters beyond the BMP", () => {
    for (const value of ["", "Ada Lovelace", "Zoë", "山田太郎", "مرحبا", "🚀 rocket", "a\u2028b", "100 % off_"]) {
      expect(textProblem(value), value).toBeNull();
    }
  });

  it.each(CONTROLS.map((code) => [hex(code), code]))("refuses %s", (_name, code) => {
    expect(textProblem(`a${String.fromCharCode(code)}b`)).toBe(CONTROL_CHARACTER_MESSAGE);
  });

  it("lets multiline text hold tab, line feed and carriage return, and no other control character", () => {
    for (const code of CONTROLS) {
      const problem = textProblem(`a${String.fromCharCode(code)}b`, { multiline: true });
      expect(problem, hex(code)).toBe(LINE_AND_TAB.includes(code) ? null : MULTILINE_CONTROL_CHARACTER_MESSAGE);
    }
  });

  it("refuses a lone surrogate, high or low, at either end or inside, and takes a pair", () => {
    for (const value of ["\ud83d", "\ude80", "a\ud83d", "\ude80a", "a\ud83db", "\ude80\ud83d"]) {
      expect(textProblem(value), JSON.stringify(value)).toBe(LONE_SURROGATE_MESSAGE);
    }
    expect(textProblem("\ud83d\ude80")).toBeNull();
  });
});

describe("text()", () => {
  const messages = (result: { success: boolean; error?: { issues: Array<{ message: string }> } }) =>
    result.error?.issues.map((issue) => issue.message) ?? [];

  it("says a missing value is required and a value of another type must be a string", () => {
    expect(messages(text().safeParse(undefined))).toEqual(["is required"]);
    expect(messages(text().safeParse(42))).toEqual(["must be a string"]);
  });

  it("checks the characters before the rules chained after it, and stops there", () => {
    const schema = text().trim().min(5, "too short").max(6, "too long").pipe(text().regex(/^x+$/, "not x"));
    expect(messages(schema.safeParse("\u0000"))).toEqual([CONTROL_CHARACTER_MESSAGE]);
    expect(messages(schema.safeParse(`${"y".repeat(20)}\n`))).toEqual([CONTROL_CHARACTER_MESSAGE]);
    expect(messages(schema.safeParse("\ud83dxxxxx"))).toEqual([LONE_SURROGATE_MESSAGE]);
    expect(messages(schema.safeParse(" xxxxx "))).toEqual([]);
  });

  it("takes lines and tabs only when multiline", () => {
    expect(text({ multiline: true }).safeParse("a\r\n\tb").success).toBe(true);
    expect(messages(text().safeParse("a\r\n\tb"))).toEqual([CONTROL_CHARACTER_MESSAGE]);
  });
});

describe("MoneyInputSchema", () => {
  it("answers a control character in a money string as any text, not as a malformed amount", () => {
    const result = MoneyInputSchema.safeParse("1\u00000");
    expect(result.error?.issues.map((issue) => issue.message)).toEqual([CONTROL_CHARACTER_MESSAGE]);
    expect(MoneyInputSchema.safeParse("19.99").data).toBe("19.99");
    expect(MoneyInputSchema.safeParse(5).data).toBe("5.00");
  });
});
