/**
 * Writes the static assets of `GET /docs` (wrangler.toml `[assets]`): the two Swagger UI files the page
 * loads, copied from the installed swagger-ui-dist package, so that the repo holds no vendored copy and
 * the Worker bundle holds no Swagger UI (~490 KiB gzip). The folder is git-ignored and brought in line
 * with the package in node_modules at every run: each file is replaced by a rename (a Worker serving the
 * folder meanwhile reads the old file or the new one, never half of one) and anything else is removed.
 *
 * It runs before every wrangler build (wrangler.toml `[build] command`: deploy, its dry run, dev, and so
 * npm start and the bench), and from vitest.config.ts before the tests read wrangler.toml.
 *
 *   node --import tsx scripts/docs-assets.ts      (what `[build] command` runs)
 */
import { copyFileSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The assets folder, relative to the project root; wrangler.toml's `[assets] directory` names the same. */
export const DOCS_ASSETS_DIR = ".tenpo/assets";

/** The files of swagger-ui-dist that /docs loads, served under /docs/ with the same names. */
export const SWAGGER_UI_FILES = ["swagger-ui-bundle.js", "swagger-ui.css"] as const;

/** Writes `<root>/.tenpo/assets/docs/` from swagger-ui-dist; returns the assets folder. */
export function writeDocsAssets(root: string): string {
  const packageDir = dirname(createRequire(join(root, "package.json")).resolve("swagger-ui-dist/package.json"));
  const assetsDir = join(root, DOCS_ASSETS_DIR);
  const docsDir = join(assetsDir, "docs");
  mkdirSync(docsDir, { recursive: true });
  for (const entry of readdirSync(assetsDir)) if (entry !== "docs") rmSync(join(assetsDir, entry), { recursive: true, force: true });
  for (const entry of readdirSync(docsDir)) {
    const keep = (SWAGGER_UI_FILES as readonly string[]).includes(entry) || entry.endsWith(".partial"); // another run's file in flight
    if (!keep) rmSync(join(docsDir, entry), { recursive: true, force: true });
  }
  for (const file of SWAGGER_UI_FILES) {
    const partial = join(docsDir, `.${file}.${process.pid}.partial`);
    copyFileSync(join(packageDir, file), partial);
    renameSync(partial, join(docsDir, file));
  }
  return assetsDir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeDocsAssets(fileURLToPath(new URL("..", import.meta.url)));
}
