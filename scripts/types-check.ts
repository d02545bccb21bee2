/**
 * `npm run types:check`: fails (exit 1) when worker-configuration.d.ts is not what `npm run types`
 * generates from wrangler.toml now, and leaves the file as it was.
 *
 * Why not `wrangler types --check` alone: in wrangler 4.86 the check regenerates the types without the
 * `--env-file` it was given, so it takes the secret names from a `.dev.vars` when there is one and drops
 * them when there is none (a fresh clone, CI), and then always reports the file stale. `npm run types`
 * reads the secret names from `.dev.vars.example` (committed, names every secret), so this runs exactly
 * that command and compares, whatever `.dev.vars` holds.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { OFFLINE_WRANGLER_ENV } from "./services";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TYPES_FILE = `${ROOT}worker-configuration.d.ts`;

const committed = readFileSync(TYPES_FILE, "utf8");
const run = spawnSync("npm", ["run", "--silent", "types"], {
  cwd: ROOT,
  env: { ...process.env, ...OFFLINE_WRANGLER_ENV },
  encoding: "utf8",
});
const generated = readFileSync(TYPES_FILE, "utf8");
writeFileSync(TYPES_FILE, committed);

if (run.status !== 0) {
  console.error(`types: \`npm run types\` failed (${run.status}):\n${run.stdout}${run.stderr}`);
  process.exit(1);
}
if (generated !== committed) {
  console.error("types: worker-configuration.d.ts is out of date with wrangler.toml: run `npm run types` and commit it");
  process.exit(1);
}
console.log(`types: worker-configuration.d.ts is up to date (${committed.split("\n").length} lines)`);
