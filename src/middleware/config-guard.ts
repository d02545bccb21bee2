import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { settingsOf } from "../config";
import { ApiError } from "../errors";
import { isLocalConnectionString, isLoopbackHostname } from "../lib/loopback";
import { log } from "../observability/logging";

/**
 * The settings a Worker refuses to serve with. wrangler.toml's top-level [vars] and .dev.vars are
 * development settings: fine on a developer's machine, dangerous on the internet. So a request whose
 * host is not this machine is refused (503) while any development setting is in force, and staging
 * and production are refused wherever they run when their endpoints are not HTTPS. Every rule is
 * here, with what it protects.
 */

const DEVELOPMENT_SECRETS = new Set(["tenpo-dev-secret", "tenpo-test-secret", "change-me", "secret"]);
/** 32 characters: at least 128 bits even from a hex generator, beyond guessing. */
const MIN_SECRET_LENGTH = 32;
/** How long a client is told to wait: a configuration is fixed by a new deploy, not within seconds. */
const RETRY_AFTER_SECONDS = 60;

/** The bindings the rules read. */
export type GuardedSettings = Pick<
  Env,
  | "ENVIRONMENT"
  | "JWT_SECRET"
  | "NEON_HTTP_ENDPOINT"
  | "DATABASE_URL"
  | "UPSTASH_REDIS_REST_URL"
  | "THROTTLE_REDIS_REST_URL"
  | "CORS_ORIGINS"
  | "STRIPE_API_BASE"
  | "STRIPE_SECRET_KEY"
  | "STRIPE_WEBHOOK_SECRET"
>;

interface Rule {
  /** The binding at fault, named in the log line. */
  setting: keyof GuardedSettings;
  /** Why that value is refused, in the log line. */
  reason: string;
  refuses: (env: GuardedSettings) => boolean;
}

/** Both lists hold these three. */
const REAL_SECRET: Rule = {
  setting: "JWT_SECRET",
  reason: `missing, shorter than ${MIN_SECRET_LENGTH} characters or a value published in this repository: anyone could sign tokens`,
  refuses: (env) => !isRealSecret(env.JWT_SECRET),
};
const HTTPS_REDIS: Rule = {
  setting: "UPSTASH_REDIS_REST_URL",
  reason: "not HTTPS: the Redis token and every cached value would cross the network in the clear",
  refuses: (env) => !isHttps(env.UPSTASH_REDIS_REST_URL),
};
const HTTPS_THROTTLE_REDIS: Rule = {
  setting: "THROTTLE_REDIS_REST_URL",
  reason:
    "not HTTPS (or empty): the throttles' token and counters would cross the network in the clear, or the throttles " +
    "would run on the rate limiting binding alone (5 login attempts per account a minute)",
  refuses: (env) => !isHttps(env.THROTTLE_REDIS_REST_URL),
};

/** Refused when a request's host is not this machine: these are development settings. */
const OFF_LOOPBACK_RULES: readonly Rule[] = [
  {
    setting: "ENVIRONMENT",
    reason: "only staging and production serve the internet; development and test are configured for one machine",
    refuses: (env) => !settingsOf(env).deployed,
  },
  REAL_SECRET,
  {
    setting: "NEON_HTTP_ENDPOINT",
    reason: "set, so SQL goes to a local SQL-over-HTTP server instead of Neon",
    refuses: (env) => env.NEON_HTTP_ENDPOINT !== "",
  },
  {
    setting: "DATABASE_URL",
    reason: "names a database on this machine, a developer's",
    refuses: (env) => isLocalConnectionString(env.DATABASE_URL),
  },
  HTTPS_REDIS,
  HTTPS_THROTTLE_REDIS,
  {
    setting: "STRIPE_API_BASE",
    reason: "set, so payments go to a local Stripe stand-in instead of Stripe",
    refuses: (env) => !!env.STRIPE_API_BASE,
  },
  {
    setting: "CORS_ORIGINS",
    reason: "* lets every web site read the API's answers from its visitors' browsers",
    refuses: (env) => env.CORS_ORIGINS.split(",").some((origin) => origin.trim() === "*"),
  },
];

/** Refused for staging and production wherever they run (a local `wrangler dev --env` included). */
const DEPLOYED_RULES: readonly Rule[] = [
  REAL_SECRET,
  {
    setting: "NEON_HTTP_ENDPOINT",
    reason: "not HTTPS: SQL and the database password would cross the network in the clear",
    refuses: (env) => env.NEON_HTTP_ENDPOINT !== "" && !isHttps(env.NEON_HTTP_ENDPOINT),
  },
  HTTPS_REDIS,
  HTTPS_THROTTLE_REDIS,
  {
    setting: "STRIPE_API_BASE",
    reason: "not HTTPS: the Stripe secret key and every payment would cross the network in the clear",
    refuses: (env) => !!env.STRIPE_API_BASE && !isHttps(env.STRIPE_API_BASE),
  },
  {
    setting: "STRIPE_SECRET_KEY",
    reason: "missing or not a Stripe secret key (sk_… or rk_…): no checkout could be paid and no paid order refunded",
    refuses: (env) => !/^(sk|rk)_(live|test)_\S+$/.test(env.STRIPE_SECRET_KEY ?? ""),
  },
  {
    setting: "STRIPE_WEBHOOK_SECRET",
    reason: "missing or not a webhook signing secret (whsec_…): every Stripe event would be refused, so no order would become paid",
    refuses: (env) => !/^whsec_\S+$/.test(env.STRIPE_WEBHOOK_SECRET ?? ""),
  },
];

/** What is wrong with a deployment's settings: refused everywhere, and refused off this machine. */
interface Verdict {
  everywhere: readonly string[];
  offLoopback: readonly string[];
  /** Refusals already logged: each (at most the two lists' two combinations) once per isolate, not per request. */
  logged: Set<string>;
}

/** Per env object: an isolate gets one, so the rules run once per isolate (tests pass several). */
const verdicts = new WeakMap<object, Verdict>();

/**
 * Why this Worker must not answer a request for `url` (empty when it may): each entry names a
 * setting and the reason it is refused. A request for a loopback host only meets the deployed rules.
 */
export function configRefusals(env: GuardedSettings, url: string): readonly string[] {
  const verdict = verdictFor(env);
  if (verdict.offLoopback.length === 0) return verdict.everywhere;
  return isLoopbackHostname(new URL(url).hostname) ? verdict.everywhere : [...verdict.everywhere, ...verdict.offLoopback];
}

/** Answers 503 `service_unavailable` instead of serving with settings `configRefusals` refuses. */
export const refuseUnsafeSettings: MiddlewareHandler<AppEnv> = async (c, next) => {
  const refusals = configRefusals(c.env, c.req.url);
  if (refusals.length > 0) {
    const logged = verdictFor(c.env).logged;
    const key = refusals.join("\n");
    if (!logged.has(key)) {
      logged.add(key);
      log("error", "refusing to serve: these settings are not safe for this host", { host: new URL(c.req.url).host, refusals });
    }
    throw ApiError.serviceUnavailable("The service is not configured", RETRY_AFTER_SECONDS);
  }
  await next();
};

function verdictFor(env: GuardedSettings): Verdict {
  let verdict = verdicts.get(env);
  if (!verdict) {
    const everywhere = settingsOf(env).deployed ? DEPLOYED_RULES.filter((rule) => rule.refuses(env)) : [];
    // A setting refused everywhere is named once, with its deployed reason.
    const offLoopback = OFF_LOOPBACK_RULES.filter((rule) => rule.refuses(env) && !everywhere.some((r) => r.setting === rule.setting));
    const describe = (rules: readonly Rule[]) => rules.map((rule) => `${rule.setting}: ${rule.reason}`);
    verdict = { everywhere: describe(everywhere), offLoopback: describe(offLoopback), logged: new Set() };
    verdicts.set(env, verdict);
  }
  return verdict;
}

function isRealSecret(secret: string | undefined): boolean {
  return typeof secret === "string" && secret.length >= MIN_SECRET_LENGTH && !DEVELOPMENT_SECRETS.has(secret);
}

function isHttps(url: string | undefined): boolean {
  try {
    return new URL(url ?? "").protocol === "https:";
  } catch {
    return false;
  }
}
