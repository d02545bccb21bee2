/**
 * The dependency rule of src/: imports point down or sideways, never up.
 *   entry    index.ts, app.ts, router.ts, scheduled.ts, middleware/, routes/, queue/: may import anything;
 *   services services/: services/, db/ and the shared modules;
 *   db       db/: db/ and the shared modules;
 *   shared   cache/, observability/, lib/, schemas/, errors.ts, config.ts, app-env.ts (the Hono typing):
 *            each other and db/ only.
 * So routes → services → db, with cache/, observability/ and lib/ beside them for every layer.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, posix, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

type Layer = "entry" | "services" | "db" | "shared";

const SRC = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src");

/** What each layer may import from src/. */
const ALLOWED: Record<Layer, readonly Layer[]> = {
  entry: ["entry", "services", "db", "shared"],
  services: ["services", "db", "shared"],
  db: ["db", "shared"],
  shared: ["shared", "db"],
};

const ENTRY_FILES = new Set(["index.ts", "app.ts", "router.ts", "scheduled.ts"]);
const ENTRY_DIRS = new Set(["middleware", "routes", "queue"]);
const SHARED_FILES = new Set(["errors.ts", "config.ts", "app-env.ts"]);
const SHARED_DIRS = new Set(["cache", "observability", "lib", "schemas"]);

/** The layer of a file, by its path relative to src/ (posix separators); undefined for declarations outside the rule. */
function layerOf(path: string): Layer | undefined {
  const [top, ...rest] = path.split("/");
  if (rest.length === 0) {
    if (ENTRY_FILES.has(top!)) return "entry";
    if (SHARED_FILES.has(top!)) return "shared";
    return undefined;
  }
  if (ENTRY_DIRS.has(top!)) return "entry";
  if (top === "services") return "services";
  if (top === "db") return "db";
  if (SHARED_DIRS.has(top!)) return "shared";
  return undefined;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Every module specifier a file names: static imports and re-exports (types included), side-effect and dynamic imports. */
function importsOf(text: string): string[] {
  const specifiers: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) specifiers.push(match[1]!);
  return specifiers;
}

/** The src/-relative path (without extension) a relative specifier of `from` names, else undefined (a package). */
function resolve(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  return posix.normalize(posix.join(posix.dirname(from), specifier)).replace(/\.(ts|js)$/, "");
}

describe("the dependency rule of src/", () => {
  const files = sourceFiles(SRC).map((path) => relative(SRC, path).split(sep).join("/"));

  it("finds the files it checks", () => {
    expect(files).toContain("app.ts");
    expect(files.length).toBeGreaterThan(50);
    for (const file of files) expect(layerOf(file), `${file} has no layer`).toBeDefined();
  });

  it("has no import that points up a layer", () => {
    const offending: string[] = [];
    for (const file of files) {
      const layer = layerOf(file)!;
      for (const specifier of importsOf(readFileSync(join(SRC, file), "utf8"))) {
        const target = resolve(file, specifier);
        if (target === undefined) continue;
        const targetLayer = layerOf(`${target}.ts`) ?? layerOf(target);
        if (targetLayer !== undefined && !ALLOWED[layer].includes(targetLayer)) {
          offending.push(`${file} (${layer}) → ${specifier} (${targetLayer})`);
        }
      }
    }
    expect(offending).toEqual([]);
  });

  it("reads every kind of import", () => {
    const text = [
      'import { a } from "./a";',
      'import type { B } from "../b";',
      "import {\n  c,\n  d,\n} from './c';",
      'export { e } from "./e";',
      'import "./f";',
      'const g = await import("./g");',
    ].join("\n");
    expect(importsOf(text)).toEqual(["./a", "../b", "./c", "./e", "./f", "./g"]);
  });
});
