/**
 * Entity tags and the If-Match precondition as RFC 9110 defines them (sections 8.8.3 and 13.1.1), with
 * no knowledge of what a tag stands for: the routes decide what their ETags are.
 */

/** One entity tag: `"abc"` (strong) or `W/"abc"` (weak); `opaque` is what is between the quotes. */
export type EntityTag = { weak: boolean; opaque: string };

/** An If-Match field: `*` (any current representation) or a list of entity tags (possibly empty). */
export type IfMatch = "*" | EntityTag[];

// entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E / obs-text. A list element is
// surrounded by optional whitespace (space, tab) and ends at a comma or at the end; empty elements
// (`, ,`) are allowed, as RFC 9110 5.6.1 asks of a recipient. Sticky: each match starts where the last ended.
const LIST_ELEMENT = /[ \t]*(?:(W\/)?"([\x21\x23-\x7e\x80-\xff]*)")?[ \t]*(?:,|$)/y;

/**
 * The If-Match field value `value` parsed, or null when it is neither `*` nor a list of entity tags
 * (an unquoted `3`, a lower-case `w/`, `*` inside a list, two tags without a comma between them).
 */
export function parseIfMatch(value: string): IfMatch | null {
  const field = value.trim();
  if (field === "*") return "*";
  const tags: EntityTag[] = [];
  let at = 0;
  while (at < field.length) {
    LIST_ELEMENT.lastIndex = at;
    const element = LIST_ELEMENT.exec(field);
    // A match that consumes nothing before the end is a character no list element can start with.
    if (!element || element[0] === "") return null;
    if (element[2] !== undefined) tags.push({ weak: element[1] !== undefined, opaque: element[2] });
    at = LIST_ELEMENT.lastIndex;
  }
  return tags;
}

/**
 * The opaque values an If-Match list accepts. If-Match compares strongly (RFC 9110 13.1.1): a weak
 * tag never matches, whatever it holds, so only the strong tags' values are kept.
 */
export function strongOpaqueValues(tags: readonly EntityTag[]): string[] {
  return tags.filter((tag) => !tag.weak).map((tag) => tag.opaque);
}
