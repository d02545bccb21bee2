/**
 * Specification of `npm run load`'s flags (load/locust-user.ts): the Locust user as before, the
 * storefront user with --storefront, and where the storefront finds Stripe (load/storefront.ts).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { parseLoadArgs } from "../../load/locust-user";
import { DEFAULT_STRIPE_API_BASE, DEFAULT_STRIPE_SECRET_KEY, stripeEndpoint } from "../../load/storefront";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const STRIPE_ENV = { STRIPE_API_BASE: "http://127.0.0.1:12999", STRIPE_SECRET_KEY: "sk_test_from_env" };

describe("parseLoadArgs", () => {
  it("runs the Locust user by default, with the original's defaults", () => {
    expect(parseLoadArgs([], STRIPE_ENV)).toMatchObject({
      scenario: "locust-user",
      target: "http://127.0.0.1:8787",
      users: 100,
      spawnRate: 100,
      durationS: 30,
      wait: true,
      accounts: "spread",
    });
    expect(parseLoadArgs(["--no-wait", "--chapter-user"], STRIPE_ENV)).toMatchObject({ wait: false, accounts: "chapter" });
  });

  it("runs the storefront user with --storefront, with the same users, duration and target flags", () => {
    const args = parseLoadArgs(
      ["--storefront", "--users", "5", "--duration", "10", "--target", "http://127.0.0.1:9999/", "--out", "/tmp/x"],
      STRIPE_ENV,
    );
    expect(args).toEqual({
      scenario: "storefront",
      target: "http://127.0.0.1:9999",
      users: 5,
      spawnRate: 100,
      durationS: 10,
      out: "/tmp/x",
      stripe: { apiBase: "http://127.0.0.1:12999", secretKey: "sk_test_from_env" },
    });
  });

  it("refuses the Locust-only flags with --storefront, naming why", () => {
    expect(() => parseLoadArgs(["--storefront", "--no-wait"], STRIPE_ENV)).toThrow("--no-wait does not apply to --storefront");
    expect(() => parseLoadArgs(["--storefront", "--chapter-user"], STRIPE_ENV)).toThrow("--chapter-user does not apply to --storefront");
  });

  it("refuses more storefront users than there are demo accounts (one open cart each)", () => {
    expect(parseLoadArgs(["--storefront", "--users", "1000"], STRIPE_ENV)).toMatchObject({ users: 1000 });
    expect(() => parseLoadArgs(["--storefront", "--users", "1001"], STRIPE_ENV)).toThrow("--storefront takes at most 1000 users");
    // The Locust user may share accounts.
    expect(parseLoadArgs(["--users", "1001"], STRIPE_ENV)).toMatchObject({ users: 1001 });
  });

  it("refuses a STRIPE_API_BASE that is not an http(s) URL", () => {
    expect(() => parseLoadArgs(["--storefront"], { ...STRIPE_ENV, STRIPE_API_BASE: "not a url" })).toThrow("STRIPE_API_BASE must be a URL");
    expect(() => parseLoadArgs(["--storefront"], { ...STRIPE_ENV, STRIPE_API_BASE: "ftp://127.0.0.1" })).toThrow(
      "STRIPE_API_BASE must be http:// or https://",
    );
  });

  it("refuses bad numbers, targets and unknown flags", () => {
    expect(() => parseLoadArgs(["--storefront", "--users", "0"], STRIPE_ENV)).toThrow("--users must be a number in (0, 20000]");
    expect(() => parseLoadArgs(["--storefront", "--duration", "x"], STRIPE_ENV)).toThrow("--duration must be a number");
    expect(() => parseLoadArgs(["--storefront", "--target", "file:///etc"], STRIPE_ENV)).toThrow("--target must be http:// or https://");
    expect(() => parseLoadArgs(["--storefront", "--stripe", "x"], STRIPE_ENV)).toThrow(/Unknown option '--stripe'/);
  });
});

describe("stripeEndpoint", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });
  const withDevVars = (text: string): string => {
    dir = mkdtempSync(join(tmpdir(), "tenpo-load-"));
    writeFileSync(join(dir, ".dev.vars"), text);
    return dir;
  };

  it("takes the environment first, then .dev.vars, then the local stand-in's defaults", () => {
    const root = withDevVars("STRIPE_API_BASE=http://127.0.0.1:12555/\nSTRIPE_SECRET_KEY=sk_test_from_file\n");
    expect(stripeEndpoint(STRIPE_ENV, root)).toEqual({ apiBase: "http://127.0.0.1:12999", secretKey: "sk_test_from_env" });
    expect(stripeEndpoint({}, root)).toEqual({ apiBase: "http://127.0.0.1:12555", secretKey: "sk_test_from_file" });
    expect(stripeEndpoint({ STRIPE_API_BASE: "" }, withDevVars("# nothing set\n"))).toEqual({
      apiBase: DEFAULT_STRIPE_API_BASE,
      secretKey: DEFAULT_STRIPE_SECRET_KEY,
    });
  });

  it("uses the defaults the local stand-in documents when there is no .dev.vars", () => {
    dir = mkdtempSync(join(tmpdir(), "tenpo-load-"));
    expect(stripeEndpoint({}, dir)).toEqual({ apiBase: "http://127.0.0.1:12111", secretKey: "sk_test_tenpo_local" });
  });
});

describe("npm run load (the command)", () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", "load/locust-user.ts", ...args], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });

  it("--help documents --storefront and exits 0", () => {
    const res = run("--help");
    expect(res.status).toBe(0);
    expect(res.stdout).toContain("npm run load -- --storefront");
    expect(res.stdout).toContain("STRIPE_API_BASE");
  });

  it("exits 2 with the reason on a flag that does not apply", () => {
    const res = run("--storefront", "--no-wait");
    expect(res.status).toBe(2);
    expect(res.stderr).toContain("[load] --no-wait does not apply to --storefront");
  });
});
