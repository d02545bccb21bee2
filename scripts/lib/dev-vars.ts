import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * `.dev.vars`: the local secrets wrangler and `npm start` give the Worker, as KEY=VALUE lines (comments
 * and blank lines skipped, surrounding double quotes dropped). {} when the file is missing.
 */
export function readDevVars(root: string, file = ".dev.vars"): Record<string, string> {
  const path = join(root, file);
  if (!existsSync(path)) return {};
  const vars: Record<string, string> = {};
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || line.trimStart().startsWith("#")) continue;
    vars[match[1]!] = match[2]!.replace(/^"(.*)"$/, "$1");
  }
  return vars;
}
