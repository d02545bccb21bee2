/**
 * `npm run latency-model`: what a shopper in each city waits, from what the bench measured
 * (load/README.md, "What the edge buys a shopper far away").
 *
 *   npm run latency-model                        newest bench run and newest peer probe in load/results
 *   npm run latency-model -- --bench FILE --peer FILE [--last-mile MS]
 *   npm run latency-model -- --check FILE ...    also: the model against `npm run bench -- --rtt …` runs
 *   npm run latency-model -- --measure-peer URL [--requests N]
 *                                                probe a running FastAPI original (one request at a time)
 *                                                and write load/results/peer-probe-<timestamp>.json
 *
 * Writes load/results/latency-model-<timestamp>.{md,svg,json} and prints the Markdown.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileStamp } from "../report";
import { percentilesOf, probePairs, runAgreements, upperMedian, type Agreement, type LatencySample, type ProbedRun } from "./model";
import { perCity, type SamplesByProbe } from "./per-city";
import { probePeer, type PeerProbeRun } from "./peer-probe";
import { modelChartSvg, modelMarkdown, type ModelInputs } from "./report";
import { CITIES, LAST_MILE_MS } from "./rtt-table";

const RESULTS = join(import.meta.dirname, "../results");
const log = (line: string): void => console.log(`[latency-model] ${line}`);

/** A bench run as far as the model reads it. */
type BenchRun = ProbedRun & { started_at: string; machine?: { git?: string } };

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, "utf8")) as T;
}

/** The newest file in load/results named `<prefix>…json` that `accept` takes, or undefined. */
function newest<T>(prefix: string, accept: (value: T) => boolean): string | undefined {
  let names: string[];
  try {
    names = readdirSync(RESULTS);
  } catch {
    return undefined;
  }
  for (const name of names
    .filter((n) => n.startsWith(prefix) && n.endsWith(".json"))
    .sort()
    .reverse()) {
    const file = join(RESULTS, name);
    try {
      if (accept(readJson<T>(file))) return file;
    } catch {
      // Not a run of that kind (or half written): look further back.
    }
  }
  return undefined;
}

/** The samples the model charges: a run's probes with no round trip charged, by probe key. */
function tenpoSamples(run: BenchRun): SamplesByProbe {
  return Object.fromEntries(probePairs(run).map((pair) => [pair.key, pair.probe.latency.samples]));
}

function peerSamples(run: PeerProbeRun | null): SamplesByProbe {
  return Object.fromEntries((run?.probes ?? []).map((p) => [p.key, p.samples]));
}

/** The p50 of some samples' own time, or null for none. */
const p50 = (samples: readonly LatencySample[] | undefined): number | null =>
  samples?.length ? percentilesOf(samples.map((s) => s.ms)).p50_ms : null;

/** The probes whose own time and round trips the report lists. */
const INPUT_PROBES = ["health", "detail", "list", "order-create", "orders-list", "mix"];

/** The model against a --rtt run: every endpoint probed both ways. */
function check(file: string): { title: string; rows: Agreement[] } {
  const run = readJson<BenchRun>(file);
  const rt = run.round_trips;
  if (!rt) throw new Error(`${file} is a run without --rtt: nothing to check against`);
  const rows = runAgreements(run);
  return { title: `${file.replace(/^.*\//, "")}: client ${rt.client} ms, db ${rt.db} ms, redis ${rt.redis} ms`, rows };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      bench: { type: "string" },
      peer: { type: "string" },
      check: { type: "string", multiple: true, default: [] },
      "last-mile": { type: "string" },
      "measure-peer": { type: "string" },
      requests: { type: "string" },
    },
    strict: true,
  });
  mkdirSync(RESULTS, { recursive: true });
  const stamp = fileStamp();

  if (values["measure-peer"]) {
    const count = Number(values.requests ?? 40);
    if (!Number.isInteger(count) || count < 5 || count > 1000) throw new Error("--requests must be an integer in 5..1000");
    const run = await probePeer(values["measure-peer"].replace(/\/$/, ""), count, log);
    const file = join(RESULTS, `peer-probe-${stamp}.json`);
    writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
    log(`wrote ${file}`);
    return;
  }

  const lastMile = values["last-mile"] === undefined ? LAST_MILE_MS : Number(values["last-mile"]);
  if (!Number.isFinite(lastMile) || lastMile < 0 || lastMile > 500) throw new Error("--last-mile must be 0..500 ms");
  const benchFile = values.bench ?? newest<BenchRun>("bench-", (r) => probePairs(r).some((p) => p.probe.latency?.samples.length > 0));
  if (!benchFile) throw new Error("no bench run with latency probes in load/results: run `npm run bench` first, or give --bench FILE");
  const peerFile = values.peer ?? newest<PeerProbeRun>("peer-probe-", (r) => Array.isArray(r.probes));
  if (!peerFile) log("no peer probe in load/results (`--measure-peer URL`): the original's columns stay empty");
  const bench = readJson<BenchRun>(benchFile);
  const peer = peerFile ? readJson<PeerProbeRun>(peerFile) : null;
  const tenpo = tenpoSamples(bench);
  const original = peerSamples(peer);
  const rows = perCity(tenpo, original, CITIES, lastMile);
  const checks = values.check.map(check);

  const meta: ModelInputs = {
    tenpoRun: benchFile.replace(/^.*\//, ""),
    tenpoCommit: bench.machine?.git ?? "?",
    peerRun: peerFile ? peerFile.replace(/^.*\//, "") : null,
    lastMileMs: lastMile,
    inputs: INPUT_PROBES.map((probe) => {
      const samples = tenpo[probe];
      return {
        probe,
        tenpo: samples?.length
          ? {
              p50: p50(samples)!,
              db: upperMedian(samples.map((s) => s.db)) ?? 0,
              redis: upperMedian(samples.map((s) => s.redis)) ?? 0,
              requests: samples.length,
            }
          : null,
        peerP50: p50(original[probe]),
      };
    }),
  };
  const md = modelMarkdown(rows, meta, checks);
  const base = join(RESULTS, `latency-model-${stamp}`);
  writeFileSync(`${base}.md`, md);
  writeFileSync(
    `${base}.svg`,
    modelChartSvg(
      rows,
      `last mile ${lastMile} ms · Tenpo ${meta.tenpoRun} · original ${meta.peerRun ?? "not measured"} · warm connections`,
    ),
  );
  writeFileSync(`${base}.json`, `${JSON.stringify({ meta, rows, checks }, null, 2)}\n`);
  console.log(md);
  log(`wrote ${base}.md, ${base}.svg, ${base}.json`);
  const disagreeing = checks.flatMap((c) => c.rows.filter((r) => !r.agrees).map((r) => `${c.title}: ${r.endpoint}`));
  if (disagreeing.length) log(`the model is off by more than 15 % (p50) for: ${disagreeing.join("; ")}`);
}

main().catch((err: unknown) => {
  console.error(`[latency-model] failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
