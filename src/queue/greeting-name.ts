/**
 * Whether a customer's full_name may stand in an e-mail's greeting. Anyone can register any address
 * with any name, so the name is text a stranger chose, in a genuine e-mail from the shop to someone
 * else's inbox: it must not be able to carry a link, an address, a phone number or a line of
 * instructions. A name that does not look like a name is left out ("Hello,"), never repaired: a
 * cleaned-up half of a phishing text would still be one.
 *
 * A name is words of letters (any script, with their combining marks), joined by one space, a hyphen
 * or an apostrophe; a word may end in a period when a space or the end follows ("J. R. R. Tolkien",
 * "King Jr."), so no "evil.example". No digits, no "@", "/" or ":", no other punctuation, no
 * control or invisible characters, no line breaks.
 */

/** Longer than this (in characters) is a sentence, not a name: the longest real names fit with room to spare. */
export const GREETING_NAME_MAX_CHARS = 50;

/** More words than this is a sentence too ("María de los Ángeles García López" has six). */
export const GREETING_NAME_MAX_WORDS = 6;

const WORD = String.raw`\p{L}[\p{L}\p{M}]*`;
// One space, an apostrophe (ASCII or U+2019), a hyphen (ASCII or U+2010), or a period and a space.
const JOINER = String.raw`(?:[ '\u2019\-\u2010]|\. )`;
const NAME = new RegExp(String.raw`^${WORD}(?:${JOINER}${WORD})*\.?$`, "u");

/** The name to greet with, or null when the greeting should go without one. */
export function greetingName(fullName: string | null | undefined): string | null {
  if (!fullName) return null;
  const name = fullName.trim();
  if ([...name].length > GREETING_NAME_MAX_CHARS) return null;
  if (name.split(" ").length > GREETING_NAME_MAX_WORDS) return null;
  return NAME.test(name) ? name : null;
}
