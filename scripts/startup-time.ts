/**
 * `npm run startup [-- --runs 7] [-- --bundle FILE]`: what the Worker bundle costs to start, measured on
 * this machine (`--bundle`: an index.js built elsewhere, e.g. of another commit, instead of building).
 * Builds the production bundle as `npm run bundle:size` does, then starts it on bare `workerd serve`
 * `--runs` times, and scripts/hello-world.js as often, alternating, and times each from the spawn to
 * its first HTTP answer (any status: the bundle has no bindings there, and only its start is timed).
 * workerd compiles and runs a module's top level before it listens, so the difference of the medians
 * is what the bundle's size and global scope add to a cold start; Cloudflare measures the same thing
 * at upload ("startup time", limit 400 ms). Timing inside the isolate cannot: workerd's clock stands
 * still while JavaScript runs.
 */
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildProductionBundle } from "./bundle-size";
import { cliOption } from "./local-http";
import { freePort } from "./services";
import { compatibilityOf } from "./worker-runtime";
import { bareWorkerdConfig, workerdBinary } from "./workerd-serve";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const HOST = "127.0.0.1";
const TIMEOUT_MS = 30_000;

/** Milliseconds from spawning `workerd serve` on `scriptPath` to its first HTTP answer. */
async function timeStart(scriptPath: string): Promise<number> {
  const compat = await compatibilityOf(ROOT);
  const dir = mkdtempSync(join(tmpdir(), "tenpo-startup-"));
  copyFileSync(scriptPath, join(dir, "worker.js"));
  const port = await freePort();
  writeFileSync(join(dir, "config.capnp"), bareWorkerdConfig({ ...compat, moduleFile: "worker.js", host: HOST, port }));
  const started = performance.now();
  const child = spawn(workerdBinary(), ["serve", join(dir, "config.capnp")], { cwd: dir, stdio: "ignore" });
  try {
    while (performance.now() - started < TIMEOUT_MS) {
      if (child.exitCode !== null) throw new Error(`workerd exited (${child.exitCode}) on ${scriptPath}`);
      try {
        const res = await fetch(`http://${HOST}:${port}/health`, { signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        return performance.now() - started;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }
    throw new Error(`workerd did not answer within ${TIMEOUT_MS / 1000} s`);
  } finally {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(args: string[]): Promise<void> {
  const runs = Number(cliOption(args, "--runs") ?? 7);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new Error("--runs must be an integer in 1..50");
  const given = cliOption(args, "--bundle");
  if (!given) console.log("startup: building the production bundle…");
  const bundle = given ?? join(buildProductionBundle("production").dir, "index.js");
  const hello = join(ROOT, "scripts/hello-world.js");
  const app: number[] = [];
  const reference: number[] = [];
  for (let i = 0; i < runs; i++) {
    reference.push(await timeStart(hello));
    app.push(await timeStart(bundle));
    console.log(`startup: run ${i + 1}/${runs}: hello world ${reference.at(-1)!.toFixed(0)} ms, bundle ${app.at(-1)!.toFixed(0)} ms`);
  }
  const added = median(app) - median(reference);
  console.log(
    `startup: median to first answer: bundle ${median(app).toFixed(0)} ms, hello world ${median(reference).toFixed(0)} ms; ` +
      `the bundle adds ${added.toFixed(0)} ms (${runs} runs each, on bare workerd)`,
  );
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`startup: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
