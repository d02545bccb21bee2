/**
 * `npm run load -- [flags]`: the FastAPI original's Locust user against a running Tenpo (see load/README.md).
 *
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
import { fileStamp, scenarioMarkdown, writeScenarioReport } from "./report";
import { runLocustScenario, type ScenarioOptions } from "./scenario";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAX_USERS = 20_000;
const MAX_DURATION_S = 3_600;

export function parseLoadArgs(argv: string[]): ScenarioOptions & { out: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
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
  return {
    target: target.toString().replace(/\/$/, ""),
    users,
    spawnRate,
    durationS,
    wait: !values["no-wait"],
    accounts: values["chapter-user"] ? "chapter" : "spread",
    out: values.out ?? `${ROOT}load/results/${fileStamp()}`,
  };
}

function positive(flag: string, raw: string, max: number): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new Error(`${flag} must be a number in (0, ${max}], got ${raw}`);
  return n;
}

function usage(): string {
  return "usage: npm run load -- [--users 100] [--spawn-rate 100] [--duration 30] [--target http://127.0.0.1:8787] [--no-wait] [--chapter-user] [--out DIR]";
}

async function main(): Promise<void> {
  const opts = parseLoadArgs(process.argv.slice(2));
  const stop = new AbortController();
  process.once("SIGINT", () => {
    console.log("[load] Ctrl-C: stopping early, writing what was measured");
    stop.abort();
  });
  console.log(
    `[load] ${opts.users} users (spawn ${opts.spawnRate}/s) for ${opts.durationS} s against ${opts.target}, ` +
      `${opts.wait ? "think time 1–3 s" : "no think time"}, logins ${opts.accounts === "chapter" ? "as test@example.com" : "spread over user1..1000"}`,
  );
  const result = await runLocustScenario({ ...opts, signal: stop.signal, progress: (line) => console.log(`[load] ${line}`) });
  const paths = writeScenarioReport(opts.out, result);
  console.log(`\n${scenarioMarkdown(result)}\n`);
  console.log(`[load] wrote ${paths.json}, ${paths.md}, ${paths.svg}`);
  const answered = Object.keys(result.overall.statuses).some((status) => /^\d+$/.test(status));
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
