/**
 * Reading one endpoint's parameters the way Stripe validates them: unknown names refused
 * (`parameter_unknown`), required ones named when missing (`parameter_missing`), integers, booleans,
 * enums, lists and metadata checked, each failure a 400 that names its `param`.
 */
import { invalidRequest, missingParam } from "./errors";
import { type FormParams, type FormValue, isHash } from "./form";

/** Stripe's limits on metadata: 50 keys, 40-character keys, 500-character values. */
const METADATA_MAX_KEYS = 50;
const METADATA_MAX_KEY_LENGTH = 40;
const METADATA_MAX_VALUE_LENGTH = 500;

/** Refuses any parameter not in `allowed` (`expand` is always allowed), as Stripe does. */
export function allowOnly(params: FormParams, allowed: readonly string[], prefix = ""): void {
  for (const name of Object.keys(params)) {
    if (name === "expand" && prefix === "") continue;
    if (!allowed.includes(name)) {
      const param = prefix ? `${prefix}[${name}]` : name;
      throw invalidRequest(`Received unknown parameter: ${param}`, { code: "parameter_unknown", param });
    }
  }
}

/** A string parameter; a hash or a list where a string belongs is refused. */
export function stringParam(params: FormParams, name: string, opts: { required: true; maxLength?: number }): string;
export function stringParam(params: FormParams, name: string, opts?: { required?: boolean; maxLength?: number }): string | undefined;
export function stringParam(params: FormParams, name: string, opts: { required?: boolean; maxLength?: number } = {}): string | undefined {
  const value = params[name];
  if (value === undefined || value === "") {
    if (opts.required) throw missingParam(name);
    return undefined;
  }
  if (typeof value !== "string") throw invalidRequest(`Invalid string: ${name} must be a string, not a hash or a list`, { param: name });
  if (opts.maxLength !== undefined && value.length > opts.maxLength) {
    throw invalidRequest(`Invalid string: ${name} must be at most ${opts.maxLength} characters`, { param: name });
  }
  return value;
}

/** An integer parameter (`parameter_invalid_integer` for anything else), at least `min` when given. */
export function integerParam(params: FormParams, name: string, opts: { required?: boolean; min?: number } = {}): number | undefined {
  const value = stringParam(params, name, { required: opts.required });
  if (value === undefined) return undefined;
  if (!/^-?\d{1,15}$/.test(value)) throw invalidRequest(`Invalid integer: ${value}`, { code: "parameter_invalid_integer", param: name });
  const n = Number(value);
  if (opts.min !== undefined && n < opts.min) {
    throw invalidRequest(`This value must be greater than or equal to ${opts.min}.`, { code: "parameter_invalid_integer", param: name });
  }
  return n;
}

/** A boolean parameter: `true` or `false`. */
export function booleanParam(value: FormValue | undefined, param: string): boolean | undefined {
  if (value === undefined || value === "") return undefined;
  if (value === "true") return true;
  if (value === "false") return false;
  throw invalidRequest(`Invalid boolean: ${typeof value === "string" ? value : "(a hash or a list)"}`, { param });
}

/** A parameter that must be one of `values`. */
export function enumParam<T extends string>(params: FormParams, name: string, values: readonly T[]): T | undefined {
  const value = stringParam(params, name);
  if (value === undefined) return undefined;
  if (!(values as readonly string[]).includes(value)) {
    throw invalidRequest(`Invalid ${name}: must be one of ${values.join(", ")}`, { param: name });
  }
  return value as T;
}

/** A list of strings (`expand[0]=…`, `payment_method_types[0]=…`). */
export function stringListParam(params: FormParams, name: string): string[] | undefined {
  const value = params[name];
  if (value === undefined || value === "") return undefined;
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === "string")) {
    throw invalidRequest(`Invalid array: ${name} must be a list of strings, e.g. ${name}[0]=…`, { param: name });
  }
  return value;
}

/** A hash parameter (`automatic_payment_methods[enabled]=true`). */
export function hashParam(params: FormParams, name: string): FormParams | undefined {
  const value = params[name];
  if (value === undefined || value === "") return undefined;
  if (!isHash(value)) throw invalidRequest(`Invalid object: ${name} must be a hash, e.g. ${name}[key]=value`, { param: name });
  return value;
}

/**
 * Metadata as Stripe keeps it: string values; a key with an empty value is left out (on an update it
 * would unset the key); `metadata=` (empty) is no metadata. A hash whose keys happen to be 0..n-1 was
 * read as a list by the form parser and is turned back into a hash here.
 */
export function metadataParam(params: FormParams): Record<string, string> {
  const value = params.metadata;
  if (value === undefined || value === "") return {};
  if (typeof value === "string")
    throw invalidRequest("Invalid object: metadata must be a hash, e.g. metadata[key]=value", { param: "metadata" });
  const entries: Array<[string, FormValue]> = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  const metadata: Record<string, string> = {};
  for (const [key, item] of entries) {
    const param = `metadata[${key}]`;
    if (typeof item !== "string") throw invalidRequest(`Invalid string: ${param} must be a string`, { param });
    if (key.length > METADATA_MAX_KEY_LENGTH) {
      throw invalidRequest(
        `Metadata keys can have up to ${METADATA_MAX_KEY_LENGTH} characters, but you passed in a key that is ${key.length} characters.`,
        {
          param,
        },
      );
    }
    if (item.length > METADATA_MAX_VALUE_LENGTH) {
      throw invalidRequest(
        `Metadata values can have up to ${METADATA_MAX_VALUE_LENGTH} characters, but you passed in a value that is ${item.length} characters.`,
        { param },
      );
    }
    if (item !== "") metadata[key] = item;
  }
  if (Object.keys(metadata).length > METADATA_MAX_KEYS) {
    throw invalidRequest(`You can have up to ${METADATA_MAX_KEYS} metadata keys.`, { param: "metadata" });
  }
  return metadata;
}
