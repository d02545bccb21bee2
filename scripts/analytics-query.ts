/**
 * `npm run analytics -- [query…] [options]`: runs the production metrics queries
 * (scripts/analytics/*.sql) against Workers Analytics Engine through its SQL API and prints tables.
 *
 *   CLOUDFLARE_ACCOUNT_ID=<32 hex> CLOUDFLARE_API_TOKEN=<token with Account Analytics: Read> \
 *     npm run analytics -- route-summary --minutes 60
 *
 * Queries: route-summary (default), requests-per-second, latency-by-route, latency-overall, error-rate,
 * cache-hit-ratio, db-round-trips, colo-summary, or `all`.
 * Options:
 *   --minutes N          window ending now (default 60)
 *   --step S             time bucket in seconds for the time-series queries (default 60)
 *   --dataset NAME       tenpo_requests (production, default) or tenpo_requests_staging
 *   --sql                print the expanded SQL instead of running it (no credentials needed)
 *   --write-dashboard    regenerate scripts/analytics/grafana-dashboard.json from the .sql files
 */
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import {
  DEFAULT_DATASET,
  QUERIES,
  buildDashboard,
  expandMacros,
  formatResult,
  isSqlApiResult,
  queryBody,
  sqlApiRequest,
  windowValues,
  type QueryName,
} from "./analytics/queries";

const DIR = fileURLToPath(new URL("./analytics/", import.meta.url));
const NAMES = QUERIES.map((q) => q.name);

type Options = { queries: QueryName[]; minutes: number; step: number; dataset: string; sqlOnly: boolean; writeDashboard: boolean };

function usage(): string {
  return `usage: npm run analytics -- [${NAMES.join("|")}|all …] [--minutes 60] [--step 60] [--dataset ${DEFAULT_DATASET}] [--sql] [--write-dashboard]`;
}

function parseArgs(args: string[]): Options {
  const opts: Options = { queries: [], minutes: 60, step: 60, dataset: DEFAULT_DATASET, sqlOnly: false, writeDashboard: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [name, inline] = arg.split("=", 2) as [string, string | undefined];
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new Error(`${name} needs a value\n${usage()}`);
      return v;
    };
    const positive = (v: string): number => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number\n${usage()}`);
      return n;
    };
    if (name === "--minutes") opts.minutes = positive(value());
    else if (name === "--step") opts.step = Math.round(positive(value()));
    else if (name === "--dataset") opts.dataset = value();
    else if (name === "--sql") opts.sqlOnly = true;
    else if (name === "--write-dashboard") opts.writeDashboard = true;
    else if (name === "--help" || name === "-h") {
      console.log(usage());
      process.exit(0);
    } else if (arg === "all") opts.queries.push(...NAMES);
    else if ((NAMES as string[]).includes(arg)) opts.queries.push(arg as QueryName);
    else throw new Error(`unknown query or option ${arg}\n${usage()}`);
  }
  if (opts.queries.length === 0) opts.queries.push("route-summary");
  return opts;
}

async function readQuery(name: QueryName): Promise<string> {
  return readFile(`${DIR}${name}.sql`, "utf8");
}

async function writeDashboard(): Promise<void> {
  const files = Object.fromEntries(await Promise.all(NAMES.map(async (n) => [n, await readQuery(n)] as const))) as Record<
    QueryName,
    string
  >;
  const path = `${DIR}grafana-dashboard.json`;
  await writeFile(path, `${JSON.stringify(buildDashboard(files), null, 2)}\n`);
  console.log(`wrote ${path}`);
}

function credentials(): { accountId: string; apiToken: string } {
  const accountId = process.env.CLOUDFLARE_ACCOUNT_ID?.trim();
  const apiToken = process.env.CLOUDFLARE_API_TOKEN?.trim();
  const missing = [!accountId && "CLOUDFLARE_ACCOUNT_ID", !apiToken && "CLOUDFLARE_API_TOKEN"].filter(Boolean);
  if (missing.length > 0) {
    throw new Error(
      `${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not set. The Analytics Engine SQL API needs the account id ` +
        "(32 hex characters, Cloudflare dashboard → Workers & Pages → Account details) and an API token with " +
        "Account | Account Analytics | Read. `--sql` prints the queries without running them.",
    );
  }
  return { accountId: accountId!, apiToken: apiToken! };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.writeDashboard) return writeDashboard();
  const values = windowValues({ nowMs: Date.now(), minutes: opts.minutes, stepSeconds: opts.step, dataset: opts.dataset });
  const creds = opts.sqlOnly ? null : credentials();
  let failed = false;
  for (const name of opts.queries) {
    const sql = expandMacros(queryBody(await readQuery(name)), values);
    console.log(
      `\n== ${name} (${opts.dataset}, last ${opts.minutes} min${QUERIES.find((q) => q.name === name)!.format === "time_series" ? `, ${opts.step} s buckets` : ""})`,
    );
    if (!creds) {
      console.log(sql);
      continue;
    }
    const request = sqlApiRequest({ ...creds, sql });
    const res = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body });
    const text = await res.text();
    if (!res.ok) {
      failed = true;
      console.error(`SQL API answered ${res.status}: ${text.slice(0, 500)}`);
      continue;
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!isSqlApiResult(body)) {
      failed = true;
      console.error(`unexpected answer from the SQL API: ${text.slice(0, 500)}`);
      continue;
    }
    console.log(formatResult(body));
  }
  if (failed) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(2);
});
