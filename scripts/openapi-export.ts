/**
 * `npm run openapi`: writes the OpenAPI document the Worker serves (`GET /openapi.json`) to
 * `.tenpo/openapi.json` (git-ignored), for tools that want it as a file (`npm run lint:openapi` runs
 * Redocly over it). The document is taken from the production bundle on workerd, exactly as deployed,
 * and needs no database, Redis or any other service: `/openapi.json` is built from the route
 * definitions alone. Usage: `npm run openapi [-- <output file>]`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Miniflare, type WorkerOptions } from "miniflare";
import { buildBundle } from "./worker-runtime";

/** Where the document is written unless an output file is given. */
export const OPENAPI_FILE = ".tenpo/openapi.json";
/** Its own build folder, so an export never replaces the bundle a running `npm start` serves. */
const BUNDLE_DIR = ".tenpo/openapi-build";
/** A connection string nothing listens on: the document is served without a database. */
const UNUSED_DATABASE_URL = "postgres://openapi-export@127.0.0.1:9/none";

/** The document as the built Worker serves it, pretty-printed. */
export async function exportOpenApi(root: string): Promise<string> {
  const bundleDir = resolve(root, BUNDLE_DIR);
  await buildBundle(root, bundleDir);
  const { unstable_getMiniflareWorkerOptions } = await import("wrangler");
  const { modulesRules, ...workerOptions } = unstable_getMiniflareWorkerOptions(resolve(root, "wrangler.toml")).workerOptions;
  const mf = new Miniflare({
    workers: [
      {
        ...workerOptions,
        name: "tenpo-openapi",
        modules: true,
        modulesRoot: bundleDir,
        scriptPath: `${bundleDir}/index.js`,
        modulesRules,
        // The app makes its database client on every request; /openapi.json never sends it a query.
        bindings: { ...workerOptions.bindings, DATABASE_URL: UNUSED_DATABASE_URL, LOG_REQUESTS: "false" },
      } as WorkerOptions,
    ],
  });
  try {
    // A loopback host: the settings guard (src/middleware/config-guard.ts) serves it with development settings.
    const res = await mf.dispatchFetch("http://127.0.0.1/openapi.json");
    const text = await res.text();
    if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}: ${text.slice(0, 500)}`);
    return `${JSON.stringify(JSON.parse(text), null, 2)}\n`;
  } finally {
    await mf.dispose();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = resolve(import.meta.dirname, "..");
  const output = resolve(root, process.argv[2] ?? OPENAPI_FILE);
  const document = await exportOpenApi(root);
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, document);
  console.log(`wrote ${output}`);
}
