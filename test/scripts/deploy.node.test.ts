/**
 * Specification of `npm run deploy` (scripts/deploy.ts): it deploys staging or production, never the
 * development configuration at the top of wrangler.toml. Run in Node: it is a command, and what matters
 * is its exit code, its message and the wrangler command it runs (seen here through a dry run, which
 * builds the bundle and prints the bindings without uploading anything).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CHOOSE_AN_ENVIRONMENT, deployCommand } from "../../scripts/deploy";
import { OFFLINE_WRANGLER_ENV } from "../../scripts/services";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** `npm run deploy -- <args>` as a developer types it. */
function npmRunDeploy(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "--silent", "deploy", "--", ...args], {
      cwd: ROOT,
      env: { ...process.env, ...OFFLINE_WRANGLER_ENV },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("deployCommand", () => {
  it.each([[["--env", "staging"]], [["--env=production", "--dry-run"]], [["-e", "staging", "--minify"]]])(
    "passes %j on to wrangler deploy as given",
    (args) => {
      expect(deployCommand(args)).toEqual({ wranglerArgs: ["deploy", ...args] });
    },
  );

  it.each([
    [[]],
    [["--dry-run"]],
    [["--env"]],
    [["--env", ""]],
    [["--env="]],
    [["--env", "development"]],
    [["--env", "Production"]],
    [["--env", "staging", "--env", "production"]],
  ])("refuses %j: no environment, or not exactly one of staging and production", (args) => {
    expect(deployCommand(args)).toEqual({ refused: CHOOSE_AN_ENVIRONMENT });
  });
});

describe("npm run deploy", () => {
  it("refuses to run without an environment: exit 2, one line, and no wrangler", async () => {
    const { code, stdout, stderr } = await npmRunDeploy([]);
    expect(code).toBe(2);
    expect(stderr).toBe("choose an environment: npm run deploy -- --env staging|production\n");
    expect(stdout).toBe("");
  });

  it("refuses an environment that is not staging or production", async () => {
    const { code, stderr } = await npmRunDeploy(["--env", "development", "--dry-run"]);
    expect(code).toBe(2);
    expect(stderr).toContain(CHOOSE_AN_ENVIRONMENT);
  });

  it("runs wrangler deploy for the environment given, with the other options (--dry-run: built, not uploaded)", async () => {
    const outDir = await mkdtemp(join(tmpdir(), "tenpo-deploy-"));
    try {
      const { code, stdout, stderr } = await npmRunDeploy(["--env", "staging", "--dry-run", "--outdir", outDir]);
      expect(code, stderr).toBe(0);
      expect(stdout).toContain('env.ENVIRONMENT ("staging")');
      expect(stdout).toContain('env.CORS_ORIGINS ("https://staging.tenpo.example")');
      expect(stdout).toContain("--dry-run: exiting now.");
      expect(existsSync(join(outDir, "index.js"))).toBe(true);
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  });
});
