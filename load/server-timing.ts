/**
 * Reading the `Server-Timing` header the Worker sends (src/observability/server-timing.ts). With
 * SERVER_TIMING=detail (wrangler.toml's local default) every response carries
 *
 *   db;dur=12.5;desc="3 queries", redis;desc="1 call", cache;dur=0.8;desc="HIT", total;dur=20.1
 *
 * so a load tool gets the database and Redis round trips of each request from the Worker's own count,
 * exact, without asking the SQL or Upstash server. Deployed environments send less ("total") or nothing ("off").
 */

/** One metric of the header: `name;dur=…;desc="…"`. */
export interface ServerTimingEntry {
  name: string;
  /** Milliseconds, or null when the entry has no (numeric) `dur`. */
  dur: number | null;
  /** The description without its quotes, or null. */
  desc: string | null;
}

/**
 * Every entry of a Server-Timing header (RFC: a comma-separated list of `name *(; param=value)`), in
 * order; [] for none. Quoted values may hold commas and semicolons, so this is a small tokenizer rather
 * than a split.
 */
export function parseServerTiming(header: string | null | undefined): ServerTimingEntry[] {
  if (!header) return [];
  const entries: ServerTimingEntry[] = [];
  for (const raw of splitOutsideQuotes(header, ",")) {
    const [name, ...params] = splitOutsideQuotes(raw, ";").map((part) => part.trim());
    if (!name) continue;
    let dur: number | null = null;
    let desc: string | null = null;
    for (const param of params) {
      const eq = param.indexOf("=");
      if (eq < 0) continue;
      const key = param.slice(0, eq).trim().toLowerCase();
      const value = unquote(param.slice(eq + 1).trim());
      if (key === "dur" && value !== "" && Number.isFinite(Number(value))) dur = Number(value);
      else if (key === "desc") desc = value;
    }
    entries.push({ name, dur, desc });
  }
  return entries;
}

/**
 * The database round trips the Worker counted for this request: `db;desc="3 queries"` → 3. Null when
 * the header has no `db` entry or its description holds no count (SERVER_TIMING other than "detail").
 */
export function serverTimingDbCount(header: string | null | undefined): number | null {
  return countOf(header, "db", /^(\d+) quer(?:y|ies)$/);
}

/**
 * The Upstash REST requests the Worker counted before answering: `redis;desc="2 calls"` → 2. Null
 * without a `redis` entry (SERVER_TIMING other than "detail", or a Worker from before it had one).
 */
export function serverTimingRedisCount(header: string | null | undefined): number | null {
  return countOf(header, "redis", /^(\d+) calls?$/);
}

function countOf(header: string | null | undefined, name: string, pattern: RegExp): number | null {
  const entry = parseServerTiming(header).find((e) => e.name === name);
  const count = entry?.desc ? pattern.exec(entry.desc.trim())?.[1] : undefined;
  return count === undefined ? null : Number(count);
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted && ch === "\\" && i + 1 < text.length) {
      current += ch + text[++i];
      continue;
    }
    if (ch === '"') quoted = !quoted;
    if (ch === separator && !quoted) {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) return value.slice(1, -1).replace(/\\(.)/g, "$1");
  return value;
}
