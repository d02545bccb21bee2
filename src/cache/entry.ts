import { FRESH_MS, MAX_AGE_MS, STALE_IF_ERROR_MS } from "./policy";

/**
 * What every layer stores for one key: the JSON body exactly as sent, its strong ETag and the time
 * its data was read from Postgres. Plain strings and a number, so one request can hand an entry to
 * another (single-flight) without sharing any I/O object.
 */
export type CacheEntry = {
  body: string;
  /** A strong entity tag, quotes included: `"<base64url of SHA-256(body), 128 bits>"`. */
  etag: string;
  /** Epoch ms, taken before the query was sent: the data is at least this recent. */
  storedAt: number;
};

export type Freshness = "fresh" | "stale" | "expired";

/** How old the entry's data is; a clock a little behind another isolate's never makes it negative. */
export function ageOf(entry: CacheEntry, now = Date.now()): number {
  return Math.max(0, now - entry.storedAt);
}

export function freshnessOf(entry: CacheEntry, now = Date.now()): Freshness {
  const age = ageOf(entry, now);
  if (age < FRESH_MS) return "fresh";
  return age < MAX_AGE_MS ? "stale" : "expired";
}

/** Whether an entry may still be served while the database fails (stale-if-error), however expired it is otherwise. */
export function servableIfError(entry: CacheEntry, now = Date.now()): boolean {
  return ageOf(entry, now) < STALE_IF_ERROR_MS;
}

/** Whole seconds a downstream cache may still keep the response without breaking the 5 s bound. */
export function remainingSeconds(entry: CacheEntry, now = Date.now()): number {
  return Math.max(0, Math.floor((MAX_AGE_MS - ageOf(entry, now)) / 1000));
}

/** The strong ETag of a body. */
export async function etagOf(body: string): Promise<string> {
  return etagOfBytes(encodeBody(body));
}

const encoder = new TextEncoder();

/** A body as UTF-8, in an ArrayBuffer of its own (what TextEncoder always makes; its type says less). */
export function encodeBody(body: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(body) as Uint8Array<ArrayBuffer>;
}

/** The strong ETag of a body already encoded (UTF-8). */
export async function etagOfBytes(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  const head = new Uint8Array(digest, 0, 16);
  let binary = "";
  for (const byte of head) binary += String.fromCharCode(byte);
  return `"${btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}"`;
}

export async function createEntry(body: string, storedAt: number): Promise<CacheEntry> {
  return (await renderEntry(body, storedAt)).entry;
}

/** An entry and its body's bytes, encoded once for both the ETag and every response that sends them. */
export type RenderedEntry = { entry: CacheEntry; bytes: Uint8Array<ArrayBuffer> };

export async function renderEntry(body: string, storedAt: number): Promise<RenderedEntry> {
  const bytes = encodeBody(body);
  return { entry: { body, etag: await etagOfBytes(bytes), storedAt }, bytes };
}

/** `<storedAt>\n<etag>\n<body>`: no escaping of the body, unlike a JSON envelope. */
export function encodeEntry(entry: CacheEntry): string {
  return `${entry.storedAt}\n${entry.etag}\n${entry.body}`;
}

/** The entry, or undefined for anything that is not one (another format, a truncated value). */
export function decodeEntry(text: string | null | undefined): CacheEntry | undefined {
  if (!text) return undefined;
  const first = text.indexOf("\n");
  const second = first < 0 ? -1 : text.indexOf("\n", first + 1);
  if (second < 0) return undefined;
  const storedAt = Number(text.slice(0, first));
  const etag = text.slice(first + 1, second);
  if (!Number.isFinite(storedAt) || !/^"[A-Za-z0-9_-]+"$/.test(etag)) return undefined;
  return { storedAt, etag, body: text.slice(second + 1) };
}
