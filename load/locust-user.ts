/**
 * `npm run load -- [flags]`: the FastAPI original's Locust user against a running Tenpo, or with
 * `--storefront` the storefront user (browse → cart → checkout → pay → paid; see load/README.md).
 *
 *   --storefront       the storefront user (load/storefront.ts) instead of the Locust user: no think time,
 *                      user N logs in as user<N>@example.com (at most 1000 users: one open cart each); it
 *                      confirms payments at STRIPE_API_BASE with STRIPE_SECRET_KEY (env, else .dev.vars,
 *                      else the local stand-in: http://127.0.0.1:12111, sk_test_tenpo_local).
 *                      --no-wait and --chapter-user do not apply to it
 *   --users N          virtual users (default 100)
 *   --spawn-rate R     users started per second (default 100)
 *   --duration S       seconds, then it stops by itself (default 30)
 *   --target URL       default http://127.0.0.1:8787 (`npm start`); a deployed Worker's https URL works too
 *   --no-wait          no think time between tasks (default: 1–3 s, as in the original)
 *   --chapter-user     every user logs in as test@example.com, as the chapter did
 *                      (default: user N logs in as user<N>@example.com, 1..1000)
 *   --out DIR          default load/results/<timestamp>/ (result.json, result.md, latency.svg)
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { NUMBERED_USERS } from "./demo";
import { fileStamp, scenarioMarkdown, writeScenarioReport, type ReportPaths } from "./report";
import { runLocustScenario, type ScenarioOptions } from "./scenario";
import { runStorefront, stripeEndpoint, type StorefrontOptions } from "./storefront";
import { storefrontMarkdown, writeStorefrontReport } from "./storefront-report";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAX_USERS = 20_000;
const MAX_DURATION_S = 3_600;

/** What `npm run load` was asked to run, and where its report goes. */
export type LoadArgs =
  | ({ scenario: "locust-user"; out: string } & ScenarioOptions)
  | ({ scenario: "storefront"; out: string } & StorefrontOptions);

/**
 * The flags (above) as options; throws with a message naming the flag on a bad value. `env` supplies
 * the storefront's STRIPE_API_BASE and STRIPE_SECRET_KEY (else .dev.vars, else the stand-in's).
 */
export function parseLoadArgs(argv: string[], env: Record<string, string | undefined> = process.env): LoadArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      storefront: { type: "boolean", default: false },
      users: { type: "string", default: "100" },
      "spawn-rate": { type: "string", default: "100" },
      duration: { type: "string", default: "30" },
      target: { type: "string", default: "http://127.0.0.1:8787" },
      "no-wait": { type: "boolean", default: false },
      "chapter-user": { type: "boolean", default: false },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage());
    process.exit(0);
  }
  const users = positive("--users", values.users, MAX_USERS);
  const spawnRate = positive("--spawn-rate", values["spawn-rate"], 100_000);
  const durationS = positive("--duration", values.duration, MAX_DURATION_S);
  let target: URL;
  try {
    target = new URL(values.target);
  } catch {
    throw new Error(`--target must be a URL, got ${values.target}`);
  }
  if (!["http:", "https:"].includes(target.protocol)) throw new Error("--target must be http:// or https://");
  const common = {
    target: target.toString().replace(/\/$/, ""),
    users,
    spawnRate,
    durationS,
    out: values.out ?? `${ROOT}load/results/${fileStamp()}`,
  };
  if (!values.storefront) {
    return { scenario: "locust-user", ...common, wait: !values["no-wait"], accounts: values["chapter-user"] ? "chapter" : "spread" };
  }
  if (values["no-wait"]) throw new Error("--no-wait does not apply to --storefront: the storefront user has no think time");
  if (values["chapter-user"]) {
    throw new Error("--chapter-user does not apply to --storefront: an account has one open cart, so every user needs its own");
  }
  if (users > NUMBERED_USERS) {
    throw new Error(`--storefront takes at most ${NUMBERED_USERS} users (one demo account, and its one open cart, each), got ${users}`);
  }
  const stripe = stripeEndpoint(env, ROOT);
  let stripeBase: URL;
  try {
    stripeBase = new URL(stripe.apiBase);
  } catch {
    throw new Error(`STRIPE_API_BASE must be a URL, got ${stripe.apiBase}`);
  }
  if (!["http:", "https:"].includes(stripeBase.protocol)) throw new Error("STRIPE_API_BASE must be http:// or https://");
  return { scenario: "storefront", ...common, stripe };
}

function positive(flag: string, raw: string, max: number): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new Error(`${flag} must be a number in (0, ${max}], got ${raw}`);
  return n;
}

function usage(): string {
  return [
    "usage: npm run load -- [--users 100] [--spawn-rate 100] [--duration 30] [--target http://127.0.0.1:8787] [--no-wait] [--chapter-user] [--out DIR]",
    "       npm run load -- --storefront [--users 100] [--spawn-rate 100] [--duration 30] [--target http://127.0.0.1:8787] [--out DIR]",
    "",
    "  --storefront   the storefront user instead of the FastAPI original's Locust user: log in once, then loop",
    "                 browse → 2 product details → cart → 2 lines → cart → checkout → pay (Stripe) → paid;",
    "                 at most 1000 users (user1..1000@example.com, one open cart each), no think time;",
    "                 payments are confirmed at STRIPE_API_BASE with STRIPE_SECRET_KEY (env, else .dev.vars,",
    "                 else the local stand-in http://127.0.0.1:12111 with sk_test_tenpo_local)",
    "  --no-wait      Locust user only: no think time (default 1–3 s between tasks)",
    "  --chapter-user Locust user only: every user logs in as test@example.com",
  ].join("\n");
}

async function main(): Promise<void> {
  const opts = parseLoadArgs(process.argv.slice(2));
  const stop = new AbortController();
  process.once("SIGINT", () => {
    console.log("[load] Ctrl-C: stopping early, writing what was measured");
    stop.abort();
  });
  const progress = (line: string): void => console.log(`[load] ${line}`);
  let paths: ReportPaths;
  let statuses: Record<string, number>;
  if (opts.scenario === "storefront") {
    console.log(
      `[load] storefront: ${opts.users} users (spawn ${opts.spawnRate}/s) for ${opts.durationS} s against ${opts.target}, ` +
        `no think time, logins spread over user1..${opts.users}, payments confirmed at ${opts.stripe.apiBase}`,
    );
    const result = await runStorefront({ ...opts, signal: stop.signal, progress });
    paths = writeStorefrontReport(opts.out, result);
    console.log(`\n${storefrontMarkdown(result)}\n`);
    statuses = result.overall.statuses;
  } else {
    console.log(
      `[load] ${opts.users} users (spawn ${opts.spawnRate}/s) for ${opts.durationS} s against ${opts.target}, ` +
        `${opts.wait ? "think time 1–3 s" : "no think time"}, logins ${opts.accounts === "chapter" ? "as test@example.com" : "spread over user1..1000"}`,
    );
    const result = await runLocustScenario({ ...opts, signal: stop.signal, progress });
    paths = writeScenarioReport(opts.out, result);
    console.log(`\n${scenarioMarkdown(result)}\n`);
    statuses = result.overall.statuses;
  }
  console.log(`[load] wrote ${paths.json}, ${paths.md}, ${paths.svg}`);
  const answered = Object.keys(statuses).some((status) => /^\d{3}/.test(status));
  if (!answered) {
    console.error(`[load] no HTTP response at all: is the API running at ${opts.target}? (npm start)`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(`[load] ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  });
}
