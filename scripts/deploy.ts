/**
 * `npm run deploy -- --env staging|production [wrangler deploy options]`: `wrangler deploy` for one of
 * the deployed environments, never for the top level of wrangler.toml. The top level is the development
 * configuration (ENVIRONMENT=development, CORS_ORIGINS=*, a plain-HTTP local NEON_HTTP_ENDPOINT), and a
 * bare `wrangler deploy` would publish exactly that; so without an environment this refuses (exit 2) and
 * runs nothing. Every other argument goes to wrangler as given (`--dry-run --outdir dist` builds only).
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { isMainModule } from "./local-http";

/** The environments of wrangler.toml that may be deployed. */
export const DEPLOY_ENVIRONMENTS = ["staging", "production"] as const;
export const CHOOSE_AN_ENVIRONMENT = "choose an environment: npm run deploy -- --env staging|production";

/** The arguments for wrangler, or why there are none. */
export type DeployCommand = { wranglerArgs: string[] } | { refused: string };

/**
 * `wrangler deploy` with the caller's arguments, when they name exactly one deployable environment
 * (`--env X`, `--env=X`, `-e X`); refused otherwise, with the one line to show.
 */
export function deployCommand(args: readonly string[]): DeployCommand {
  const environments: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--env" || arg === "-e") environments.push(args[++i] ?? "");
    else if (arg.startsWith("--env=")) environments.push(arg.slice("--env=".length));
  }
  const [environment] = environments;
  const deployable = (DEPLOY_ENVIRONMENTS as readonly string[]).includes(environment ?? "");
  if (environments.length !== 1 || !deployable) return { refused: CHOOSE_AN_ENVIRONMENT };
  return { wranglerArgs: ["deploy", ...args] };
}

async function main(args: string[]): Promise<void> {
  const command = deployCommand(args);
  if ("refused" in command) {
    console.error(command.refused);
    process.exit(2);
  }
  const root = fileURLToPath(new URL("..", import.meta.url));
  const child = spawn(`${root}node_modules/.bin/wrangler`, command.wranglerArgs, { cwd: root, stdio: "inherit" });
  child.once("error", (err) => {
    console.error(`deploy: could not run wrangler: ${err.message}`);
    process.exit(1);
  });
  child.once("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

if (isMainModule(import.meta.url)) void main(process.argv.slice(2));
