/**
 * `npm run bundle:size [-- --env staging]`: builds the bundle a deploy of that environment (default
 * production) uploads (`wrangler deploy --dry-run --outdir`), prints its size raw and gzip-compressed,
 * measured as wrangler measures it (every uploaded module together, source maps left out), and exits 1
 * when the gzip size is over BUDGET_GZIP_KIB. Startup time pays for every KiB, and the docs page's files
 * are static assets, not part of it.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { cliOption, isMainModule } from "./local-http";
import { OFFLINE_WRANGLER_ENV } from "./services";

/**
 * The most the Worker bundle may weigh, gzip-compressed. 250 KiB until carts and payments: the
 * official stripe SDK (v23) is 33 KiB of it gzip (240 KB minified: every resource class of the API
 * comes along, the SDK cannot be cut down), and carts, checkout and the webhook another 13 KiB, so
 * the bundle went from 246 to 292 KiB. What that costs is startup: `npm run startup` measured the
 * cold start at +13 ms over the bundle before them (176 vs 163 ms above the hello world's, medians of
 * 9 on this machine), because the SDK's module is only evaluated on first use (src/lib/stripe.ts).
 * The next lever is zod's 40 locales, 39 KiB gzip that no response uses (they come along because
 * @hono/zod-openapi extends zod's whole namespace); the budget leaves room for a few months' growth.
 */
export const BUDGET_GZIP_KIB = 300;

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT_DIR = join(ROOT, ".tenpo/bundle-size");

/** Raw and gzip size in bytes of the modules in a `wrangler deploy --outdir` folder. */
export function bundleSize(dir: string): { bytes: number; gzipBytes: number } {
  const modules = readdirSync(dir)
    .filter((name) => !name.endsWith(".map") && name !== "README.md")
    .map((name) => readFileSync(join(dir, name)));
  const all = Buffer.concat(modules);
  return { bytes: all.length, gzipBytes: gzipSync(all).length };
}

/** Builds what a deploy of `environment` uploads into .tenpo/bundle-size/ (exits 1 when wrangler fails). */
export function buildProductionBundle(environment: string): { dir: string } {
  rmSync(OUT_DIR, { recursive: true, force: true });
  const build = spawnSync(join(ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", `--env=${environment}`, "--outdir", OUT_DIR], {
    cwd: ROOT,
    env: { ...process.env, ...OFFLINE_WRANGLER_ENV },
    encoding: "utf8",
  });
  if (build.status !== 0) {
    console.error(`bundle: wrangler deploy --dry-run failed (${build.status}):\n${build.stdout}${build.stderr}`);
    process.exit(1);
  }
  return { dir: OUT_DIR };
}

function main(args: string[]): void {
  const environment = cliOption(args, "--env") ?? "production";
  buildProductionBundle(environment);
  const { bytes, gzipBytes } = bundleSize(OUT_DIR);
  const kib = (n: number) => (n / 1024).toFixed(0);
  console.log(`bundle: ${kib(bytes)} KiB (${kib(gzipBytes)} KiB gzip), budget ${BUDGET_GZIP_KIB} KiB gzip (--env ${environment})`);
  if (gzipBytes > BUDGET_GZIP_KIB * 1024) {
    console.error(`bundle: over budget by ${kib(gzipBytes - BUDGET_GZIP_KIB * 1024)} KiB gzip`);
    process.exit(1);
  }
}

if (isMainModule(import.meta.url)) main(process.argv.slice(2));
