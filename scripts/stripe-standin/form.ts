/**
 * Stripe's request encoding: `application/x-www-form-urlencoded` (and the same in a GET's query string)
 * with bracket notation for nesting, as the official SDKs write it: `metadata[order_id]=12`,
 * `automatic_payment_methods[enabled]=true`, `expand[0]=latest_charge` (also `expand[]=…`).
 *
 * A name with brackets becomes a nested hash; a hash whose keys are exactly 0..n-1 (or that was built
 * with `[]`) becomes a list, as Stripe reads `expand[0]`. A name given both as a value and as a hash is
 * refused, as Stripe refuses it. The hashes are built from entries (Object.fromEntries), so a name such
 * as `__proto__` is an ordinary key and never reaches a prototype.
 */
import { invalidRequest } from "./errors";

/** One decoded parameter: a string, a hash of parameters, or a list. */
export type FormValue = string | FormValue[] | FormParams;
/** The decoded parameters of one request. */
export type FormParams = { [name: string]: FormValue };

type Node = string | Map<string, Node>;

/** A bracketed name: the top-level name, then each `[segment]` (`[]` is an empty segment). */
const NAME = /^([^[\]]+)((?:\[[^[\]]*\])*)$/;

/** Decodes a form body or query string into nested parameters (throws Stripe's 400 for a malformed name). */
export function parseForm(text: string): FormParams {
  const root = new Map<string, Node>();
  for (const [name, value] of new URLSearchParams(text)) {
    const match = NAME.exec(name);
    if (!match) throw invalidRequest(`Invalid parameter name: ${name}`, { param: name });
    const segments = [match[1]!, ...[...match[2]!.matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1]!)];
    put(root, segments, value, name);
  }
  return finish(root) as FormParams;
}

function put(root: Map<string, Node>, segments: string[], value: string, name: string): void {
  let container = root;
  for (let i = 0; i < segments.length; i++) {
    // `[]` appends: the next index of the list being built.
    const key = segments[i] === "" && i > 0 ? String(container.size) : segments[i]!;
    const last = i === segments.length - 1;
    const existing = container.get(key);
    if (last) {
      if (existing instanceof Map) throw mixed(name);
      // A repeated plain name: the last value wins.
      container.set(key, value);
      return;
    }
    if (typeof existing === "string") throw mixed(name);
    let child = existing;
    if (!child) {
      child = new Map();
      container.set(key, child);
    }
    container = child;
  }
}

function mixed(name: string) {
  return invalidRequest(`Invalid parameter ${name}: it was given both as a value and as a hash`, { param: name });
}

function finish(node: Node): FormValue {
  if (typeof node === "string") return node;
  const keys = [...node.keys()];
  if (keys.length > 0 && keys.every((key, i) => key === String(i))) return keys.map((key) => finish(node.get(key)!));
  return Object.fromEntries(keys.map((key) => [key, finish(node.get(key)!)]));
}

/** Whether a decoded value is a hash (not a string, not a list). */
export function isHash(value: FormValue | undefined): value is FormParams {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The same parameters in one canonical text (hash keys sorted), so that two requests carrying the same
 * parameters in another order count as the same request for Idempotency-Key.
 */
export function canonicalParams(params: FormValue): string {
  if (typeof params === "string") return JSON.stringify(params);
  if (Array.isArray(params)) return `[${params.map(canonicalParams).join(",")}]`;
  const keys = Object.keys(params).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalParams(params[key]!)}`).join(",")}}`;
}
