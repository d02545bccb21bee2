import { z } from "zod";
import type { ServerTimingMode } from "./observability/server-timing";

/**
 * The Worker's settings: the env strings (wrangler.toml vars, secrets) read once, here, into typed
 * values. Parsed once per env object: the Worker's env is the same object for every request of an
 * isolate (tests pass several), so the hot path pays a map lookup, not a parse.
 *
 * Reading never fails: a value that is missing or not understood means what the code always took
 * it to mean (each field says what). The settings that must be right before the Worker serves at all
 * (secrets, endpoints, CORS off this machine) are refused by src/middleware/config-guard.ts, which
 * reads their raw values.
 */
export type Settings = {
  /** ENVIRONMENT is "staging" or "production": the deployed rules of the config guard apply. */
  deployed: boolean;
  /** ENVIRONMENT is "development" or "test": the colo of every request is "local" (Miniflare fakes one). */
  localEnvironment: boolean;
  /**
   * CORS_ORIGINS: `*` (any origin), or the comma-separated origins, trimmed. Undefined when unset
   * (the CORS middleware then fails the request: there is no safe default).
   */
  corsOrigins: "*" | readonly string[] | undefined;
  /** CACHE_BACKEND: "upstash" puts the catalog's global store in Redis; anything else is KV alone (the embedded default). */
  cacheBackend: "upstash" | "kv";
  /** LOG_REQUESTS: a line per request unless it says "false", "0" or "off" (any case, spaces ignored). Failed requests always log. */
  requestLog: boolean;
  /** SERVER_TIMING: "detail" or "total"; unset or anything else is "off" (src/observability/server-timing.ts). */
  serverTiming: ServerTimingMode;
  /** EMAIL_FROM: the order e-mails' sender; unset or empty is DEFAULT_EMAIL_FROM. */
  emailFrom: string;
};

/** The sender of order e-mails when EMAIL_FROM is unset (wrangler.toml's development value). */
export const DEFAULT_EMAIL_FROM = "Tenpo <orders@tenpo.example>";

/** A var as the Worker gets it: a string, or unset; anything else reads as unset (see `settingsOf`). */
const text = z.string().optional();

const SettingsSchema = z
  .object({
    ENVIRONMENT: text,
    CORS_ORIGINS: text,
    CACHE_BACKEND: text,
    // Kept as given: a value that is not a string turns the line off (isRequestLogOn).
    LOG_REQUESTS: z.unknown().optional(),
    SERVER_TIMING: text,
    EMAIL_FROM: text,
  })
  .transform(
    (env): Settings => ({
      deployed: env.ENVIRONMENT === "staging" || env.ENVIRONMENT === "production",
      localEnvironment: env.ENVIRONMENT === "development" || env.ENVIRONMENT === "test",
      corsOrigins:
        env.CORS_ORIGINS === undefined ? undefined : env.CORS_ORIGINS === "*" ? "*" : env.CORS_ORIGINS.split(",").map((o) => o.trim()),
      cacheBackend: env.CACHE_BACKEND === "upstash" ? "upstash" : "kv",
      requestLog: isRequestLogOn(env.LOG_REQUESTS),
      serverTiming: env.SERVER_TIMING === "detail" || env.SERVER_TIMING === "total" ? env.SERVER_TIMING : "off",
      emailFrom: env.EMAIL_FROM || DEFAULT_EMAIL_FROM,
    }),
  );

/** The vars the settings are read from; every one optional (tests pass a few). */
export type SettingsSource = Partial<Record<keyof z.input<typeof SettingsSchema>, unknown>>;

const parsed = new WeakMap<object, Settings>();

/** The settings of `env`, parsed on its first use and kept as long as the env object lives. */
export function settingsOf(env: SettingsSource): Settings {
  let settings = parsed.get(env);
  if (!settings) {
    settings = SettingsSchema.parse(readable(env));
    parsed.set(env, settings);
  }
  return settings;
}

/** `env` without the values `text` cannot read (not strings), which count as unset; LOG_REQUESTS as given. */
function readable(env: SettingsSource): SettingsSource {
  const out: SettingsSource = {};
  for (const [name, value] of Object.entries(env)) {
    if (typeof value === "string" || name === "LOG_REQUESTS") out[name as keyof SettingsSource] = value;
  }
  return out;
}

function isRequestLogOn(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  // Not a string: a value that cannot be read turns the line off (it could never be written as given).
  if (typeof value !== "string") return false;
  const normalised = value.trim().toLowerCase();
  return normalised !== "false" && normalised !== "0" && normalised !== "off";
}
