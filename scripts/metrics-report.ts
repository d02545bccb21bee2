/**
 * `npm run metrics [-- --minutes N] [--file path]`: what the local API served in the last N minutes
 * (default 15), per method and route pattern — count, req/s, p50/p95/p99 duration, 5xx and 4xx rates,
 * cache hit ratio, mean database round trips — from the data points scripts/metrics-sink.ts recorded
 * while `npm start` ran (.tenpo/metrics.jsonl). Definitions: scripts/metrics-summary.ts.
 */
import { readFile } from "node:fs/promises";
import { relative } from "node:path";
import { DEFAULT_METRICS_FILE } from "./metrics-sink";
import { formatSummary, parseMetricsLines, summarize } from "./metrics-summary";

const DEFAULT_MINUTES = 15;

function usage(): string {
  return "usage: npm run metrics [-- --minutes N] [--file .tenpo/metrics.jsonl]";
}

function parseArgs(args: string[]): { minutes: number; file: string } {
  let minutes = DEFAULT_MINUTES;
  let file = process.env.METRICS_FILE ?? DEFAULT_METRICS_FILE;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [name, inline] = arg.split("=", 2) as [string, string | undefined];
    const value = () => inline ?? args[++i];
    if (name === "--minutes" || name === "-m") {
      minutes = Number(value());
      if (!Number.isFinite(minutes) || minutes <= 0) throw new Error(`--minutes needs a positive number\n${usage()}`);
    } else if (name === "--file") {
      const v = value();
      if (!v) throw new Error(`--file needs a path\n${usage()}`);
      file = v;
    } else if (name === "--help" || name === "-h") {
      console.log(usage());
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${arg}\n${usage()}`);
    }
  }
  return { minutes, file };
}

async function main(): Promise<void> {
  const { minutes, file } = parseArgs(process.argv.slice(2));
  const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
    return null;
  });
  if (text === null) {
    console.log(
      `No metrics yet: ${relative(process.cwd(), file) || file} does not exist. ` +
        "Run `npm start` (it starts the metrics sink) and send some requests.",
    );
    return;
  }
  const { samples, skipped } = parseMetricsLines(text);
  const since = Date.now() - minutes * 60_000;
  const recent = samples.filter((s) => s.timestamp >= since);
  console.log(formatSummary(summarize(recent), { minutes, skipped }));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
